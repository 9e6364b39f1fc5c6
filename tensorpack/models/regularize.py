"""Weight regularization: a cost term over trainable variables matched by name."""
import re

import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.models._helpers import is_training
from tensorpack.models.common import layer_register
from tensorpack.tfutils.tower import get_current_tower_context
from tensorpack.utils import logger

__all__ = ["regularize_cost", "regularize_cost_from_collection", "l2_regularizer",
           "l1_regularizer", "Dropout"]


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


@layer_register(use_scope=None)
def Dropout(x, *args, **kwargs):
    """Dropout, active only while training (by default: the tower context says so).

    For upstream compatibility, a positional argument is the probability to *keep*
    (``Dropout(x, 0.8)`` drops 20%); prefer ``rate=`` (the probability to drop) or
    ``keep_prob=``.

    Args:
        x (tf.Tensor): the input.
        rate (float): fraction to drop (default 0.5).
        keep_prob (float): fraction to keep (old name; not together with ``rate``).
        training (bool): override the tower context (old name: ``is_training``).
        noise_shape: as in ``tf.nn.dropout``.

    Returns:
        tf.Tensor
    """
    if "is_training" in kwargs:
        kwargs["training"] = kwargs.pop("is_training")
    if args:
        if len(args) > 1:
            raise TypeError("Dropout takes one positional argument (keep_prob) after the "
                            "input; pass the others by keyword.")
        if "rate" in kwargs or "keep_prob" in kwargs:
            raise TypeError("Dropout: give the probability once (positional keep_prob, "
                            "keep_prob= or rate=).")
        if args[0] != 0.5:
            logger.warn("The positional argument of Dropout is the probability to keep (as "
                        "in upstream tensorpack), not to drop. Use rate= to be explicit.")
        rate = 1.0 - args[0]
    elif "keep_prob" in kwargs:
        if "rate" in kwargs:
            raise TypeError("Dropout: give either keep_prob= or rate=, not both.")
        rate = 1.0 - kwargs.pop("keep_prob")
    else:
        rate = kwargs.pop("rate", 0.5)
    training = kwargs.pop("training", None)
    noise_shape = kwargs.pop("noise_shape", None)
    seed = kwargs.pop("seed", None)
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError("Dropout got unexpected arguments: {}.".format(", ".join(kwargs)))
    if not is_training(training):
        return tf.identity(x)
    return tf.nn.dropout(x, rate=rate, noise_shape=noise_shape, seed=seed)
