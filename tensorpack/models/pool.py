"""Pooling and un-pooling layers (no variables)."""
import numpy as np
import tensorflow as tf

from tensorpack.models._helpers import normalize_padding, static_shape
from tensorpack.models.common import layer_register
from tensorpack.models.tflayer import convert_to_tflayer_args
from tensorpack.utils.argtools import get_data_format, shape2d, shape4d

__all__ = ["MaxPooling", "FixedUnPooling", "AvgPooling", "GlobalAvgPooling"]

_POOL_RENAMES = {"shape": "pool_size", "stride": "strides"}


def _make_pool_layer(layer_name, op, kind):
    """Build and register MaxPooling / AvgPooling: same signature, different ``tf.nn`` op."""
    def pool(inputs, pool_size, strides=None, padding="valid", data_format="channels_last"):
        fmt = get_data_format(data_format, keras_mode=False)
        if strides is None:
            strides = pool_size
        out = op(inputs, ksize=shape4d(pool_size, data_format=fmt),
                 strides=shape4d(strides, data_format=fmt),
                 padding=normalize_padding(padding, layer_name), data_format=fmt)
        return tf.identity(out, name="output")

    pool.__name__ = pool.__qualname__ = layer_name
    pool.__doc__ = """2D {} pooling, as ``tf.layers``' pooling layers; ``strides`` defaults to
    ``pool_size``. Also takes upstream's old names ``shape`` and ``stride``.

    Returns:
        tf.Tensor: named ``output``.
    """.format(kind)
    pool.__module__ = __name__
    converted = convert_to_tflayer_args(args_names=["pool_size", "strides"],
                                        name_mapping=_POOL_RENAMES)(pool)
    return layer_register(log_shape=True)(converted)


MaxPooling = _make_pool_layer("MaxPooling", tf.nn.max_pool2d, "max")
AvgPooling = _make_pool_layer("AvgPooling", tf.nn.avg_pool2d, "average")


@layer_register(log_shape=True)
def GlobalAvgPooling(x, data_format="channels_last"):
    """The mean over the spatial axes of a 4D tensor (Network In Network).

    Returns:
        tf.Tensor: of shape (N, C), named ``output``.
    """
    if x.shape.rank != 4:
        raise ValueError("GlobalAvgPooling needs a 4D input, got shape {}.".format(x.shape))
    axes = [1, 2] if get_data_format(data_format, keras_mode=False) == "NHWC" else [2, 3]
    return tf.reduce_mean(x, axes, name="output")


@layer_register(log_shape=True)
def FixedUnPooling(x, shape, unpool_mat=None, data_format="channels_last"):
    """Un-pool by a Kronecker product of each spatial position with a fixed matrix.

    Output pixel ``(i * sh + a, j * sw + b)`` is ``x[i, j] * unpool_mat[a, b]``.

    Args:
        x (tf.Tensor): a 4D image tensor.
        shape: int or (sh, sw): the up-sampling factors.
        unpool_mat: a 2D ``np.ndarray`` or ``tf.Tensor`` of size ``shape``. Default: 1 at
            the top-left corner, 0 elsewhere.

    Returns:
        tf.Tensor: 4D, spatially ``shape`` times larger, named ``output``.
    """
    fmt = get_data_format(data_format, keras_mode=False)
    sh, sw = shape2d(shape)
    in_shape = static_shape(x, "FixedUnPooling")
    if len(in_shape) != 4:
        raise ValueError("FixedUnPooling needs a 4D input, got shape {}.".format(in_shape))
    if unpool_mat is None:
        mat = np.zeros((sh, sw), dtype=x.dtype.as_numpy_dtype)
        mat[0, 0] = 1
        unpool_mat = tf.constant(mat, name="unpool_mat")
    elif isinstance(unpool_mat, np.ndarray):
        unpool_mat = tf.constant(unpool_mat, dtype=x.dtype, name="unpool_mat")
    if unpool_mat.shape.as_list() != [sh, sw]:
        raise ValueError("FixedUnPooling: unpool_mat must have shape {}, got {}.".format(
            [sh, sw], unpool_mat.shape.as_list()))
    unpool_mat = tf.cast(unpool_mat, x.dtype)
    dyn = tf.shape(x)
    if fmt == "NHWC":
        # (N, H, 1, W, 1, C) * (sh, 1, sw, 1) -> (N, H, sh, W, sw, C)
        big = x[:, :, None, :, None, :] * unpool_mat[:, None, :, None]
        h_axis = 1
    else:
        # (N, C, H, 1, W, 1) * (sh, 1, sw) -> (N, C, H, sh, W, sw)
        big = x[:, :, :, None, :, None] * unpool_mat[:, None, :]
        h_axis = 2

    def _size(axis, factor):
        return in_shape[axis] * factor if in_shape[axis] is not None else dyn[axis] * factor

    new_shape = [-1] + [in_shape[a] if in_shape[a] is not None else dyn[a]
                        for a in range(1, 4)]
    new_shape[h_axis] = _size(h_axis, sh)
    new_shape[h_axis + 1] = _size(h_axis + 1, sw)
    out = tf.reshape(big, tf.stack(new_shape), name="output")
    static = list(in_shape)
    static[h_axis] = None if in_shape[h_axis] is None else in_shape[h_axis] * sh
    static[h_axis + 1] = None if in_shape[h_axis + 1] is None else in_shape[h_axis + 1] * sw
    out.set_shape(static)
    return out
