"""Concrete input sources: placeholders, feeding, and a TF queue filled by a thread."""
import threading

import numpy as np
import tensorflow as tf

from tensorpack.callbacks.base import Callback
from tensorpack.compat import tfv1
from tensorpack.dataflow.base import DataFlow, DataFlowTerminated
from tensorpack.dataflow.common import RepeatedData
from tensorpack.input_source.base import InputSource, build_or_reuse_placeholder
from tensorpack.utils import logger

__all__ = ["PlaceholderInput", "FeedInput", "FeedfreeInput", "QueueInput"]


def _make_feeds(placeholders, datapoint):
    if isinstance(datapoint, dict):
        try:
            return {p: datapoint[p.op.name] for p in placeholders}
        except KeyError as e:
            raise KeyError("A datapoint dict has no key {} (the model inputs are {}).".format(
                e, [p.op.name for p in placeholders])) from None
    if not isinstance(datapoint, (list, tuple)):
        raise TypeError("A datapoint must be a list, tuple or dict, got {}.".format(
            type(datapoint).__name__))
    if len(datapoint) != len(placeholders):
        raise ValueError("A datapoint has {} components but the model has {} inputs ({}).".format(
            len(datapoint), len(placeholders), [p.op.name for p in placeholders]))
    return dict(zip(placeholders, datapoint))


class _DataFlowReset(Callback):
    """Calls ``reset_state()`` of a DataFlow once, while the graph is set up."""
    _chief_only = False

    def __init__(self, ds):
        self._ds = ds

    def _setup_graph(self):
        self._ds.reset_state()


class PlaceholderInput(InputSource):
    """Inputs are plain placeholders (the caller feeds them)."""

    def _setup(self, inputs):
        self._placeholders = [build_or_reuse_placeholder(v) for v in inputs]

    def _get_input_tensors(self):
        return self._placeholders


class FeedInput(InputSource):
    """Feed datapoints of a DataFlow into placeholders, one datapoint per training step.

    Every call of :meth:`get_input_tensors` returns the same placeholders, so this input
    serves one tower.
    """

    class _FeedCallback(Callback):
        _chief_only = False

        def __init__(self, ds, placeholders):
            self._ds = ds
            self._placeholders = placeholders
            self._itr = None
            self._no_fetch = []

        def _before_run(self, _):
            if self._itr is None:
                self._itr = iter(self._ds)
            feed = _make_feeds(self._placeholders, next(self._itr))
            return tfv1.train.SessionRunArgs(fetches=self._no_fetch, feed_dict=feed)

        def _reset(self):
            self._itr = iter(self._ds)

    def __init__(self, ds, infinite=True):
        """
        Args:
            ds (DataFlow): the data.
            infinite (bool): repeat ``ds`` forever; if False, StopIteration ends the input.

        Raises:
            ValueError: if ``ds`` is not a DataFlow.
        """
        if not isinstance(ds, DataFlow):
            raise ValueError("FeedInput takes a DataFlow, got {!r}.".format(ds))
        self.ds = ds
        self._iter_ds = RepeatedData(ds, -1) if infinite else ds

    def _size(self):
        return len(self.ds)

    def _setup(self, inputs):
        self._placeholders = [build_or_reuse_placeholder(v) for v in inputs]
        self._cb = self._FeedCallback(self._iter_ds, self._placeholders)

    def _get_input_tensors(self):
        return self._placeholders

    def _reset_state(self):
        self._cb._reset()

    def _get_callbacks(self):
        return [self._cb, _DataFlowReset(self._iter_ds)]


class FeedfreeInput(InputSource):
    """Base class of inputs that produce tensors without feeding (queues, tf.data)."""


class _EnqueueThread(threading.Thread):
    """Moves datapoints from a DataFlow into a TF queue until stopped or the queue closes."""

    def __init__(self, queue, ds, placeholders):
        super().__init__(name="EnqueueThread: enqueue dataflow to TF queue '{}'".format(
            queue.name), daemon=True)
        self.dataflow = ds
        self.queue = queue
        self.placeholders = placeholders
        self.op = queue.enqueue(placeholders)
        self.close_op = queue.close(cancel_pending_enqueues=True)
        self.sess = None
        self.error = None
        self._stop_evt = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._itr = None

    def _make_enqueue(self, sess):
        """A function enqueueing one datapoint. A callable compiled once skips the per-call
        parsing of ``Session.run``, which otherwise dominates for small datapoints."""
        try:
            from tensorflow.core.protobuf import config_pb2
            opts = config_pb2.CallableOptions()
            opts.feed.extend([p.name for p in self.placeholders])
            opts.target.append(self.op.name)
            run = sess._make_callable_from_options(opts)  # noqa: SLF001 - the fast path
            dtypes = [p.dtype.as_numpy_dtype for p in self.placeholders]
        except Exception:  # noqa: BLE001 - fall back to the public API
            return lambda dp: sess.run(self.op, feed_dict=_make_feeds(self.placeholders, dp))

        def enqueue(dp):
            feed = _make_feeds(self.placeholders, dp)  # checks and orders the components
            run(*[np.asarray(feed[p], dtype=dt) for p, dt in zip(self.placeholders, dtypes)])
        return enqueue

    def run(self):
        sess = self.sess
        try:
            with sess.as_default():
                enqueue = self._make_enqueue(sess)
                self.reinitialize_dataflow()
                while not self._stop_evt.is_set():
                    self._running.wait()
                    enqueue(next(self._itr))
        except (tf.errors.CancelledError, tf.errors.OutOfRangeError):
            pass  # the queue was closed: the normal way to end
        except DataFlowTerminated:
            logger.info("[EnqueueThread] DataFlow has terminated.")
        except Exception as e:  # noqa: BLE001 - reported, then the queue is closed
            if isinstance(e, RuntimeError) and "closed Session" in str(e):
                pass
            elif not self._stop_evt.is_set():
                self.error = e
                logger.exception("[EnqueueThread] the DataFlow {} failed; the input queue is "
                                 "closed and training will stop.".format(
                                     type(self.dataflow).__name__))
        finally:
            try:
                sess.run(self.close_op)
            except Exception:  # noqa: BLE001 - the session may be closed already
                pass
            logger.info("[EnqueueThread] Thread {} Exited.".format(self.name))

    def reinitialize_dataflow(self):
        self._itr = iter(self.dataflow)

    def pause(self):
        self._running.clear()

    def resume(self):
        self._running.set()

    def stop(self):
        self._stop_evt.set()
        self._running.set()


class _QueueThreadCallback(Callback):
    """Starts the enqueue thread before training; closes the queue and joins it after."""
    _chief_only = False

    def __init__(self, thread):
        self._thread = thread

    def _before_train(self):
        self._thread.sess = tfv1.get_default_session()
        logger.info("Starting {} ...".format(self._thread.name))
        self._thread.start()

    def _after_train(self):
        thread = self._thread
        if not thread.is_alive():
            return
        thread.stop()
        try:
            # unblocks a pending enqueue (CancelledError) so the thread can exit
            thread.sess.run(thread.close_op)
        except Exception:  # noqa: BLE001 - session already closed: the thread exits anyway
            pass
        thread.join(5.0)
        if thread.is_alive():
            logger.error("Cannot join thread {}: its DataFlow may be stuck producing a "
                         "datapoint. It is a daemon thread and dies with the process.".format(
                             thread.name))


class QueueInput(FeedfreeInput):
    """A background thread puts datapoints of a DataFlow into a ``FIFOQueue``; the model reads
    dequeued tensors, so data loading overlaps with training steps.

    The thread starts before the first step and is stopped (queue closed, thread joined)
    when training ends.
    """

    def __init__(self, ds, queue=None):
        """
        Args:
            ds (DataFlow): the data.
            queue (tf.compat.v1.QueueBase): a queue matching the input dtypes; defaults to a
                FIFOQueue of capacity 50.

        Raises:
            ValueError: if ``ds`` is not a DataFlow.
        """
        if not isinstance(ds, DataFlow):
            raise ValueError("QueueInput takes a DataFlow, got {!r}.".format(ds))
        self.queue = queue
        self.ds = ds
        self._inf_ds = RepeatedData(ds, -1)

    def _size(self):
        return len(self.ds)

    def _setup(self, inputs):
        self._placeholders = [build_or_reuse_placeholder(v) for v in inputs]
        if not self._placeholders:
            raise ValueError("QueueInput needs a model with at least one input.")
        with self.cached_name_scope():
            if self.queue is None:
                self.queue = tfv1.FIFOQueue(50, [p.dtype for p in self._placeholders],
                                            name="input_queue")
            logger.info("Setting up the queue '{}' for CPU prefetching ...".format(
                self.queue.name))
            self.thread = _EnqueueThread(self.queue, self._inf_ds, self._placeholders)
            self._dequeue_op = self.queue.dequeue(name="dequeue_for_reset")

    def refill_queue(self):
        """Empty the queue and restart the DataFlow from its beginning (under the session)."""
        self.thread.pause()
        opts = tfv1.RunOptions(timeout_in_ms=2000)
        sess = tfv1.get_default_session()
        try:
            while True:
                sess.run(self._dequeue_op, options=opts)
        except tf.errors.DeadlineExceededError:
            pass
        self.thread.reinitialize_dataflow()
        self.thread.resume()

    def _queue_size_ema_callback(self):
        """Runs, with every step, an EMA of the queue size; it is summarized (as upstream
        does) as ``QueueInput/queue_size``, so a starving input shows in the statistics."""
        from tensorpack.callbacks.graph import RunOp
        from tensorpack.tfutils.summary import add_moving_summary
        with self.cached_name_scope():
            size = tf.cast(self.queue.size(), tf.float32, name="queue_size")
        ema_ops = add_moving_summary(size, collection=None, decay=0.5)
        if not ema_ops:
            return []
        cb = RunOp(ema_ops[0].op, run_before=False, run_as_trigger=False, run_step=True)
        cb.name_scope = "InputSource/EMA"
        return [cb]

    def _get_callbacks(self):
        return ([_QueueThreadCallback(self.thread)] + self._queue_size_ema_callback()
                + [_DataFlowReset(self._inf_ds)])

    def _get_input_tensors(self):
        with tf.device("/cpu:0"), self.cached_name_scope():
            ret = self.queue.dequeue(name="input_deque")
            if isinstance(ret, tf.Tensor):  # a single input
                ret = [ret]
            for t, p in zip(ret, self._placeholders):
                t.set_shape(p.shape)
            return list(ret)
