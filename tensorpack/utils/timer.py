"""Timing helpers: time a block, count how often code is reached, a pausable stopwatch."""
import atexit
import collections
import contextlib
import time

from . import logger
from .stats import StatCounter

__all__ = ["timed_operation", "IterSpeedCounter", "Timer"]


@contextlib.contextmanager
def timed_operation(msg, log_start=False):
    """Log how long a block took: ``<Msg> finished, time:1.2345 sec.``

    Args:
        msg (str): what the block does.
        log_start (bool): also log ``Start <msg> ...`` when entering.

    Raises:
        ValueError: for an empty message.
    """
    if not msg:
        raise ValueError("timed_operation needs a non-empty message.")
    if log_start:
        logger.info("Start {} ...".format(msg))
    start = time.perf_counter()
    yield
    logger.info("{} finished, time:{:.4f} sec.".format(msg[0].upper() + msg[1:],
                                                       time.perf_counter() - start))


_TOTAL_TIMER_DATA = collections.defaultdict(StatCounter)


@contextlib.contextmanager
def total_timer(msg):
    """Add the time spent in the block to a process-wide total named ``msg`` (logged at exit)."""
    start = time.perf_counter()
    yield
    _TOTAL_TIMER_DATA[msg].feed(time.perf_counter() - start)


def print_total_timer():
    """Log the totals collected by :func:`total_timer` (done automatically at exit)."""
    for name, stat in _TOTAL_TIMER_DATA.items():
        logger.info("Total Time: {} -> {:.2f} sec, {} times, {:.3g} sec/time".format(
            name, stat.sum, stat.count, stat.average))


atexit.register(print_total_timer)


class IterSpeedCounter:
    """Call it wherever some code is reached; every ``print_every`` calls it logs the time
    per call since the first one."""

    def __init__(self, print_every, name=None):
        """
        Args:
            print_every (int): log every this many calls.
            name (str): the label in the log.
        """
        self.cnt = 0
        self.print_every = int(print_every)
        self.name = name or "IterSpeed"
        self.start = None

    def reset(self):
        self.start = time.perf_counter()

    def __call__(self):
        if self.cnt == 0:
            self.reset()
        self.cnt += 1
        if self.cnt % self.print_every == 0:
            spent = time.perf_counter() - self.start
            logger.info("{}: {:.2f} sec, {} times, {:.3g} sec/time".format(
                self.name, spent, self.cnt, spent / self.cnt))


class Timer:
    """A stopwatch that can be paused: :meth:`seconds` excludes the paused time."""

    def __init__(self):
        self.reset()

    def reset(self):
        """Restart from zero, running."""
        self._start = time.perf_counter()
        self._paused_at = None
        self._total_paused = 0.0

    def pause(self):
        """Stop counting.

        Raises:
            RuntimeError: if already paused.
        """
        if self._paused_at is not None:
            raise RuntimeError("Timer.pause(): the timer is already paused.")
        self._paused_at = time.perf_counter()

    def is_paused(self):
        return self._paused_at is not None

    def resume(self):
        """Count again.

        Raises:
            RuntimeError: if not paused.
        """
        if self._paused_at is None:
            raise RuntimeError("Timer.resume(): the timer is not paused.")
        self._total_paused += time.perf_counter() - self._paused_at
        self._paused_at = None

    def seconds(self):
        """Returns: float: seconds since the start or reset, paused time excluded."""
        now = time.perf_counter()
        paused = self._total_paused + (now - self._paused_at if self._paused_at is not None
                                       else 0.0)
        return now - self._start - paused
