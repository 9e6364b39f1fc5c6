"""Layer and instance normalization (variables ``beta`` and ``gamma``)."""
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.models._helpers import attach_variables, static_shape
from tensorpack.models.common import layer_register
from tensorpack.models.tflayer import convert_to_tflayer_args
from tensorpack.utils import logger
from tensorpack.utils.argtools import get_data_format

__all__ = ["LayerNorm", "InstanceNorm"]


def _affine(ch, param_shape, center, scale, gamma_initializer, dtype):
    """``beta`` and ``gamma`` reshaped for broadcasting (constants when disabled)."""
    if center:
        beta = tf.reshape(tfv1.get_variable("beta", [ch], initializer=tfv1.zeros_initializer()),
                          param_shape)
    else:
        beta = tf.zeros([1] * len(param_shape), dtype=dtype, name="beta")
    if scale:
        gamma = tf.reshape(tfv1.get_variable("gamma", [ch], initializer=gamma_initializer),
                           param_shape)
    else:
        gamma = tf.ones([1] * len(param_shape), dtype=dtype, name="gamma")
    return beta, gamma


def _finish(x, mean, var, beta, gamma, epsilon, center, scale):
    ret = tf.identity(tf.nn.batch_normalization(x, mean, var, beta, gamma, epsilon),
                      name="output")
    return attach_variables(ret, gamma=gamma if scale else None, beta=beta if center else None)


@layer_register()
@convert_to_tflayer_args(args_names=[], name_mapping={
    "use_bias": "center", "use_scale": "scale", "gamma_init": "gamma_initializer"})
def LayerNorm(x, epsilon=1e-5, *, center=True, scale=True,
              gamma_initializer=tfv1.ones_initializer(), data_format="channels_last"):
    """Layer normalization (Ba et al. 2016): each sample normalized over all its axes,
    then a per-channel affine transform.

    Args:
        x (tf.Tensor): 2D, or 4D in ``data_format``.
        epsilon (float): added to the variance.
        center, scale (bool): learn ``beta`` / ``gamma``.

    Returns:
        tf.Tensor: named ``output``.
    """
    fmt = get_data_format(data_format, keras_mode=False)
    shape = static_shape(x, "LayerNorm")
    ndims = len(shape)
    if ndims not in (2, 4):
        raise ValueError("LayerNorm needs a 2D or 4D input, got shape {}.".format(shape))
    mean, var = tf.nn.moments(x, list(range(1, ndims)), keepdims=True)
    if ndims == 2:
        ch, param_shape = shape[1], [1, shape[1]]
    elif fmt == "NCHW":
        ch, param_shape = shape[1], [1, shape[1], 1, 1]
    else:
        ch, param_shape = shape[3], [1, 1, 1, shape[3]]
    beta, gamma = _affine(ch, param_shape, center, scale, gamma_initializer, x.dtype)
    return _finish(x, mean, var, beta, gamma, epsilon, center, scale)


@layer_register()
@convert_to_tflayer_args(args_names=[], name_mapping={"gamma_init": "gamma_initializer"})
def InstanceNorm(x, epsilon=1e-5, *, center=True, scale=True,
                 gamma_initializer=tfv1.ones_initializer(), data_format="channels_last",
                 use_affine=None):
    """Instance normalization (Ulyanov et al. 2016): each channel of each sample
    normalized over its spatial axes.

    Args:
        x (tf.Tensor): 4D, in ``data_format``.
        epsilon (float): added to the variance.
        center, scale (bool): learn ``beta`` / ``gamma``.
        use_affine (bool): deprecated; sets both ``center`` and ``scale``.

    Returns:
        tf.Tensor: named ``output``.
    """
    fmt = get_data_format(data_format, keras_mode=False)
    shape = static_shape(x, "InstanceNorm")
    if len(shape) != 4:
        raise ValueError("InstanceNorm needs a 4D input, got shape {}.".format(shape))
    if use_affine is not None:
        logger.warn("InstanceNorm(use_affine=) is deprecated; use center= and scale=.")
        center = scale = use_affine
    if fmt == "NHWC":
        axes, ch, param_shape = [1, 2], shape[3], [1, 1, 1, shape[3]]
    else:
        axes, ch, param_shape = [2, 3], shape[1], [1, shape[1], 1, 1]
    if ch is None:
        raise ValueError("InstanceNorm needs a known number of channels, got shape "
                         "{}.".format(shape))
    mean, var = tf.nn.moments(x, axes, keepdims=True)
    beta, gamma = _affine(ch, param_shape, center, scale, gamma_initializer, x.dtype)
    return _finish(x, mean, var, beta, gamma, epsilon, center, scale)
