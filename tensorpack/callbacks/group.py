"""The container that runs a list of callbacks in order (used by trainers)."""
import time
from contextlib import contextmanager

from tensorpack.compat import tfv1
from tensorpack.utils import logger
from tensorpack.utils.utils import humanize_time_delta

from .base import Callback
from .hooks import CallbackToHook

__all__ = ["Callbacks"]



class _EpochTimer:
    """Times the callbacks of one ``trigger_epoch``, to point at the slow ones."""

    def __init__(self):
        self.times = []

    @contextmanager
    def timed(self, name):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.times.append((name, time.perf_counter() - start))

    def log(self):
        total = sum(t for _, t in self.times)
        if total < 2:  # not worth a line in the log
            return
        slow = ["{}: {}".format(n, humanize_time_delta(t)) for n, t in self.times
                if t > 1 and t / total > 0.3]
        logger.info("Callbacks took {:.3f} sec in total. {}".format(total, "; ".join(slow)))


class Callbacks(Callback):
    """Hold a list of callbacks and call each hook on all of them, in list order.

    Only trainers need this class.
    """

    def __init__(self, cbs):
        """
        Args:
            cbs (list[Callback]): the callbacks.

        Raises:
            TypeError: if an element is not a Callback.
        """
        for cb in cbs:
            if not isinstance(cb, Callback):
                raise TypeError("Callbacks expects Callback instances; got {!r} of type {}. "
                                "Did you forget to instantiate it?".format(cb, type(cb).__name__))
        self.cbs = list(cbs)

    def _setup_graph(self):
        with tfv1.name_scope(None):
            for cb in self.cbs:
                cb.setup_graph(self.trainer)

    def _before_train(self):
        for cb in self.cbs:
            cb.before_train()

    def _after_train(self):
        # every callback gets its chance to clean up (close files, bars), even if one fails
        for cb in self.cbs:
            try:
                cb.after_train()
            except Exception:
                logger.exception("Error in after_train() of callback {}".format(cb))

    def get_hooks(self):
        """Returns: list[SessionRunHook]: one hook per callback, for the trainer's session."""
        return [CallbackToHook(cb) for cb in self.cbs]

    def trigger_step(self):
        for cb in self.cbs:
            cb.trigger_step()

    def _trigger_epoch(self):
        timer = _EpochTimer()
        for cb in self.cbs:
            with timer.timed(str(cb)):
                cb.trigger_epoch()
        timer.log()

    def _before_epoch(self):
        for cb in self.cbs:
            cb.before_epoch()

    def _after_epoch(self):
        for cb in self.cbs:
            cb.after_epoch()
