"""Run a whole DataFlow in several worker processes or threads and merge their outputs.

Each worker iterates its own copy of the DataFlow, forever, and sends every datapoint to the
consumer. With one worker the order is the DataFlow's own; with more, the datapoints of
independent copies interleave, so only use several workers on i.i.d. (e.g. shuffled,
randomly augmented) data. For an exact one-to-one parallel map see
:mod:`tensorpack.dataflow.parallel_map`.

What a user can rely on (see ``docs/dataflow.md``): workers are forked by ``reset_state()``,
each calls ``reset_state()`` on its copy (so each is seeded differently), an exception in a
worker is raised in the consumer with the worker's traceback, a worker that dies is reported
within a couple of seconds, and no worker outlives the consumer's process, however it ends.
Datapoints travel as msgpack (:mod:`tensorpack.utils.serialize`), never as pickle.
"""
import errno
import itertools
import queue
import threading

from tensorpack.dataflow._workers import (CHECK_INTERVAL, DataFlowWorkerError, IpcDir,
                                          WorkerGroup, failure_report, raise_failure)
from tensorpack.dataflow.base import (DataFlow, DataFlowReentrantGuard, DataFlowTerminated,
                                     ProxyDataFlow)
from tensorpack.utils import logger
from tensorpack.utils.serialize import dumps, loads

__all__ = ["MultiProcessRunner", "MultiProcessRunnerZMQ", "MultiThreadRunner", "PrefetchData",
           "PrefetchDataZMQ", "MultiProcessPrefetchData", "MultiThreadPrefetchData",
           "DataFlowWorkerError"]

# First frame of a two-frame message that carries a worker's failure report.
ERROR_TAG = b"tensorpack-worker-error"


def import_zmq():
    """``zmq``, imported on first use (keeps ``import tensorpack.dataflow`` fast)."""
    try:
        import zmq
    except ImportError as e:
        raise ImportError("Parallel DataFlows need pyzmq: pip install pyzmq (a requirement of "
                          "tensorpack).") from e
    return zmq


def positive_int(name, value, owner):
    value = int(value)
    if value <= 0:
        raise ValueError("{}: {} must be a positive integer, got {}.".format(owner, name, value))
    return value


def _length_or_none(ds):
    try:
        return len(ds)
    except NotImplementedError:
        return None


def close_context(context, sockets):
    """Close ``sockets`` (explicitly: at interpreter exit pyzmq no longer closes collected
    sockets, and terminating a context with an open socket blocks forever), then ``context``."""
    for sock in sockets:
        sock.close(linger=0)
    context.term()


def send_failure(sock, where):
    """In a worker: send the exception being handled on ``sock`` as a failure report."""
    sock.send_multipart([ERROR_TAG, dumps(failure_report(where))])


def report_failure_and_exit(context, sock, where):
    """In a worker, inside ``except``: report the exception on ``sock``, let the report be
    delivered (the consumer's exit would kill us anyway), drop the other sockets, exit."""
    send_failure(sock, where)
    sock.close(linger=30000)
    context.destroy(linger=0)
    raise SystemExit(1)


class ClosedOnDelete:
    """``del`` (or garbage collection) calls ``self.close()``."""

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class ZMQWorkersMixin(ClosedOnDelete):
    """Owns a WorkerGroup, a ZeroMQ context with its sockets and an ipc directory, and
    closes them together (on close(), ``del``, and -- for the workers -- at exit)."""

    _workers = None
    _context = None
    _sockets = ()
    _ipc = None

    def _check_not_started(self):
        if self._workers is not None:
            raise RuntimeError("{}.reset_state() was called twice; it starts the worker "
                               "processes and must be called exactly once.".format(
                                   type(self).__name__))

    def close(self):
        """Stop the worker processes and release the sockets (also at exit and on ``del``)."""
        if self._workers is not None:
            self._workers.stop()
        if self._context is not None:
            close_context(self._context, self._sockets)
            self._context = None
        if self._ipc is not None:
            self._ipc.close()


class ZMQReceiver:
    """The consumer's end: a bound PULL socket that also watches the workers feeding it.

    Args:
        socket: a bound ``zmq.PULL`` socket.
        workers (WorkerGroup): the processes that send to it.
    """

    def __init__(self, socket, workers):
        self.socket = socket
        self.workers = workers
        self._zmq = import_zmq()
        socket.setsockopt(self._zmq.RCVTIMEO, int(CHECK_INTERVAL * 1000))
        self._failure = None  # once a worker failed, every later recv() raises its error

    def recv(self):
        """The next message's frame; raises the worker's error if one failed or died."""
        if self._failure is not None or self.workers.due_for_check():
            self.check_workers()
        zmq = self._zmq
        while True:
            try:  # blocks at most CHECK_INTERVAL (RCVTIMEO), then looks at the workers
                frame = self.socket.recv(copy=False)
                break
            except zmq.Again:
                self.check_workers()
            except (zmq.ContextTerminated, zmq.ZMQError) as e:
                if isinstance(e, zmq.ContextTerminated) or e.errno == errno.ENOTSOCK:
                    # closed under us (e.g. close() from another thread): a clean stop
                    raise DataFlowTerminated("{} was closed.".format(self.workers.name)) from e
                raise
        if frame.more:
            self._fail_with_report(frame)
        return frame

    def _fail_with_report(self, first):
        rest = self.socket.recv_multipart(copy=False)
        if first.bytes == ERROR_TAG and rest:
            self._failure = loads(rest[-1])
        else:
            self._failure = {"where": self.workers.name, "type": "DataFlowWorkerError",
                             "message": "received a malformed message from a worker"}
        self._fail()

    def _fail(self):
        self.workers.stop()  # the pipeline is broken: stop the other workers too
        raise_failure(self._failure)

    def check_workers(self):
        """Raise if a worker failed or died (after collecting the report it may have sent)."""
        if self._failure is not None:
            self._fail()
        dead = self.workers.dead_worker()
        if dead is None:
            return
        # A worker that failed sent its report before exiting: look for it among what is
        # still queued (data in front of it is discarded, we are about to raise anyway).
        while self.socket.poll(1000):
            frame = self.socket.recv(copy=False)
            if frame.more:
                self._fail_with_report(frame)
        self._failure = {"where": dead, "type": "DataFlowWorkerError",
                         "message": "the worker stopped without reporting an error (it crashed, "
                                    "or was killed, e.g. by the out-of-memory killer)"}
        self._fail()


def _produce(ds, endpoint, hwm, where):
    """Worker body of MultiProcessRunnerZMQ: reset ``ds``, then push its datapoints forever."""
    zmq = import_zmq()
    context = zmq.Context()
    sock = context.socket(zmq.PUSH)
    sock.set_hwm(hwm)
    sock.setsockopt(zmq.RECONNECT_IVL, 10)  # the consumer binds just after the fork
    sock.connect(endpoint)
    try:
        ds.reset_state()
        while True:
            count = 0
            for dp in ds:
                sock.send(dumps(dp), copy=False)
                count += 1
            if count == 0:
                raise ValueError("The DataFlow {} produced no datapoint in a whole pass; a "
                                 "parallel runner would wait forever.".format(type(ds).__name__))
    except Exception:
        report_failure_and_exit(context, sock, where)


class MultiProcessRunnerZMQ(ZMQWorkersMixin, ProxyDataFlow):
    """Run a DataFlow in ``num_proc`` forked processes; collect datapoints through ZeroMQ.

    The processes are forked in :meth:`reset_state` (call it once, in the consuming process,
    before creating TensorFlow sessions). Each worker calls ``ds.reset_state()`` and then
    iterates ``ds`` forever. One pass of this DataFlow yields ``len(ds)`` datapoints (forever
    if the length is unknown).

    * ``num_proc=1``: the same datapoints as ``ds``, in the same order.
    * ``num_proc>1``: ``num_proc`` independent copies interleave; meant for i.i.d. data.
    """

    def __init__(self, ds, num_proc=1, hwm=50):
        """
        Args:
            ds (DataFlow): the DataFlow to run in the workers.
            num_proc (int): number of worker processes.
            hwm (int): ZeroMQ high-water mark: how many datapoints may wait in each queue.
        """
        super().__init__(ds)
        self.num_proc = positive_int("num_proc", num_proc, type(self).__name__)
        self._hwm = positive_int("hwm", hwm, type(self).__name__)
        self._worker_hwm = self._hwm
        size = _length_or_none(ds)
        self._size = -1 if size is None else size
        self._guard = DataFlowReentrantGuard()
        if self.num_proc > 1:
            logger.info("[{}] Will fork the DataFlow {} times; this assumes i.i.d. datapoints."
                        .format(type(self).__name__, self.num_proc))

    def reset_state(self):
        """Fork the workers (once)."""
        self._check_not_started()
        zmq = import_zmq()
        name = type(self).__name__
        self._ipc = IpcDir()
        endpoint = self._ipc.endpoint("data")
        self._workers = WorkerGroup(name)
        self._workers.start([(_produce, (self.ds, endpoint, self._worker_hwm,
                                         "{} worker {}".format(name, k)))
                             for k in range(self.num_proc)])
        # Bound after the fork, so no worker inherits this ZeroMQ context.
        self._context = zmq.Context()
        sock = self._context.socket(zmq.PULL)
        sock.set_hwm(self._hwm)
        sock.bind(endpoint)
        self._sockets = [sock]
        self._receiver = ZMQReceiver(sock, self._workers)

    def __len__(self):
        return len(self.ds)

    def __iter__(self):
        if self._workers is None:
            raise RuntimeError("Call {}.reset_state() before iterating it.".format(
                type(self).__name__))
        recv = self._receiver.recv
        with self._guard:
            for count in itertools.count():
                if 0 < self._size <= count:
                    break
                yield loads(recv())


class MultiProcessRunner(MultiProcessRunnerZMQ):
    """Run a DataFlow in ``num_proc`` forked processes, holding up to ``num_prefetch`` results.

    Same guarantees as :class:`MultiProcessRunnerZMQ` (it uses the same machinery);
    upstream's signature, where both sizes are required.
    """

    def __init__(self, ds, num_prefetch, num_proc):
        """
        Args:
            ds (DataFlow): the DataFlow to run in the workers.
            num_prefetch (int): how many datapoints may be buffered.
            num_proc (int): number of worker processes.
        """
        self.num_prefetch = positive_int("num_prefetch", num_prefetch, type(self).__name__)
        super().__init__(ds, num_proc=num_proc, hwm=self.num_prefetch)
        # Each worker's queue and the consumer's add up: keep the total near num_prefetch.
        self._worker_hwm = max(1, self.num_prefetch // (2 * self.num_proc))
        self._hwm = max(1, self.num_prefetch // 2)


class Failure:
    """A failure report travelling through a thread queue."""

    __slots__ = ("report",)

    def __init__(self, report):
        self.report = report


class ThreadFailuresMixin(ClosedOnDelete):
    """For DataFlows fed by threads through a queue: a :class:`Failure` taken from the queue
    stops the threads (``self.close()``) and is raised, then again on every later use."""

    _failure = None

    def _raise_if_failed(self):
        if self._failure is not None:
            raise_failure(self._failure)

    def _unwrap(self, item):
        if type(item) is Failure:
            self._failure = item.report
            self.close()
            raise_failure(item.report)
        return item


class MultiThreadRunner(ThreadFailuresMixin, DataFlow):
    """Run ``num_thread`` DataFlows, one per thread, and merge what they yield.

    ``get_df()`` is called once per thread (return a new DataFlow each time unless yours is
    stateless). One pass yields ``len(get_df())`` datapoints. An exception in a thread is
    raised in the consumer with the thread's traceback.
    """

    def __init__(self, get_df, num_prefetch, num_thread):
        """
        Args:
            get_df (callable): returns the DataFlow a thread runs.
            num_prefetch (int): size of the queue between the threads and the consumer.
            num_thread (int): number of threads.
        """
        self.num_thread = positive_int("num_thread", num_thread, type(self).__name__)
        num_prefetch = positive_int("num_prefetch", num_prefetch, type(self).__name__)
        self._dfs = [get_df() for _ in range(self.num_thread)]
        for df in self._dfs:
            if not isinstance(df, DataFlow):
                raise TypeError("MultiThreadRunner: get_df() must return a DataFlow, got {}."
                                .format(type(df).__name__))
        self.queue = queue.Queue(maxsize=num_prefetch)
        self._stop = threading.Event()
        self._threads = []
        size = _length_or_none(self._dfs[0])
        self._size = -1 if size is None else size

    def reset_state(self):
        """Reset each thread's DataFlow and start the threads."""
        if self._threads:
            raise RuntimeError("MultiThreadRunner.reset_state() was called twice.")
        for df in self._dfs:
            df.reset_state()
        for k, df in enumerate(self._dfs):
            th = threading.Thread(target=self._run, args=(df, k), daemon=True,
                                  name="MultiThreadRunner-{}".format(k))
            th.start()
            self._threads.append(th)

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self.queue.put(item, timeout=CHECK_INTERVAL)
                return True
            except queue.Full:
                pass
        return False

    def _run(self, df, index):
        try:
            while not self._stop.is_set():
                count = 0
                for dp in df:
                    count += 1
                    if not self._put(dp):
                        return
                if count == 0:
                    raise ValueError("The DataFlow {} produced no datapoint in a whole pass."
                                     .format(type(df).__name__))
        except Exception:
            self._put(Failure(failure_report("MultiThreadRunner thread {}".format(index))))

    def __len__(self):
        return len(self._dfs[0])

    def __iter__(self):
        if not self._threads:
            raise RuntimeError("Call MultiThreadRunner.reset_state() before iterating it.")
        self._raise_if_failed()
        get, unwrap = self.queue.get, self._unwrap
        for count in itertools.count():
            if 0 < self._size <= count:
                break
            yield unwrap(get())

    def close(self):
        """Stop the threads (they are daemons, so they never keep the process alive)."""
        self._stop.set()
        for th in self._threads:
            th.join(timeout=2 * CHECK_INTERVAL)


# Upstream's older names.
PrefetchData = MultiProcessRunner
MultiProcessPrefetchData = MultiProcessRunner
PrefetchDataZMQ = MultiProcessRunnerZMQ
MultiThreadPrefetchData = MultiThreadRunner
