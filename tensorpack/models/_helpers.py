"""Small pieces shared by several layer modules (not public)."""
import functools

import numpy as np
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.models.utils import VariableHolder
from tensorpack.tfutils.tower import get_current_tower_context


def default_kernel_initializer():
    """Upstream's default for weights: He initialization from an untruncated normal."""
    return tfv1.variance_scaling_initializer(2.0, distribution="untruncated_normal")


def kernel_and_bias(kernel_shape, units, dtype, use_bias, kernel_initializer,
                    bias_initializer, kernel_regularizer, bias_regularizer):
    """The ``W`` and ``b`` (None without bias) variables of a conv / dense layer."""
    W = tfv1.get_variable("W", kernel_shape, dtype=dtype,
                          initializer=kernel_initializer or default_kernel_initializer(),
                          regularizer=kernel_regularizer)
    b = None
    if use_bias:
        b = tfv1.get_variable("b", [units], dtype=dtype, initializer=bias_initializer,
                              regularizer=bias_regularizer)
    return W, b


def attach_variables(out, **variables):
    """Give ``out`` a ``.variables`` holder with the given variables (None ones left out)."""
    out.variables = VariableHolder(**{k: v for k, v in variables.items() if v is not None})
    return out


def channels(inputs, fmt, layer):
    """The static shape of a 4D input and its (known) number of channels."""
    shape = static_shape(inputs, layer)
    ch = shape[3 if fmt == "NHWC" else 1]
    if ch is None:
        raise ValueError("{}: the input needs a known number of channels, got shape "
                         "{}.".format(layer, shape))
    return shape, ch


def normalize_padding(padding, layer):
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError("{}: padding must be 'same' or 'valid' (any case), got {!r}.".format(
            layer, padding))
    return padding.upper()


def finish_output(x, activation=None, activity_regularizer=None):
    """Apply the activation, record an activity regularization, name the result
    ``output``."""
    if activation is not None:
        x = activation(x)
    if activity_regularizer is not None:
        tfv1.add_to_collection(tfv1.GraphKeys.REGULARIZATION_LOSSES, activity_regularizer(x))
    return tf.identity(x, name="output")


def static_shape(x, layer):
    shape = x.shape
    if shape.rank is None:
        raise ValueError("{}: the input needs a known rank, got {}.".format(layer, x))
    return shape.as_list()


def is_training(training):
    """``training`` if given, else the tower context's flag (False outside any tower)."""
    if training is not None:
        return bool(training)
    ctx = get_current_tower_context()
    return bool(ctx is not None and ctx.is_training)


@functools.lru_cache(maxsize=None)
def has_gpu():
    return bool(tf.config.list_physical_devices("GPU"))


def batch_flatten(x):
    """Flatten all axes but the first."""
    rest = x.shape.as_list()[1:]
    if None not in rest:
        return tf.reshape(x, [-1, int(np.prod(rest))])
    return tf.reshape(x, tf.stack([tf.shape(x)[0], -1]))
