"""Non-linearities: Maxout, PReLU (variable ``alpha``), BNReLU."""
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.models.batch_norm import BatchNorm
from tensorpack.models._helpers import static_shape
from tensorpack.models.common import VariableHolder, layer_register
from tensorpack.utils import logger

__all__ = ["Maxout", "PReLU", "BNReLU"]


@layer_register(use_scope=None)
def Maxout(x, num_unit):
    """Maxout (Goodfellow et al. 2013): the maximum over groups of ``num_unit`` channels.

    Args:
        x (tf.Tensor): NHWC or NC, with a known channel size divisible by ``num_unit``.
        num_unit (int): channels per group.

    Returns:
        tf.Tensor: channels divided by ``num_unit``, named ``output``.
    """
    shape = static_shape(x, "Maxout")
    if len(shape) not in (2, 4):
        raise ValueError("Maxout needs a 2D or 4D input, got shape {}.".format(shape))
    ch = shape[-1]
    if ch is None or ch % num_unit:
        raise ValueError("Maxout: the channel size ({}) must be known and divisible by "
                         "num_unit={}.".format(ch, num_unit))
    groups = ch // num_unit
    if len(shape) == 4:
        x = tf.reshape(x, [-1, shape[1], shape[2], groups, num_unit])
    else:
        x = tf.reshape(x, [-1, groups, num_unit])
    return tf.reduce_max(x, len(shape), name="output")


@layer_register()
def PReLU(x, init=0.001, name=None):
    """Parametric ReLU (He et al. 2015): ``max(x, 0) + alpha * min(x, 0)`` with a learned
    scalar ``alpha``.

    Args:
        x (tf.Tensor): any tensor.
        init (float): initial ``alpha``.
        name: deprecated, ignored (the output is named ``output``).

    Returns:
        tf.Tensor: named ``output``, with ``.variables.alpha``.
    """
    if name is not None:
        logger.warn("PReLU(name=...) is deprecated: the output is named 'output'.")
    alpha = tfv1.get_variable("alpha", [], initializer=tfv1.constant_initializer(init))
    y = ((1 + alpha) * x + (1 - alpha) * tf.abs(x))
    ret = tf.multiply(y, 0.5, name="output")
    ret.variables = VariableHolder(alpha=alpha)
    return ret


@layer_register(use_scope=None)
def BNReLU(x, name=None):
    """BatchNorm (variables under ``bn/``) followed by ReLU. Usable as an activation
    (``Conv2D(..., activation=BNReLU)`` gives ``<conv>/bn/*``) or as a named layer.

    Args:
        x (tf.Tensor): the input.
        name: deprecated: the output's name.

    Returns:
        tf.Tensor
    """
    if name is not None:
        logger.warn("BNReLU(name=...) is deprecated.")
    x = BatchNorm("bn", x)
    return tf.nn.relu(x, name=name)
