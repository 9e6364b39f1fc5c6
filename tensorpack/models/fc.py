"""The fully-connected layer (variables ``W`` and ``b``)."""
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.models._helpers import (attach_variables, batch_flatten, finish_output,
                                        kernel_and_bias, static_shape)
from tensorpack.models.common import layer_register
from tensorpack.models.tflayer import convert_to_tflayer_args

__all__ = ["FullyConnected"]


@layer_register(log_shape=True)
@convert_to_tflayer_args(args_names=["units"], name_mapping={"out_dim": "units"})
def FullyConnected(inputs, units, activation=None, use_bias=True, kernel_initializer=None,
                   bias_initializer=tfv1.zeros_initializer(), kernel_regularizer=None,
                   bias_regularizer=None, activity_regularizer=None):
    """A dense layer. Inputs of rank > 2 are flattened beyond the first axis.

    Like ``tf.layers.Dense`` but the default kernel initializer is
    ``variance_scaling_initializer(2.0)``. Also takes upstream's old names ``out_dim``,
    ``nl``, ``W_init``, ``b_init``.

    Variables:
        ``W``: shape (in_dim, units); ``b``: shape (units,), when ``use_bias``.

    Returns:
        tf.Tensor: named ``output``, with ``.variables`` (``W``, ``b``).
    """
    static_shape(inputs, "FullyConnected")
    x = batch_flatten(inputs) if inputs.shape.rank != 2 else inputs
    in_dim = x.shape.as_list()[1]
    if in_dim is None:
        raise ValueError("FullyConnected: the input needs known sizes beyond the batch axis, "
                         "got shape {}.".format(inputs.shape))
    units = int(units)
    W, b = kernel_and_bias([in_dim, units], units, x.dtype, use_bias, kernel_initializer,
                           bias_initializer, kernel_regularizer, bias_regularizer)
    out = tf.matmul(x, W)
    if b is not None:
        out = tf.nn.bias_add(out, b)
    return attach_variables(finish_output(out, activation, activity_regularizer), W=W, b=b)
