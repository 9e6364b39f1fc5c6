"""Summaries: moving-average scalars, tensor and parameter summaries (upstream's API).

Moving summaries are how training scalars (cost, accuracy ...) reach the monitors:
:func:`add_moving_summary` keeps an exponential moving average of each scalar in a
*local* variable (so it is never saved in checkpoints), and adds a ``tf.summary.scalar``
of that average; the default callbacks ``MovingAverageSummary`` and ``MergeAllSummaries``
update the averages every step and send the summaries to the monitors once per epoch.
"""
import re
import struct
import zlib

import numpy as np
from tensorflow.python.training import moving_averages

from tensorpack.compat import tfv1
from tensorpack.utils.naming import MOVING_SUMMARY_OPS_KEY

__all__ = ["add_tensor_summary", "add_param_summary", "add_activation_summary",
           "add_moving_summary"]

_TOWER_PREFIX = re.compile(r"tower[0-9]+/")


def _not_main_tower():
    """True when building a tower other than the main training tower (summaries skipped)."""
    try:
        from tensorpack.tfutils import tower
        get_ctx = tower.get_current_tower_context
    except (ImportError, AttributeError):  # no tower support: everything is the main tower
        return False
    ctx = get_ctx()
    return ctx is not None and not ctx.is_main_training_tower


def create_scalar_summary(name, v):
    """A ``tf.compat.v1.Summary`` holding one scalar.

    Args:
        name (str): the tag.
        v (float): the value.

    Returns:
        tf.compat.v1.Summary
    """
    if not isinstance(name, str):
        raise TypeError("Summary name must be a str, got {!r}.".format(name))
    s = tfv1.Summary()
    s.value.add(tag=name, simple_value=float(v))
    return s


def _png(img):
    """Encode a HxWxC uint8 array (C in 1, 2, 3, 4) as PNG bytes, with zlib only."""
    h, w, c = img.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))  # filter 0 per row

    def chunk(tag, data):
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def create_image_summary(name, val):
    """A ``tf.compat.v1.Summary`` holding PNG images.

    Args:
        name (str): the tag (``name/i`` for each image when there are several).
        val (np.ndarray): NHWC images with values in [0, 255]; C is 1, 3 (RGB) or 4 (RGBA).

    Returns:
        tf.compat.v1.Summary

    Raises:
        ValueError: if ``val`` is not 4-dimensional with 1 to 4 channels.
    """
    val = np.asarray(val)
    if val.ndim != 4 or not 1 <= val.shape[-1] <= 4:
        raise ValueError("create_image_summary('{}'): expected NHWC images with 1-4 channels, "
                         "got shape {}.".format(name, val.shape))
    n, h, w, c = val.shape
    val = np.clip(val, 0, 255).astype(np.uint8)
    s = tfv1.Summary()
    for k in range(n):
        img = tfv1.Summary.Image(height=h, width=w, colorspace=c,
                                 encoded_image_string=_png(val[k]))
        s.value.add(tag=name if n == 1 else "{}/{}".format(name, k), image=img)
    return s


def _rms(x):
    return tfv1.sqrt(tfv1.reduce_mean(tfv1.square(x)), name="rms")


def add_tensor_summary(x, types, name=None, collections=None, main_tower_only=True):
    """Summarize a tensor in several ways.

    Args:
        x (tf.Tensor): the tensor.
        types (list[str]): any of ``scalar``, ``histogram``, ``sparsity``, ``mean``, ``rms``.
        name (str): summary name; defaults to the op name of ``x``.
        collections (list[str]): collections for the summary ops.
        main_tower_only (bool): do nothing outside the main training tower.

    Raises:
        ValueError: for an unknown summary type.
    """
    if name is None:
        name = x.op.name
    if main_tower_only and _not_main_tower():
        return
    makers = {
        "scalar": lambda: tfv1.summary.scalar(name + "-summary", x, collections=collections),
        "histogram": lambda: tfv1.summary.histogram(name + "-histogram", x,
                                                    collections=collections),
        "sparsity": lambda: tfv1.summary.scalar(name + "-sparsity", tfv1.nn.zero_fraction(x),
                                                collections=collections),
        "mean": lambda: tfv1.summary.scalar(name + "-mean", tfv1.reduce_mean(x),
                                            collections=collections),
        "rms": lambda: tfv1.summary.scalar(name + "-rms", _rms(x), collections=collections),
    }
    unknown = set(types) - set(makers)
    if unknown:
        raise ValueError("Unknown summary types {} for '{}'; use some of {}.".format(
            sorted(unknown), name, sorted(makers)))
    for t in sorted(set(types)):
        makers[t]()


def add_activation_summary(x, types=None, name=None, collections=None):
    """Summarize an activation (rank >= 2) under the ``activation-summary`` name scope.

    Args:
        x (tf.Tensor): the activation.
        types (list[str]): defaults to ``['sparsity', 'rms', 'histogram']``.
        name (str): defaults to the op name of ``x``.
        collections (list[str]): collections for the summary ops.
    """
    if x.shape.ndims is not None and x.shape.ndims < 2:
        from tensorpack.utils import logger
        logger.warn("Cannot summarize scalar activation {}".format(x.name))
        return
    with tfv1.name_scope("activation-summary"):
        add_tensor_summary(x, types or ["sparsity", "rms", "histogram"], name=name,
                           collections=collections)


def add_param_summary(*summary_lists, **kwargs):
    """Summarize the trainable variables whose names match regexes.

    Args:
        summary_lists: ``(regex, [summary types])`` pairs; a regex must match the whole
            variable op name.
        collections (list[str]): keyword only; collections for the summary ops.

    Raises:
        TypeError: for an unknown keyword argument.

    Example:
        ``add_param_summary(('.*/W', ['histogram', 'rms']))``
    """
    collections = kwargs.pop("collections", None)
    if kwargs:
        raise TypeError("add_param_summary: unknown arguments {}".format(sorted(kwargs)))
    if _not_main_tower():
        return
    params = tfv1.get_collection(tfv1.GraphKeys.TRAINABLE_VARIABLES)
    with tfv1.name_scope("param-summary"):
        for p in params:
            for rgx, types in summary_lists:
                if re.fullmatch(rgx, p.op.name):
                    add_tensor_summary(p, types, name=p.op.name, collections=collections)


def _to_local_variables(getter, *args, **kwargs):
    """Custom getter: the EMA bookkeeping variables are local, never checkpointed."""
    collections = [c for c in (kwargs.get("collections") or [tfv1.GraphKeys.GLOBAL_VARIABLES])
                   if c != tfv1.GraphKeys.GLOBAL_VARIABLES]
    kwargs["collections"] = collections + [tfv1.GraphKeys.LOCAL_VARIABLES]
    return getter(*args, **kwargs)


def add_moving_summary(*args, **kwargs):
    """Summarize the exponential moving average of scalar tensors.

    A no-op outside the main training tower or under a ``reuse=True`` variable scope.

    Args:
        args: scalar tensors.
        decay (float): keyword only; the EMA decay, 0.95 by default.
        collection (str or None): keyword only; the collection receiving the ops that
            update the averages (read by the ``MovingAverageSummary`` callback).
        summary_collections (list[str]): keyword only; collections for the summary ops,
            ``tf.GraphKeys.SUMMARIES`` by default.

    Returns:
        list[tf.Tensor]: the ops updating the averages (their outputs are the averages).

    Raises:
        TypeError: for an unknown keyword argument or a non-tensor argument.
        ValueError: for a tensor that is not a scalar.
    """
    decay = kwargs.pop("decay", 0.95)
    coll = kwargs.pop("collection", MOVING_SUMMARY_OPS_KEY)
    summ_coll = kwargs.pop("summary_collections", None)
    if kwargs:
        raise TypeError("add_moving_summary: unknown arguments {}".format(sorted(kwargs)))
    if _not_main_tower():
        return []
    if getattr(tfv1.get_default_graph(), "building_function", False):
        from tensorpack.utils import logger
        logger.warn("add_moving_summary() called inside a control-flow function (e.g. a "
                    "tf.cond branch), where the training loop cannot run it; ignored.")
        return []
    if tfv1.get_variable_scope().reuse is True:
        from tensorpack.utils import logger
        logger.warn("add_moving_summary() called under reuse=True scope, ignored.")
        return []
    for x in args:
        if not isinstance(x, (tfv1.Tensor, tfv1.Variable)):
            raise TypeError("add_moving_summary() takes tensors, got {!r}.".format(x))
        if x.shape.ndims != 0:
            raise ValueError("add_moving_summary() only accepts scalar tensors; '{}' has shape "
                             "{}.".format(x.name, x.shape))

    ema_ops = []
    for x in args:
        name = _TOWER_PREFIX.sub("", x.op.name)
        with tfv1.name_scope(None):
            if not x.dtype.is_floating:
                x = tfv1.cast(x, tfv1.float32)
            with tfv1.variable_scope("EMA", reuse=tfv1.AUTO_REUSE,
                                     custom_getter=_to_local_variables):
                ema_var = tfv1.get_variable(name, shape=x.shape, dtype=x.dtype,
                                            initializer=tfv1.constant_initializer(),
                                            trainable=False)
                ema_op = moving_averages.assign_moving_average(
                    ema_var, x, decay, zero_debias=True, name=name + "_EMA_apply")
            ema_ops.append(ema_op)
            tfv1.summary.scalar(name + "-summary", ema_op, collections=summ_coll)
    if coll is not None:
        for op in ema_ops:
            tfv1.add_to_collection(coll, op)
    return ema_ops
