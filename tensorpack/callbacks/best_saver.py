"""``MinSaver`` / ``MaxSaver``: keep a copy of the checkpoint with the best statistic.

After ``ModelSaver`` saved ``model-STEP``, if the monitored statistic (e.g. the validation
error put to ``trainer.monitors`` at the same step) is the best so far, the checkpoint is
copied to ``min-STAT.index`` / ``min-STAT.data-*`` in the checkpoint dir, so that
``SmartInit('train_log/run/min-STAT')`` loads it. The best value and its step are recorded
in ``min-STAT.json`` next to it, so a resumed run only replaces the copy with a better model.

Copy and record are replaced together in one atomic step (see
:mod:`tensorpack.checkpoint.published`): after a crash at any point, ``min-STAT`` is the
previous best or the new one, complete, and its record agrees with it.
"""
import json
import math
import os

from tensorpack.checkpoint.paths import checkpoint_step
from tensorpack.checkpoint.published import (clean_published, publish_checkpoint,
                                             read_published_record)
from tensorpack.checkpoint.state import read_checkpoint_state
from tensorpack.utils import logger

from .background import directory_writer
from .base import Callback

__all__ = ["MinSaver", "MaxSaver"]


class MinSaver(Callback):
    """Keep a separate copy of the checkpoint with the minimum value of a statistic."""

    def __init__(self, monitor_stat, reverse=False, filename=None, checkpoint_dir=None,
                 background=False):
        """
        Args:
            monitor_stat (str): the statistic's name in ``trainer.monitors``.
            reverse (bool): keep the maximum instead.
            filename (str): the copy's name in the checkpoint dir; ``min-<monitor_stat>``
                (``max-<monitor_stat>`` with ``reverse``) by default.
            checkpoint_dir (str): where ``ModelSaver`` saves; the logger dir by default.
            background (bool): make the copy on the checkpoint directory's writer thread,
                after the save of the same step (use it with ``ModelSaver(background=True)``,
                whose files are not written yet when this callback runs).

        Note:
            Put it after the ``ModelSaver`` (same ``checkpoint_dir``) and after the callback
            producing the statistic (e.g. ``InferenceRunner``): callbacks run in list order.
        """
        self.monitor_stat = monitor_stat
        self.reverse = reverse
        self.filename = filename
        self.best = None  # (global_step, value)
        if checkpoint_dir is None:
            checkpoint_dir = logger.get_logger_dir()
        self.checkpoint_dir = None if checkpoint_dir is None else os.path.normpath(checkpoint_dir)
        self._warned_missing = False
        self._background = bool(background)
        self._pending = None

    # ---- names ---------------------------------------------------------------------------
    @property
    def _mode(self):
        return "max" if self.reverse else "min"

    @property
    def _extreme(self):
        return "maximum" if self.reverse else "minimum"

    def _target(self):
        name = self.filename or "{}-{}".format(self._mode, self.monitor_stat)
        return os.path.join(self.checkpoint_dir, name)

    def _record_file(self):
        return self._target() + ".json"

    # ---- resume --------------------------------------------------------------------------
    def _setup_graph(self):
        if self.checkpoint_dir is None and logger.get_logger_dir() is not None:
            self.checkpoint_dir = os.path.normpath(logger.get_logger_dir())
        if self.checkpoint_dir is None:
            raise ValueError("{} has no checkpoint_dir: pass checkpoint_dir=... or call "
                             "logger.set_logger_dir() first.".format(type(self).__name__))

    def _before_train(self):
        clean_published(self._target())  # what a crashed run's copy left behind
        self.best = self._load_record()

    def _load_record(self):
        target, record_file = self._target(), self._record_file()
        if not os.path.isfile(record_file):
            if os.path.isfile(target + ".index"):
                return self._best_from_history(target, record_file)
            return None
        try:
            rec = read_published_record(self._target())
            best = (int(rec["global_step"]), float(rec["value"]))
            mode, stat = rec["mode"], rec["monitor_stat"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            logger.warn("[{}] Ignoring unreadable record '{}': {}".format(
                type(self).__name__, record_file, e))
            return None
        if (mode, stat) != (self._mode, self.monitor_stat):
            logger.warn("[{}] '{}' records the {} of '{}', not the {} of '{}'; ignoring it.".format(
                type(self).__name__, record_file, mode, stat, self._mode, self.monitor_stat))
            return None
        if not os.path.isfile(target + ".index"):
            logger.warn("[{}] '{}' has no checkpoint files next to it; starting afresh.".format(
                type(self).__name__, record_file))
            return None
        logger.info("[{}] Resuming: best {} so far is {:.5g} at global_step={} ('{}').".format(
            type(self).__name__, self.monitor_stat, best[1], best[0], target))
        return best

    def _best_from_history(self, target, record_file):
        """A copy made without a record (e.g. by upstream tensorpack): its value is unknown,
        but it cannot beat the best value in ``stats.json``, so requiring a new model to beat
        that value never replaces a better one."""
        name = type(self).__name__
        values = []
        for d in {self.checkpoint_dir, logger.get_logger_dir()} - {None}:
            try:
                with open(os.path.join(d, "stats.json")) as f:
                    stats = json.load(f)
                values = [(int(e.get("global_step", -1)), float(e[self.monitor_stat]))
                          for e in stats if isinstance(e, dict) and self.monitor_stat in e]
            except (OSError, ValueError, TypeError):
                continue
            values = [v for v in values if math.isfinite(v[1])]
            if values:
                break
        if not values:
            logger.warn("[{}] '{}' exists but its value is unknown (no '{}', no '{}' in "
                        "stats.json); the first '{}' of this run will replace it.".format(
                            name, target, record_file, self.monitor_stat, self.monitor_stat))
            return None
        best = (max if self.reverse else min)(values, key=lambda sv: sv[1])
        logger.warn("[{}] '{}' has no record of its value; assuming the best '{}' in "
                    "stats.json, {:.5g} (global_step={}): only a better model replaces "
                    "it.".format(name, target, self.monitor_stat, best[1], best[0]))
        return best

    # ---- per trigger ---------------------------------------------------------------------
    def _get_stat(self):
        hist = self.trainer.monitors.get_history(self.monitor_stat)
        if not hist:
            if not self._warned_missing:
                logger.warn("[{}] No statistic named '{}' has been put to the monitors yet; "
                            "nothing to compare. Check the name, and that the callback "
                            "producing it comes before this one.".format(
                                type(self).__name__, self.monitor_stat))
                self._warned_missing = True
            return None, None
        return hist[-1]

    def _improves(self, val):
        if self.best is None:
            return True
        return val > self.best[1] if self.reverse else val < self.best[1]

    def _trigger(self):
        step, val = self._get_stat()
        if step is None:
            return
        if not math.isfinite(val):
            logger.warn("[{}] '{}' is {} at global_step={}; not considered.".format(
                type(self).__name__, self.monitor_stat, val, step))
            return
        if not self._improves(val):
            return
        if not self._background:
            self._save(step, val)
            return
        self._wait_pending()
        previous, self.best = self.best, (step, val)  # what the next trigger compares with
        self._pending = directory_writer(self.checkpoint_dir).submit(
            self._save_in_background, step, val, previous)

    def _save_in_background(self, step, val, previous):
        if not self._save(step, val) and self.best == (step, val):
            self.best = previous  # not copied: a later, slightly worse value may still be

    def _wait_pending(self):
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()  # _save reports its own failures; nothing else can raise

    def _after_train(self):
        self._wait_pending()

    def _latest_checkpoint(self):
        try:
            state = read_checkpoint_state(self.checkpoint_dir)
        except (OSError, ValueError) as e:
            logger.warn("[{}] Cannot read the checkpoint state in '{}': {}".format(
                type(self).__name__, self.checkpoint_dir, e))
            return None
        return state.model_checkpoint_path if state and state.model_checkpoint_path else None

    def _save(self, step, val):
        name = type(self).__name__
        prefix = self._latest_checkpoint()
        if prefix is None:
            logger.warn("[{}] New {} {}={:.5g} at global_step={}, but there is no checkpoint in "
                        "'{}'. Is a ModelSaver with the same checkpoint_dir placed before "
                        "{}?".format(name, self._extreme, self.monitor_stat, val, step,
                                     self.checkpoint_dir, name))
            return False
        if checkpoint_step(prefix) != step:
            logger.warn("[{}] New {} '{}' found at global_step={}, but the latest checkpoint is "
                        "'{}'; nothing copied this time. The callbacks may run at different "
                        "frequencies or in the wrong order.".format(
                            name, self._extreme, self.monitor_stat, step, prefix))
            return False
        record = {"monitor_stat": self.monitor_stat, "mode": self._mode, "value": val,
                  "global_step": step, "checkpoint": os.path.basename(prefix)}
        try:
            publish_checkpoint(prefix, self._target(), record, tag=str(step))
        except OSError as e:
            logger.error("[{}] Cannot copy '{}' to '{}': {}. The previous best copy (if any) "
                         "is unchanged.".format(name, prefix, self._target(), e))
            return False
        self.best = (step, val)
        logger.info("Model at global_step={} with {} {}={:.5g} saved.".format(
            step, self._extreme, self.monitor_stat, val))
        return True


class MaxSaver(MinSaver):
    """Keep a separate copy of the checkpoint with the maximum value of a statistic.

    See :class:`MinSaver`.
    """

    def __init__(self, monitor_stat, filename=None, checkpoint_dir=None, background=False):
        """
        Args:
            monitor_stat (str): the statistic's name.
            filename (str): the copy's name; ``max-<monitor_stat>`` by default.
            checkpoint_dir (str): where ``ModelSaver`` saves; the logger dir by default.
            background (bool): see :class:`MinSaver`.
        """
        super().__init__(monitor_stat, True, filename=filename, checkpoint_dir=checkpoint_dir,
                         background=background)
