"""Callbacks that change hyperparameters (e.g. the learning rate) during training."""
import operator
import os
from abc import ABC, abstractmethod
from collections import deque

import numpy as np

from tensorpack.checkpoint.names import get_op_tensor_name
from tensorpack.compat import tfv1
from tensorpack.utils import logger

from .base import Callback

__all__ = ["HyperParam", "GraphVarParam", "ObjAttrParam", "HyperParamSetter",
           "HumanHyperParamSetter", "ScheduledHyperParamSetter", "HyperParamSetterWithFunc",
           "StatMonitorParamSetter"]


class HyperParam(ABC):
    """A value that a :class:`HyperParamSetter` can read and set."""

    def setup_graph(self):
        """Build what is needed in the graph (called from the setter's ``_setup_graph``)."""

    @abstractmethod
    def set_value(self, v):
        """Set the value."""

    @abstractmethod
    def get_value(self):
        """Returns the current value."""

    @property
    def readable_name(self):
        """str: the name shown in logs."""
        return self._readable_name


class GraphVarParam(HyperParam):
    """A scalar variable of the graph, e.g. ``learning_rate``."""

    def __init__(self, name, shape=()):
        """
        Args:
            name (str): the variable's name (``"learning_rate"`` or ``"learning_rate:0"``).
            shape (tuple): its shape.
        """
        self.name = name
        self.shape = shape
        self._readable_name, self.var_name = get_op_tensor_name(name)

    def setup_graph(self):
        """Find the variable.

        Raises:
            ValueError: if the graph has no variable of that name.
        """
        for v in tfv1.global_variables() + tfv1.local_variables():
            if v.name == self.var_name:
                self.var = v
                return
        raise ValueError("'{}' is not a variable in the graph; the hyperparameter needs a "
                         "variable of that name (e.g. tf.get_variable('{}', ...)).".format(
                             self.var_name, self._readable_name))

    def set_value(self, v):
        """Assign the variable (in the default session).

        Raises:
            ValueError: when setting a float value into an integer variable.
        """
        if not self.var.dtype.is_floating and isinstance(v, float):
            raise ValueError("HyperParam {} has type '{}'; cannot set it to the float {}.".format(
                self.name, self.var.dtype, v))
        self.var.load(v)

    def get_value(self):
        return self.var.eval()


class ObjAttrParam(HyperParam):
    """An attribute of a Python object."""

    def __init__(self, obj, attrname, readable_name=None):
        """
        Args:
            obj: the object.
            attrname (str): the attribute.
            readable_name (str): the name to show; ``attrname`` by default.
        """
        self.obj = obj
        self.attrname = attrname
        self._readable_name = attrname if readable_name is None else readable_name

    def set_value(self, v):
        setattr(self.obj, self.attrname, v)

    def get_value(self):
        return getattr(self.obj, self.attrname)


class HyperParamSetter(Callback):
    """Base class: on every :meth:`trigger` (and before training), set the parameter to
    ``_get_value_to_set()`` unless that returns None."""

    _chief_only = False
    _enable_before_train = True

    def __init__(self, param):
        """
        Args:
            param (HyperParam or str): a string means a :class:`GraphVarParam` of that name.

        Raises:
            TypeError: for anything else.
        """
        if isinstance(param, str):
            param = GraphVarParam(param)
        if not isinstance(param, HyperParam):
            raise TypeError("{} needs a HyperParam or a variable name, got {!r}.".format(
                type(self).__name__, param))
        self.param = param
        self._last_value = None
        self._last_epoch_set = -1

    def _setup_graph(self):
        self.param.setup_graph()

    def get_value_to_set(self):
        """The value to set now (None: leave it), logging changes once per epoch."""
        ret = self._get_value_to_set()
        if ret is not None and ret != self._last_value:
            if self.epoch_num != self._last_epoch_set:
                if self._last_value is None:
                    logger.info("[HyperParamSetter] At global_step={}, {} is set to {:.6f}".format(
                        self.global_step, self.param.readable_name, ret))
                else:
                    logger.info("[HyperParamSetter] At global_step={}, {} changes from {:.6f} "
                                "to {:.6f}".format(self.global_step, self.param.readable_name,
                                                   self._last_value, ret))
            self._last_epoch_set = self.epoch_num
            self._last_value = ret
        return ret

    @abstractmethod
    def _get_value_to_set(self):
        """Returns the new value, or None to leave the parameter unchanged."""

    def get_current_value(self):
        """Returns the parameter's current value."""
        return self.param.get_value()

    def _trigger(self):
        self._set_param()

    def _before_train(self):
        if self._enable_before_train:
            self._set_param()

    def _set_param(self):
        v = self.get_value_to_set()
        if v is not None:
            self.param.set_value(v)


class HumanHyperParamSetter(HyperParamSetter):
    """Read the value from a text file of ``name:value`` lines in the logger dir at each
    trigger, so a human can change it during training."""

    def __init__(self, param, file_name="hyper.txt"):
        """
        Args:
            param: as in :class:`HyperParamSetter`.
            file_name (str): the file, relative to the logger dir.
        """
        super().__init__(param)
        self.file_name = os.path.join(logger.get_logger_dir() or ".", file_name)
        logger.info("Use {} to set hyperparam: '{}'.".format(
            self.file_name, self.param.readable_name))

    def _get_value_to_set(self):
        if not os.path.isfile(self.file_name):
            return None
        try:
            with open(self.file_name) as f:
                pairs = [line.strip().split(":") for line in f if line.strip()]
            return {k.strip(): float(v) for k, v in pairs}[self.param.readable_name]
        except (ValueError, KeyError):
            logger.warn("Cannot find {} in {}".format(self.param.readable_name, self.file_name))
            return None


class ScheduledHyperParamSetter(HyperParamSetter):
    """Set a hyperparameter by a schedule of ``(epoch, value)`` (or ``(step, value)``)."""

    def __init__(self, param, schedule, interp=None, step_based=False, set_at_beginning=True):
        """
        Args:
            param: as in :class:`HyperParamSetter`.
            schedule (list): ``[(ep1, v1), (ep2, v2), ...]``: the value becomes ``v`` *after*
                epoch ``ep`` completes; ``ep == 0`` means before the first epoch.
            interp (str or None): None (set only at the listed points) or ``'linear'``
                (interpolate between listed points, never extrapolate).
            step_based (bool): the schedule is in global steps instead of epochs.
            set_at_beginning (bool): before training, if the parameter does not have the value
                the schedule says it should have by now (e.g. on resume), set it.

        Raises:
            ValueError: for an unknown ``interp``.
        """
        if interp not in (None, "linear"):
            raise ValueError("ScheduledHyperParamSetter: interp must be None or 'linear', got "
                             "{!r}.".format(interp))
        self.schedule = sorted(((int(a), float(b)) for a, b in schedule),
                               key=operator.itemgetter(0))
        self.interp = interp
        self._step = step_based
        self._set_at_beginning = set_at_beginning
        super().__init__(param)

    def _current_point(self):
        return self.global_step if self._step else self.epoch_num

    def _get_value_to_set(self):
        return self._get_value_to_set_at_point(self._current_point())

    def _get_value_to_set_at_point(self, point):
        prev = None
        for p, v in self.schedule:
            if p == point:
                return v
            if p > point:
                if prev is None or self.interp is None:
                    return None
                p0, v0 = prev
                return v0 + (point - p0) * (v - v0) / (p - p0)
            prev = (p, v)
        return None  # past the last point: leave it

    def _check_value_at_beginning(self):
        # in before_train, the current epoch/step has completed already
        expected = None
        for p in range(0, self._current_point() + 1):
            v = self._get_value_to_set_at_point(p)
            if v is not None:
                expected = v
        if expected is None:
            return
        actual = self.param.get_value()
        if not np.isclose(expected, actual):
            where = ("step " if self._step else "epoch ") + str(self._current_point())
            logger.warn("According to {}, '{}' should be {:.7g} at {}, but it is {:.7g}.".format(
                self, self.param.readable_name, expected, where, actual))
            if self._set_at_beginning:
                logger.info("Setting '{}' to {:.7g}.".format(self.param.readable_name, expected))
                self.param.set_value(expected)

    def _before_train(self):
        super()._before_train()
        self._check_value_at_beginning()

    def _trigger_epoch(self):
        if not self._step:
            self.trigger()

    def _trigger_step(self):
        if self._step:
            self.trigger()

    def __str__(self):
        return "ScheduledHyperParamSetter(schedule={})".format(self.schedule)


class HyperParamSetterWithFunc(HyperParamSetter):
    """Set the parameter to ``func(epoch_num, old_value)`` at each trigger."""

    def __init__(self, param, func):
        """
        Args:
            param: as in :class:`HyperParamSetter`.
            func (callable): ``(epoch_num, old_value) -> new_value``.
        """
        super().__init__(param)
        self.f = func

    def _get_value_to_set(self):
        return self.f(self.epoch_num, self.get_current_value())


class StatMonitorParamSetter(HyperParamSetter):
    """Change the parameter by ``value_func`` when a monitored statistic stops improving.

    Over the last ``last_k`` observations, if ``min(history) >= history[0] - threshold``
    (or, with ``reverse``, ``max(history) <= history[0] + threshold``), the parameter becomes
    ``value_func(old_value)`` and the history restarts.
    """

    _enable_before_train = False

    def __init__(self, param, stat_name, value_func, threshold, last_k, reverse=False):
        super().__init__(param)
        self.stat_name = stat_name
        self.value_func = value_func
        self.history = deque(maxlen=last_k)
        self.threshold = threshold
        self.reverse = reverse

    def _get_value_to_set(self):
        hist = self.trainer.monitors.get_history(self.stat_name)
        if not hist:
            logger.warn("[StatMonitorParamSetter] No history data available for key '{}'.".format(
                self.stat_name))
            return None
        last = hist[-1]
        if self.history and last[0] == self.history[-1][0]:
            logger.warn("StatMonitorParamSetter is triggered, but no new data has been added "
                        "since last time.")
            return None
        self.history.append(last)
        if len(self.history) < self.history.maxlen:
            return None
        values = [v for _, v in self.history]
        if not self.reverse and min(values) < values[0] - self.threshold:
            return None
        if self.reverse and max(values) > values[0] + self.threshold:
            return None
        self.history.clear()
        logger.info("[StatMonitorParamSetter] Triggered, history of {}: {}".format(
            self.stat_name, ",".join(str(round(x, 3)) for x in values)))
        return self.value_func(self.get_current_value())
