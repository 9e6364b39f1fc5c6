"""Small stand-alone callbacks."""
import os
import time
from collections import deque

import numpy as np

from tensorpack.compat import tfv1
from tensorpack.utils import logger
from tensorpack.utils.utils import humanize_time_delta

from .base import Callback

__all__ = ["EstimatedTimeLeft", "SendStat", "ThroughputTracker", "SessionRunTimeout",
           "InjectShell"]


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
            logger.info("Estimated Time Left: " + humanize_time_delta(left))


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


class ThroughputTracker(Callback):
    """Put the training throughput since the previous trigger to the monitors, as
    ``Throughput (steps/sec)`` or, given ``samples_per_step``, ``Throughput (samples/sec)``.

    Only time inside epochs counts: the callbacks' work between epochs is excluded.
    """

    _chief_only = False

    def __init__(self, samples_per_step=None):
        """
        Args:
            samples_per_step (int): samples per step (the total batch size), if known.
        """
        self._samples_per_step = None if samples_per_step is None else int(samples_per_step)
        self._elapsed = 0.0
        self._started = None

    def _before_train(self):
        self._last_step = self.global_step

    def _before_epoch(self):
        self._started = time.perf_counter()

    def _after_epoch(self):
        if self._started is not None:
            self._elapsed += time.perf_counter() - self._started
            self._started = None

    def _trigger(self):
        elapsed = self._elapsed
        if self._started is not None:  # triggered inside an epoch
            now = time.perf_counter()
            elapsed += now - self._started
            self._started = now
        steps = self.global_step - self._last_step
        self._last_step, self._elapsed = self.global_step, 0.0
        if elapsed <= 0:
            return
        if self._samples_per_step is None:
            self.trainer.monitors.put_scalar("Throughput (steps/sec)", steps / elapsed)
        else:
            self.trainer.monitors.put_scalar("Throughput (samples/sec)",
                                             steps * self._samples_per_step / elapsed)


class SessionRunTimeout(Callback):
    """Make every training step fail with ``DeadlineExceededError`` after a timeout."""

    def __init__(self, timeout_in_ms):
        """
        Args:
            timeout_in_ms (int): the timeout of each step's session run.
        """
        self._timeout = int(timeout_in_ms)
        self._runargs = tfv1.train.SessionRunArgs(
            fetches=[], options=tfv1.RunOptions(timeout_in_ms=self._timeout))

    def _before_run(self, _):
        return self._runargs


class InjectShell(Callback):
    """Open an IPython (or pdb) shell at a trigger when a given file exists; ``self`` in the
    shell is this callback, ``self.trainer`` the trainer. The file is removed after training.
    """

    def __init__(self, file="INJECT_SHELL.tmp", shell="ipython"):
        """
        Args:
            file (str): the file whose existence opens the shell.
            shell (str): ``'ipython'`` or ``'pdb'``.

        Raises:
            ValueError: for another shell.
        """
        if shell not in ("ipython", "pdb"):
            raise ValueError("InjectShell: shell must be 'ipython' or 'pdb', got {!r}.".format(
                shell))
        self._file = file
        self._shell = shell
        logger.info("Create a file '{}' to open {} shell.".format(file, shell))

    def _trigger(self):
        if os.path.isfile(self._file):
            logger.info("File {} exists, entering shell.".format(self._file))
            trainer = self.trainer  # noqa: F841  (for the shell)
            if self._shell == "ipython":
                import IPython
                IPython.embed()
            else:
                import pdb
                pdb.set_trace()

    def _after_train(self):
        if os.path.isfile(self._file):
            os.unlink(self._file)
