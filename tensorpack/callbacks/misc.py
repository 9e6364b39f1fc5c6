"""Small stand-alone callbacks."""
import os
import time
from collections import deque

import numpy as np

from tensorpack.utils import logger

from .base import Callback
from .group import _human_seconds

__all__ = ["EstimatedTimeLeft", "SendStat"]


class EstimatedTimeLeft(Callback):
    """Log an estimate of the remaining training time after each epoch."""

    def __init__(self, last_k_epochs=5, median=True):
        """
        Args:
            last_k_epochs (int): estimate from the durations of the last k epochs.
            median (bool): use their median (True) or mean (False).
        """
        self._times = deque(maxlen=last_k_epochs)
        self._median = median

    def _before_train(self):
        self._max_epoch = self.trainer.max_epoch
        self._last_time = time.time()

    def _trigger_epoch(self):
        now = time.time()
        self._times.append(now - self._last_time)
        self._last_time = now
        per_epoch = np.median(self._times) if self._median else np.mean(self._times)
        left = (self._max_epoch - self.epoch_num) * per_epoch
        if left > 0:
            logger.info("Estimated Time Left: " + _human_seconds(left))


class SendStat(Callback):
    """Run a shell command formatted with the latest values of some statistics."""

    def __init__(self, command, names):
        """
        Args:
            command (str): a format string using the stat names as keys.
            names (str or list[str]): the statistics.
        """
        self.command = command
        self.names = names if isinstance(names, list) else [names]

    def _trigger(self):
        m = self.trainer.monitors
        cmd = self.command.format(**{k: m.get_latest(k) for k in self.names})
        ret = os.system(cmd)
        if ret != 0:
            logger.error("Command {} failed with ret={}!".format(cmd, ret))
