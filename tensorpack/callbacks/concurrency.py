"""Start threads or processes before training and stop them after."""
import multiprocessing as mp
import signal
import threading

from tensorpack.utils import logger

from .base import Callback

__all__ = ["StartProcOrThread"]


class StartProcOrThread(Callback):
    """Start threads / processes in ``before_train``; optionally stop them after training."""

    _chief_only = False

    def __init__(self, startable, stop_at_last=True):
        """
        Args:
            startable: a thread or process (or a list), anything with ``start()``.
            stop_at_last (bool): after training, terminate processes and call ``stop()`` on
                threads that have it; other objects are left alone.
        """
        self._procs_threads = startable if isinstance(startable, list) else [startable]
        self._stop_at_last = stop_at_last

    def _before_train(self):
        logger.info("Starting " + ", ".join(k.name for k in self._procs_threads) + " ...")
        # children must not receive the terminal's Ctrl-C: the main process handles it
        is_main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if is_main else None
        try:
            for k in self._procs_threads:
                k.start()
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)

    def _after_train(self):
        if not self._stop_at_last:
            return
        for k in self._procs_threads:
            if not k.is_alive():
                continue
            if isinstance(k, mp.Process):
                logger.info("Stopping {} ...".format(k.name))
                k.terminate()
            elif hasattr(k, "stop"):
                logger.info("Stopping {} ...".format(k.name))
                k.stop()
            else:
                continue
            k.join(5.0)
            if k.is_alive():
                logger.error("Cannot join {}.".format(k.name))
