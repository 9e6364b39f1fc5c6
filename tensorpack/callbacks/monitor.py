"""Monitors: where scalars and summaries produced during training go.

``trainer.monitors`` (a :class:`Monitors`) receives everything via ``put_scalar`` /
``put_summary`` and dispatches it to each monitor: :class:`ScalarPrinter` (the log),
:class:`~tensorpack.callbacks.monitor_writers.JSONWriter` (``stats.json``) and
:class:`~tensorpack.callbacks.monitor_writers.TFEventWriter` (TensorBoard). It also keeps
the history of every scalar, which callbacks such as ``MinSaver`` read back.
"""
import re
import time
from collections import defaultdict

import numpy as np

from tensorpack.compat import tfv1
from tensorpack.tfutils.summary import create_image_summary, create_scalar_summary
from tensorpack.utils import logger

from .base import Callback

__all__ = ["MonitorBase", "Monitors", "ScalarPrinter", "NoOpMonitor"]

_TOWER_PREFIX = re.compile(r"tower[0-9]+/")
_SUMMARY_SUFFIX = "-summary"  # added by add_moving_summary / add_tensor_summary


class MonitorBase(Callback):
    """Base class of monitors: callbacks that also receive training data.

    Override any of :meth:`process_scalar`, :meth:`process_summary`, :meth:`process_event`.
    """

    _chief_only = False

    def setup_graph(self, trainer):
        # no name scope: monitors do not build ops
        self.trainer = trainer
        self.graph = tfv1.get_default_graph()
        self._setup_graph()

    def process_summary(self, summary):
        """Receive a ``tf.compat.v1.Summary``."""

    def process(self, name, val):
        """Receive a key-value pair."""

    def process_scalar(self, name, val):
        """Receive a scalar."""

    def process_image(self, name, val):
        """Receive images as a NHWC numpy array in [0, 255]."""

    def process_event(self, evt):
        """Receive a ``tf.compat.v1.Event``."""


class NoOpMonitor(MonitorBase):
    """A monitor that does nothing; stands in for writers that have no logger dir."""

    def __init__(self, name=None):
        self._name = name

    def __str__(self):
        return "NoOpMonitor" if self._name is None else "NoOpMonitor({})".format(self._name)


class ScalarHistory(MonitorBase):
    """Keeps every scalar as ``(global_step, value)``; used inside :class:`Monitors`."""

    def __init__(self):
        self._dic = defaultdict(list)

    def process_scalar(self, name, val):
        self._dic[name].append((self.global_step, float(val)))

    def get_latest(self, name):
        hist = self._dic.get(name)
        if not hist:
            raise KeyError("No data for the scalar '{}' has been put to the monitors yet; "
                           "known names: {}".format(name, sorted(k for k in self._dic
                                                                if self._dic[k])))
        return hist[-1]

    def get_history(self, name):
        return self._dic[name]


class Monitors(Callback):
    """Dispatch data to a list of monitors; available as ``trainer.monitors``.

    Use ``trainer.monitors.put_scalar(...)`` from callbacks to log statistics.
    """

    _chief_only = False

    def __init__(self, monitors):
        """
        Args:
            monitors (list[MonitorBase]): the monitors.

        Raises:
            TypeError: if an element is not a MonitorBase.
        """
        self._scalar_history = ScalarHistory()
        self._monitors = list(monitors) + [self._scalar_history]
        for m in self._monitors:
            if not isinstance(m, MonitorBase):
                raise TypeError("Monitors expects MonitorBase instances, got {!r}.".format(m))

    def _setup_graph(self):
        # the other monitors are registered with the trainer as callbacks themselves
        self._scalar_history.setup_graph(self.trainer)

    def _dispatch(self, func):
        for m in self._monitors:
            func(m)

    def put_summary(self, summary):
        """Put a ``tf.compat.v1.Summary`` (or its serialized bytes).

        Its scalar values are also dispatched as scalars, with the ``towerN/`` prefix and the
        ``-summary`` suffix removed from their tags.

        Raises:
            TypeError: for anything else than a Summary or bytes.
        """
        if isinstance(summary, bytes):
            summary = tfv1.Summary.FromString(summary)
        if not isinstance(summary, tfv1.Summary):
            raise TypeError("put_summary expects a tf.compat.v1.Summary, got {}.".format(
                type(summary).__name__))
        for val in summary.value:
            if val.WhichOneof("value") == "simple_value":
                tag = _TOWER_PREFIX.sub("", val.tag)
                if tag.endswith(_SUMMARY_SUFFIX):
                    tag = tag[:-len(_SUMMARY_SUFFIX)]
                val.tag = tag
                value = val.simple_value
                self._dispatch(lambda m: m.process_scalar(tag, value))
        self._dispatch(lambda m: m.process_summary(summary))

    def put_scalar(self, name, val):
        """Put a scalar.

        Args:
            name (str): its name, e.g. ``'val-error'``.
            val (float or int): its value (numpy scalars are converted).
        """
        if isinstance(val, np.floating):
            val = float(val)
        elif isinstance(val, np.integer):
            val = int(val)
        self._dispatch(lambda m: m.process_scalar(name, val))
        s = create_scalar_summary(name, val)
        self._dispatch(lambda m: m.process_summary(s))

    def put_image(self, name, val):
        """Put images (NHWC, HWC or HW numpy array in [0, 255]); TensorBoard shows them."""
        arr = np.asarray(val)
        if arr.ndim == 2:
            arr = arr[np.newaxis, :, :, np.newaxis]
        elif arr.ndim == 3:
            arr = arr[np.newaxis] if arr.shape[-1] in (1, 3, 4) else arr[..., np.newaxis]
        elif arr.ndim != 4:
            raise ValueError("put_image('{}'): expected a 2D/3D/4D array, got shape {}.".format(
                name, arr.shape))
        self._dispatch(lambda m: m.process_image(name, arr))
        s = create_image_summary(name, arr)
        self._dispatch(lambda m: m.process_summary(s))

    def put_event(self, evt):
        """Put a ``tf.compat.v1.Event``; its step and wall time are filled in."""
        evt.step = self.global_step
        evt.wall_time = time.time()
        self._dispatch(lambda m: m.process_event(evt))

    def get_latest(self, name):
        """The latest value of a scalar.

        Returns:
            float

        Raises:
            KeyError: if the scalar has never been put.
        """
        return self._scalar_history.get_latest(name)[1]

    def get_history(self, name):
        """The history of a scalar.

        Returns:
            list[(int, float)]: ``(global_step, value)`` pairs; empty if never put.
        """
        return self._scalar_history.get_history(name)


class ScalarPrinter(MonitorBase):
    """Log scalars, as ``name: value`` lines sorted by name, at the end of each epoch."""

    def __init__(self, enable_step=False, enable_epoch=True, whitelist=None, blacklist=None):
        """
        Args:
            enable_step (bool): also print between steps (whatever arrived since last print).
            enable_epoch (bool): print at the end of each epoch.
            whitelist (list[str]): regexes; print only matching names (default: all).
            blacklist (list[str]): regexes; never print matching names.
        """
        self._whitelist = None if whitelist is None else [re.compile(r) for r in whitelist]
        self._blacklist = [re.compile(r) for r in (blacklist or [])]
        self._enable_step = enable_step
        self._enable_epoch = enable_epoch
        self._dic = {}

    def _before_train(self):
        self._trigger()

    def _trigger_step(self):
        if not self._enable_step:
            return
        last_step = self.local_step == self.trainer.steps_per_epoch - 1
        # on the last step, the epoch-end print covers it (when enabled)
        if not last_step or not self._enable_epoch:
            self._trigger()

    def _trigger_epoch(self):
        if self._enable_epoch:
            self._trigger()

    def process_scalar(self, name, val):
        self._dic[name] = float(val)

    def _wanted(self, name):
        if self._whitelist is not None and not any(r.search(name) for r in self._whitelist):
            return False
        return not any(r.search(name) for r in self._blacklist)

    def _trigger(self):
        for k in sorted(self._dic):
            if self._wanted(k):
                logger.info("{}: {:.5g}".format(k, self._dic[k]))
        self._dic = {}


def __getattr__(name):
    # upstream kept the writers in this module: `from tensorpack.callbacks.monitor import
    # JSONWriter` keeps working (resolved lazily: monitor_writers imports this module)
    if name in ("JSONWriter", "TFEventWriter"):
        from . import monitor_writers
        return getattr(monitor_writers, name)
    if name in ("SendMonitorData", "CometMLMonitor"):
        from . import monitor_external
        return getattr(monitor_external, name)
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
