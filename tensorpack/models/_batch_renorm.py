"""Batch renormalization (imported into :mod:`tensorpack.models.batch_norm`).

Variables follow TF 1.x ``tf.layers.BatchNormalization(renorm=True)``, which upstream
wrapped: ``beta``, ``gamma``, ``moving_mean``, ``moving_variance``, ``renorm_mean``,
``renorm_mean_weight``, ``renorm_stddev``, ``renorm_stddev_weight``.
"""
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.models._helpers import attach_variables, static_shape
from tensorpack.models.common import layer_register
from tensorpack.models.tflayer import convert_to_tflayer_args
from tensorpack.tfutils.tower import get_current_tower_context
from tensorpack.utils.argtools import get_data_format

__all__ = ["BatchRenorm"]

_RENORM_MOMENTUM = 0.99


def _moving_average(var, value, momentum):
    return tfv1.assign_sub(var, (var - value) * (1.0 - momentum))


def _renorm_average(var, weight, value):
    """Update a zero-initialized average and its weight; return the debiased average."""
    new_var = _moving_average(var, value, _RENORM_MOMENTUM)
    new_weight = _moving_average(weight, tf.ones_like(weight), _RENORM_MOMENTUM)
    return new_var / new_weight


@layer_register()
@convert_to_tflayer_args(args_names=["rmax", "dmax"], name_mapping={
    "use_bias": "center", "use_scale": "scale", "gamma_init": "gamma_initializer",
    "decay": "momentum"})
def BatchRenorm(x, rmax, dmax, *, momentum=0.9, epsilon=1e-5, center=True, scale=True,
                gamma_initializer=None, data_format="channels_last"):
    """Batch Renormalization (Ioffe 2017) of a 2D (NC) or 4D tensor.

    While training (tower context), the batch-normalized values are corrected by
    ``r = clip(batch_std / renorm_std, 1/rmax, rmax)`` and
    ``d = clip((batch_mean - renorm_mean) / renorm_std, -dmax, dmax)``; the moving
    averages are updated through ``tf.GraphKeys.UPDATE_OPS`` (first training tower only).
    At inference the moving averages normalize.

    Args:
        x (tf.Tensor): NHWC / NCHW or NC.
        rmax, dmax: scalars (or scalar tensors): the largest corrections allowed.
        momentum (float): decay of ``moving_mean`` / ``moving_variance``.

    Returns:
        tf.Tensor: named ``output``, with ``.variables`` (``beta``, ``gamma``).
    """
    shape = static_shape(x, "BatchRenorm")
    ndims = len(shape)
    if ndims not in (2, 4):
        raise ValueError("BatchRenorm needs a 2D or 4D input, got shape {}.".format(shape))
    fmt = "NCHW" if ndims == 2 else get_data_format(data_format, keras_mode=False)
    axis = 1 if fmt == "NCHW" else 3
    n = shape[axis]
    if n is None:
        raise ValueError("BatchRenorm: unknown number of channels in shape {}.".format(shape))
    ctx = get_current_tower_context()
    training = bool(ctx is not None and ctx.is_training)

    def var(name, init, trainable=False, shape=(n,)):
        return tfv1.get_variable(name, list(shape), initializer=init, trainable=trainable)

    zeros, ones = tfv1.zeros_initializer(), tfv1.ones_initializer()
    beta = var("beta", zeros, True) if center else tf.zeros([n])
    gamma = var("gamma", gamma_initializer or ones, True) if scale else tf.ones([n])
    moving_mean, moving_var = var("moving_mean", zeros), var("moving_variance", ones)
    renorm_mean, renorm_mean_w = var("renorm_mean", zeros), var("renorm_mean_weight", zeros, shape=())
    renorm_std, renorm_std_w = var("renorm_stddev", zeros), var("renorm_stddev_weight", zeros, shape=())
    if ctx is None or ctx.is_main_training_tower:
        for v in (moving_mean, moving_var, renorm_mean, renorm_mean_w, renorm_std, renorm_std_w):
            tfv1.add_to_collection(tfv1.GraphKeys.MODEL_VARIABLES, v)

    bshape = [1] * ndims
    bshape[axis] = n

    def b(t):
        return tf.reshape(t, bshape)

    if not training:
        xn = tf.nn.batch_normalization(x, b(moving_mean), b(moving_var), b(beta), b(gamma),
                                       epsilon)
        ret = tf.identity(xn, name="output")
    else:
        red_axis = [i for i in range(ndims) if i != axis]
        mean, variance = tf.nn.moments(x, red_axis)
        std = tf.sqrt(variance + epsilon)
        # the averages as if they had been initialized with this batch's moments
        mixed_mean = renorm_mean + (1.0 - renorm_mean_w) * mean
        mixed_std = renorm_std + (1.0 - renorm_std_w) * std
        r = tf.clip_by_value(std / mixed_std, 1.0 / rmax, rmax)
        d = tf.clip_by_value((mean - mixed_mean) / mixed_std, -dmax, dmax)
        r = tf.stop_gradient(r, name="renorm_r")
        d = tf.stop_gradient(d, name="renorm_d")
        xn = tf.nn.batch_normalization(x, b(mean), b(variance), b(beta + d * gamma),
                                       b(r * gamma), epsilon)
        ret = tf.identity(xn, name="output")
        if ctx is None or ctx.is_main_training_tower:
            # the corrections above must read the averages before these updates
            with tf.control_dependencies([r, d]):
                new_mean = _renorm_average(renorm_mean, renorm_mean_w, mean)
                new_std = _renorm_average(renorm_std, renorm_std_w, std)
            for op in (_moving_average(moving_mean, new_mean, momentum),
                       _moving_average(moving_var, tf.square(new_std) - epsilon, momentum)):
                tfv1.add_to_collection(tfv1.GraphKeys.UPDATE_OPS, op)
    return attach_variables(ret, gamma=gamma if scale else None, beta=beta if center else None)
