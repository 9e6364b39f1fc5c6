"""A small set of upstream-compatible layers: same call style and variable names."""
import numpy as np
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.models.registry import layer_register
from tensorpack.tfutils.tower import get_current_tower_context

__all__ = ["FullyConnected", "Conv2D", "MaxPooling", "AvgPooling", "GlobalAvgPooling",
           "BatchNorm", "BNReLU", "Dropout"]


def _default_kernel_init():
    # upstream's default: He initialization with a plain (untruncated) normal
    return tfv1.variance_scaling_initializer(2.0, distribution="untruncated_normal")


def _output(x, activation, name="output"):
    if activation is not None:
        x = activation(x)
    return tf.identity(x, name=name)


@layer_register(log_shape=True)
def FullyConnected(inputs, units, activation=None, use_bias=True, kernel_initializer=None,
                   bias_initializer=tfv1.zeros_initializer(), kernel_regularizer=None,
                   bias_regularizer=None):
    """A dense layer; inputs are flattened beyond the batch axis.

    Variables: ``W`` of shape (in, units), ``b`` of shape (units,).

    Returns:
        tf.Tensor: ``activation(x @ W + b)``, named ``output``.
    """
    x = tf.convert_to_tensor(inputs)
    if x.shape.rank is None:
        raise ValueError("FullyConnected needs inputs of known rank, got {}.".format(x))
    if x.shape.rank != 2:
        dim = int(np.prod(x.shape.as_list()[1:]))
        x = tf.reshape(x, [-1, dim])
    in_dim = x.shape.as_list()[1]
    if in_dim is None:
        raise ValueError("FullyConnected needs a known input dimension, got shape {}.".format(
            x.shape))
    W = tfv1.get_variable("W", [in_dim, int(units)], dtype=x.dtype,
                          initializer=kernel_initializer or _default_kernel_init(),
                          regularizer=kernel_regularizer)
    out = tf.matmul(x, W)
    if use_bias:
        b = tfv1.get_variable("b", [int(units)], dtype=x.dtype, initializer=bias_initializer,
                              regularizer=bias_regularizer)
        out = tf.nn.bias_add(out, b)
    return _output(out, activation)


def _pair(v):
    return (int(v), int(v)) if np.isscalar(v) else tuple(int(x) for x in v)


def _nhwc(data_format):
    if data_format in ("channels_last", "NHWC"):
        return True
    if data_format in ("channels_first", "NCHW"):
        return False
    raise ValueError("data_format must be 'channels_last'/'NHWC' or 'channels_first'/'NCHW', "
                     "got {!r}.".format(data_format))


@layer_register(log_shape=True)
def Conv2D(inputs, filters, kernel_size, strides=(1, 1), padding="same",
           data_format="channels_last", dilation_rate=(1, 1), activation=None, use_bias=True,
           kernel_initializer=None, bias_initializer=tfv1.zeros_initializer(),
           kernel_regularizer=None, bias_regularizer=None):
    """A 2D convolution (no groups).

    Variables: ``W`` of shape (kh, kw, in_channels, filters), ``b`` of shape (filters,).

    Returns:
        tf.Tensor: named ``output``.
    """
    nhwc = _nhwc(data_format)
    x = tf.convert_to_tensor(inputs)
    in_ch = x.shape.as_list()[3 if nhwc else 1]
    if in_ch is None:
        raise ValueError("Conv2D needs a known number of input channels, got shape {}.".format(
            x.shape))
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(strides)
    W = tfv1.get_variable("W", [kh, kw, in_ch, int(filters)], dtype=x.dtype,
                          initializer=kernel_initializer or _default_kernel_init(),
                          regularizer=kernel_regularizer)
    fmt = "NHWC" if nhwc else "NCHW"
    out = tf.nn.conv2d(x, W, strides=[1, sh, sw, 1] if nhwc else [1, 1, sh, sw],
                       padding=padding.upper(), data_format=fmt,
                       dilations=[1, *_pair(dilation_rate), 1] if nhwc
                       else [1, 1, *_pair(dilation_rate)])
    if use_bias:
        b = tfv1.get_variable("b", [int(filters)], dtype=x.dtype, initializer=bias_initializer,
                              regularizer=bias_regularizer)
        out = tf.nn.bias_add(out, b, data_format=fmt)
    return _output(out, activation)


def _pool(pool_fn, inputs, pool_size, strides, padding, data_format):
    nhwc = _nhwc(data_format)
    ph, pw = _pair(pool_size)
    sh, sw = _pair(pool_size if strides is None else strides)
    ksize = [1, ph, pw, 1] if nhwc else [1, 1, ph, pw]
    st = [1, sh, sw, 1] if nhwc else [1, 1, sh, sw]
    out = pool_fn(inputs, ksize, st, padding.upper(), data_format="NHWC" if nhwc else "NCHW")
    return tf.identity(out, name="output")


@layer_register(log_shape=True)
def MaxPooling(inputs, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """Max pooling; ``strides`` defaults to ``pool_size``.

    Returns:
        tf.Tensor: named ``output``.
    """
    return _pool(tf.nn.max_pool2d, inputs, pool_size, strides, padding, data_format)


@layer_register(log_shape=True)
def AvgPooling(inputs, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """Average pooling; ``strides`` defaults to ``pool_size``.

    Returns:
        tf.Tensor: named ``output``.
    """
    return _pool(tf.nn.avg_pool2d, inputs, pool_size, strides, padding, data_format)


@layer_register(log_shape=True)
def GlobalAvgPooling(x, data_format="channels_last"):
    """Average over the spatial axes of a 4D tensor.

    Returns:
        tf.Tensor: of shape (N, C), named ``output``.
    """
    if x.shape.rank != 4:
        raise ValueError("GlobalAvgPooling needs a 4D tensor, got shape {}.".format(x.shape))
    axes = [1, 2] if _nhwc(data_format) else [2, 3]
    return tf.reduce_mean(x, axes, name="output")


def _is_training(training):
    if training is not None:
        return bool(training)
    ctx = get_current_tower_context()
    return ctx.is_training if ctx is not None else False


@layer_register(log_shape=False)
def BatchNorm(inputs, axis=None, training=None, momentum=0.9, epsilon=1e-5, center=True,
              scale=True, gamma_initializer=tfv1.ones_initializer(),
              data_format="channels_last"):
    """Batch normalization with upstream's variable names.

    Variables: ``beta``, ``gamma`` (trainable), ``mean/EMA``, ``variance/EMA`` (moving
    statistics). While training (by default: the tower context says so), it normalizes with
    the batch statistics and adds the moving-average updates to ``UPDATE_OPS`` (run by the
    default ``RunUpdateOps`` callback); otherwise it uses the moving statistics.

    Returns:
        tf.Tensor: named ``output``.
    """
    x = tf.convert_to_tensor(inputs)
    ndims = x.shape.rank
    if axis is None:
        axis = 1 if (ndims == 4 and not _nhwc(data_format)) else ndims - 1
    n_out = x.shape.as_list()[axis]
    if n_out is None:
        raise ValueError("BatchNorm needs a known size on axis {}, got shape {}.".format(
            axis, x.shape))
    dtype = tf.float32
    beta = tfv1.get_variable("beta", [n_out], dtype, tfv1.zeros_initializer(), trainable=center)
    gamma = tfv1.get_variable("gamma", [n_out], dtype, gamma_initializer, trainable=scale)
    moving_mean = tfv1.get_variable("mean/EMA", [n_out], dtype, tfv1.zeros_initializer(),
                                    trainable=False)
    moving_var = tfv1.get_variable("variance/EMA", [n_out], dtype, tfv1.ones_initializer(),
                                   trainable=False)
    reduce_axes = [i for i in range(ndims) if i != axis]
    bshape = [1] * ndims
    bshape[axis] = n_out

    def reshape(v):
        return tf.reshape(v, bshape)

    if _is_training(training):
        mean, var = tf.nn.moments(tf.cast(x, dtype), reduce_axes)
        ctx = get_current_tower_context()
        if ctx is None or ctx.is_main_training_tower:
            with tfv1.name_scope(None):
                decay = 1.0 - momentum
                upd_m = tfv1.assign_sub(moving_mean, (moving_mean - mean) * decay,
                                        name=moving_mean.op.name + "_update")
                upd_v = tfv1.assign_sub(moving_var, (moving_var - var) * decay,
                                        name=moving_var.op.name + "_update")
            tfv1.add_to_collection(tfv1.GraphKeys.UPDATE_OPS, upd_m)
            tfv1.add_to_collection(tfv1.GraphKeys.UPDATE_OPS, upd_v)
    else:
        mean, var = moving_mean, moving_var
    out = tf.nn.batch_normalization(x, reshape(tf.cast(mean, x.dtype)),
                                    reshape(tf.cast(var, x.dtype)),
                                    reshape(tf.cast(beta, x.dtype)) if center else None,
                                    reshape(tf.cast(gamma, x.dtype)) if scale else None,
                                    epsilon)
    return tf.identity(out, name="output")


@layer_register(log_shape=False, use_scope=None)
def BNReLU(x, name=None):
    """BatchNorm (variables under ``bn/``) followed by ReLU. Usable as an activation
    (``Conv2D(..., activation=BNReLU)``, variables ``<conv>/bn/*``) or as a layer with a name.

    Returns:
        tf.Tensor
    """
    x = BatchNorm("bn", x)
    return tf.nn.relu(x, name=name or "output")


@layer_register(use_scope=False)
def Dropout(x, rate=0.5, training=None, noise_shape=None):
    """Dropout active only while training (by default: the tower context says so).

    Args:
        rate (float): the fraction of units to drop.
    """
    if _is_training(training):
        return tf.nn.dropout(x, rate=rate, noise_shape=noise_shape)
    return tf.identity(x)
