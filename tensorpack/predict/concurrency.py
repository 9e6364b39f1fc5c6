"""MultiThreadAsyncPredictor: several predictors served by threads from one task queue,
with small batches formed on the fly."""
import abc
import contextlib
import queue
import threading
from concurrent.futures import Future

import numpy as np
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.utils import logger

from .base import OnlinePredictor, PredictorBase

__all__ = ["AsyncPredictorBase", "MultiThreadAsyncPredictor"]


class AsyncPredictorBase(PredictorBase):
    """Base class of asynchronous predictors: :meth:`put_task` returns a Future; calling the
    predictor waits for the result."""

    @abc.abstractmethod
    def put_task(self, dp, callback=None):
        """
        Args:
            dp (list): one datapoint (the inputs).
            callback: called with the Future once the result is ready (from a worker thread).

        Returns:
            concurrent.futures.Future: the outputs.
        """

    @abc.abstractmethod
    def start(self):
        """Start the workers."""

    def _do_call(self, dp):
        return self.put_task(dp).result()


class _Stop:
    """Queue marker telling a worker to exit."""


class _PredictorWorkerThread(threading.Thread):
    """Takes tasks from the queue, batches up to ``batch_size`` of those already waiting,
    predicts, and resolves each task's Future with its row of the outputs."""

    def __init__(self, tasks, predictor, idx, batch_size, sess):
        super().__init__(name="PredictorWorkerThread-{}".format(idx), daemon=True)
        self._tasks = tasks
        self._predictor = predictor
        self._batch_size = batch_size
        self._sess = sess
        self.idx = idx

    def _next_batch(self):
        first = self._tasks.get()
        if first is _Stop:
            return None
        items = [first]
        while len(items) < self._batch_size:
            try:
                item = self._tasks.get_nowait()
            except queue.Empty:
                break
            if item is _Stop:
                self._tasks.put(_Stop)  # leave it for the next loop (or another worker)
                break
            items.append(item)
        return items

    def run(self):
        with self._sess.as_default() if self._sess is not None else contextlib.nullcontext():
            while True:
                items = self._next_batch()
                if items is None:
                    return
                futures = [f for _, f in items if f.set_running_or_notify_cancel()]
                items = [(dp, f) for dp, f in items if f.running()]
                if not items:
                    continue
                try:
                    batched = [np.asarray([dp[k] for dp, _ in items])
                               for k in range(len(items[0][0]))]
                    outputs = self._predictor(*batched)
                except tf.errors.CancelledError:
                    for f in futures:
                        f.cancel()
                    logger.warn("In {}, the prediction was cancelled.".format(self.name))
                    return
                except Exception as e:  # noqa: BLE001 - handed to whoever waits on the task
                    for f in futures:
                        f.set_exception(e)
                    continue
                for row, (_, f) in enumerate(items):
                    f.set_result([out[row] for out in outputs])


class MultiThreadAsyncPredictor(AsyncPredictorBase):
    """Serve tasks with several :class:`OnlinePredictor` s, one thread each. Each task is one
    unbatched datapoint; a thread batches up to ``batch_size`` waiting tasks into one call.
    """

    def __init__(self, predictors, batch_size=5):
        """
        Args:
            predictors (list[OnlinePredictor]): predictors taking batched inputs.
            batch_size (int): the largest batch a thread forms.

        Raises:
            ValueError: for an empty list, a non-OnlinePredictor, or ``return_input``.
        """
        if not predictors:
            raise ValueError("MultiThreadAsyncPredictor needs at least one predictor.")
        self._need_default_sess = False
        for p in predictors:
            if not isinstance(p, OnlinePredictor):
                raise ValueError("MultiThreadAsyncPredictor takes OnlinePredictors, got "
                                 "{}.".format(type(p).__name__))
            if p.return_input:
                raise ValueError("MultiThreadAsyncPredictor does not support predictors with "
                                 "return_input=True.")
            if p.sess is None:
                self._need_default_sess = True
        self._predictors = list(predictors)
        self._batch_size = int(batch_size)
        self.input_queue = queue.Queue(maxsize=len(predictors) * 100)
        self.threads = []

    def start(self):
        """Start one thread per predictor. Predictors without their own session use the
        default session of the caller of ``start()``.

        Raises:
            RuntimeError: if a predictor has no session and there is no default session.
        """
        sess = tfv1.get_default_session()
        if self._need_default_sess and sess is None:
            raise RuntimeError("Some predictors have no session: call "
                               "MultiThreadAsyncPredictor.start() under a default session.")
        self.threads = [_PredictorWorkerThread(self.input_queue, p, i, self._batch_size, sess)
                        for i, p in enumerate(self._predictors)]
        for t in self.threads:
            t.start()

    def put_task(self, dp, callback=None):
        """
        Args:
            dp (list): one datapoint (unbatched inputs).
            callback: called with the Future when the outputs are ready.

        Returns:
            concurrent.futures.Future: resolves to the list of outputs for ``dp``.
        """
        fut = Future()
        if callback is not None:
            fut.add_done_callback(callback)
        self.input_queue.put((dp, fut))
        return fut

    def stop(self, timeout=10):
        """Ask the threads to exit once the queued tasks are done, and join them."""
        for _ in self.threads:
            self.input_queue.put(_Stop)
        for t in self.threads:
            t.join(timeout)
