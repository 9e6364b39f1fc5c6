"""Weight regularization: a cost term over trainable variables matched by name."""
import re

import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.tfutils.tower import get_current_tower_context
from tensorpack.utils import logger

__all__ = ["regularize_cost", "regularize_cost_from_collection", "l2_regularizer",
           "l1_regularizer"]


def l2_regularizer(scale):
    """Returns: a function ``w -> scale * sum(w ** 2) / 2`` (as TF1's contrib version)."""
    return lambda w: tf.multiply(float(scale), tf.nn.l2_loss(w), name="l2_regularizer")


def l1_regularizer(scale):
    """Returns: a function ``w -> scale * sum(|w|)``."""
    return lambda w: tf.multiply(float(scale), tf.reduce_sum(tf.abs(w)), name="l1_regularizer")


def _tower_params():
    ctx = get_current_tower_context()
    if ctx is not None and ctx.has_own_variables:
        return ctx.get_collection_in_tower(tfv1.GraphKeys.TRAINABLE_VARIABLES)
    return tfv1.trainable_variables()


def regularize_cost(regex, func, name="regularize_cost"):
    """The sum of ``func(v)`` over the trainable variables whose op name matches ``regex``
    (``re.search``). Zero in an inference tower.

    Args:
        regex (str): e.g. ``"fc.*/W"``.
        func (callable): variable -> scalar, e.g. ``l2_regularizer(1e-5)``.
        name (str): name of the result.

    Returns:
        tf.Tensor: a float32 scalar.

    Example::

        cost = tf.add(cost, regularize_cost("fc.*/W", l2_regularizer(1e-5)), name="total_cost")
    """
    if not regex:
        raise ValueError("regularize_cost() needs a non-empty regex.")
    ctx = get_current_tower_context()
    if ctx is not None and not ctx.is_training:
        return tf.constant(0, dtype=tf.float32, name="empty_" + name)
    matched = [p for p in _tower_params() if re.search(regex, p.op.name)]
    if not matched:
        logger.warn("regularize_cost(): no trainable variable matches '{}'.".format(regex))
        return tf.constant(0, dtype=tf.float32, name="empty_" + name)
    with tfv1.name_scope(name + "_internals"):
        costs = [tf.cast(func(p), tf.float32) for p in matched]
    logger.info("regularize_cost() found {} variables to regularize: {}".format(
        len(matched), ", ".join(p.op.name for p in matched)))
    return tf.add_n(costs, name=name)


def regularize_cost_from_collection(name="regularize_cost"):
    """The sum of the ``REGULARIZATION_LOSSES`` collection added in this tower (e.g. by
    layers given ``kernel_regularizer=``). Zero in an inference tower.

    Returns:
        tf.Tensor: a float32 scalar.
    """
    ctx = get_current_tower_context()
    if ctx is not None and not ctx.is_training:
        return tf.constant(0, dtype=tf.float32, name="empty_" + name)
    if ctx is not None and ctx.has_own_variables:
        losses = ctx.get_collection_in_tower(tfv1.GraphKeys.REGULARIZATION_LOSSES)
    else:
        losses = tfv1.get_collection(tfv1.GraphKeys.REGULARIZATION_LOSSES)
    if not losses:
        return tf.constant(0, dtype=tf.float32, name="empty_" + name)
    return tf.add_n([tf.cast(x, tf.float32) for x in losses], name=name)
