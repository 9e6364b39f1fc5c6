"""2D convolution and transposed convolution layers (variables ``W`` and ``b``)."""
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.models._helpers import (attach_variables, channels, finish_output, has_gpu,
                                        kernel_and_bias, normalize_padding)
from tensorpack.models.common import layer_register
from tensorpack.models.tflayer import convert_to_tflayer_args
from tensorpack.utils.argtools import get_data_format, shape2d, shape4d

__all__ = ["Conv2D", "Deconv2D", "Conv2DTranspose"]

_CONV_RENAMES = {"out_channel": "filters", "kernel_shape": "kernel_size", "stride": "strides"}


@layer_register(log_shape=True)
@convert_to_tflayer_args(args_names=["filters", "kernel_size"],
                         name_mapping=dict(_CONV_RENAMES, groups="split"))
def Conv2D(inputs, filters, kernel_size, strides=(1, 1), padding="same",
           data_format="channels_last", dilation_rate=(1, 1), activation=None, use_bias=True,
           kernel_initializer=None, bias_initializer=tfv1.zeros_initializer(),
           kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, split=1):
    """A 2D convolution, optionally grouped (``split``) or dilated.

    Like ``tf.layers.Conv2D`` but: the default padding is ``'same'``, the default kernel
    initializer is ``variance_scaling_initializer(2.0)``, and ``split`` (alias ``groups``)
    makes a group convolution. Also takes upstream's old names ``out_channel``,
    ``kernel_shape``, ``stride``, ``nl``, ``W_init``, ``b_init``.

    Variables:
        ``W``: the kernel, shape (kh, kw, in_channels / split, filters);
        ``b``: the bias, shape (filters,), when ``use_bias``.

    Returns:
        tf.Tensor: named ``output``, with ``.variables`` (``W``, ``b``).
    """
    fmt = get_data_format(data_format, keras_mode=False)
    pad = normalize_padding(padding, "Conv2D")
    _, in_channel = channels(inputs, fmt, "Conv2D")
    channel_axis = 3 if fmt == "NHWC" else 1
    split, filters = int(split), int(filters)
    if in_channel % split or filters % split:
        raise ValueError("Conv2D: split={} must divide both the input channels ({}) and "
                         "filters ({}).".format(split, in_channel, filters))
    W, b = kernel_and_bias(shape2d(kernel_size) + [in_channel // split, filters], filters,
                           inputs.dtype, use_bias, kernel_initializer, bias_initializer,
                           kernel_regularizer, bias_regularizer)
    conv_args = dict(strides=shape4d(strides, data_format=fmt), padding=pad, data_format=fmt,
                     dilations=shape4d(dilation_rate, data_format=fmt))
    if split == 1 or has_gpu():  # TensorFlow runs grouped convolutions natively only on GPU
        out = tf.nn.conv2d(inputs, W, **conv_args)
    else:
        pieces = zip(tf.split(inputs, split, channel_axis), tf.split(W, split, 3))
        out = tf.concat([tf.nn.conv2d(i, k, **conv_args) for i, k in pieces], channel_axis)
    if b is not None:
        out = tf.nn.bias_add(out, b, data_format=fmt)
    return attach_variables(finish_output(out, activation, activity_regularizer), W=W, b=b)


def _transposed_size(size, stride, kernel, padding):
    if size is None:
        return None
    extra = max(kernel - stride, 0) if padding == "VALID" else 0
    return size * stride + extra


@layer_register(log_shape=True)
@convert_to_tflayer_args(args_names=["filters", "kernel_size", "strides"],
                         name_mapping=_CONV_RENAMES)
def Conv2DTranspose(inputs, filters, kernel_size, strides=(1, 1), padding="same",
                    data_format="channels_last", activation=None, use_bias=True,
                    kernel_initializer=None, bias_initializer=tfv1.zeros_initializer(),
                    kernel_regularizer=None, bias_regularizer=None,
                    activity_regularizer=None):
    """A 2D transposed convolution ("deconvolution"); ``Deconv2D`` is the same layer.

    Output spatial size: ``in * stride`` for ``'same'`` padding, ``in * stride +
    max(kernel - stride, 0)`` for ``'valid'``. Unknown input sizes stay unknown in the
    static shape and are computed at run time.

    Variables:
        ``W``: the kernel, shape (kh, kw, filters, in_channels);
        ``b``: the bias, shape (filters,), when ``use_bias``.

    Returns:
        tf.Tensor: named ``output``, with ``.variables`` (``W``, ``b``).
    """
    fmt = get_data_format(data_format, keras_mode=False)
    pad = normalize_padding(padding, "Conv2DTranspose")
    shape, in_channel = channels(inputs, fmt, "Conv2DTranspose")
    filters = int(filters)
    kh, kw = shape2d(kernel_size)
    sh, sw = shape2d(strides)
    h_axis = 1 if fmt == "NHWC" else 2
    W, b = kernel_and_bias([kh, kw, filters, in_channel], filters, inputs.dtype, use_bias,
                           kernel_initializer, bias_initializer, kernel_regularizer,
                           bias_regularizer)
    out_h = _transposed_size(shape[h_axis], sh, kh, pad)
    out_w = _transposed_size(shape[h_axis + 1], sw, kw, pad)
    dyn = tf.shape(inputs)
    dyn_h = out_h if out_h is not None else _transposed_size(dyn[h_axis], sh, kh, pad)
    dyn_w = out_w if out_w is not None else _transposed_size(dyn[h_axis + 1], sw, kw, pad)
    batch = shape[0] if shape[0] is not None else dyn[0]
    if fmt == "NHWC":
        out_shape, static = [batch, dyn_h, dyn_w, filters], [shape[0], out_h, out_w, filters]
    else:
        out_shape, static = [batch, filters, dyn_h, dyn_w], [shape[0], filters, out_h, out_w]
    out = tf.nn.conv2d_transpose(inputs, W, tf.stack(out_shape),
                                 strides=shape4d((sh, sw), data_format=fmt), padding=pad,
                                 data_format=fmt)
    out.set_shape(static)
    if b is not None:
        out = tf.nn.bias_add(out, b, data_format=fmt)
    return attach_variables(finish_output(out, activation, activity_regularizer), W=W, b=b)


Deconv2D = Conv2DTranspose
