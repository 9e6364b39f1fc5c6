"""Parallel versions of :class:`MapData`: the mapping function runs in threads or processes.

The source DataFlow is iterated once, in the consuming process; each datapoint goes to a
worker, which applies ``map_func`` and sends the result back. Up to ``buffer_size``
datapoints are in flight.

* ``strict=False`` (default, as upstream): the source is repeated forever and results may
  come from the next pass; iteration never ends. ``None`` results are dropped.
* ``strict=True``: each pass yields exactly the mapped datapoints of one pass of the source
  (the next pass is prefetched); ``map_func`` must not return ``None``.
* ``keep_order=True`` (new): results are yielded in the source's order, so with
  ``strict=True`` a pass equals ``MapData(ds, map_func)``'s exactly.

Workers are started by ``reset_state()``, never outlive the main process, and an exception
in ``map_func`` is raised in the consumer with the worker's traceback (see
:mod:`tensorpack.dataflow.parallel`).
"""
import queue
import threading

from tensorpack.dataflow._workers import CHECK_INTERVAL, IpcDir, WorkerGroup, failure_report
from tensorpack.dataflow.base import DataFlow, DataFlowReentrantGuard, ProxyDataFlow
from tensorpack.dataflow.common import BatchData, RepeatedData
from tensorpack.dataflow.parallel import (Failure, ThreadFailuresMixin, ZMQReceiver,
                                          ZMQWorkersMixin, import_zmq, positive_int,
                                          report_failure_and_exit)
from tensorpack.utils.serialize import dumps, loads

__all__ = ["MultiThreadMapData", "MultiProcessMapData", "MultiProcessMapDataZMQ",
           "MultiProcessMapAndBatchData", "MultiProcessMapAndBatchDataZMQ"]

_HELLO = -1  # sequence number of the message a process worker sends once it is connected


def _strict_buffer(ds, buffer_size, strict):
    if strict:
        try:
            return min(buffer_size, len(ds))
        except NotImplementedError:
            pass
    return buffer_size


class _ParallelMapData(ProxyDataFlow):
    """The buffering, ordering and strictness logic; subclasses move the work to workers.

    Subclasses implement ``_start_workers()``, ``_send(seq, dp)`` and ``_recv() -> (seq, out)``.
    """

    def __init__(self, ds, map_func, buffer_size, strict, keep_order):
        super().__init__(ds)
        if not callable(map_func):
            raise TypeError("{}: map_func must be callable, got {!r}.".format(
                type(self).__name__, map_func))
        self.map_func = map_func
        self._buffer_size = positive_int("buffer_size", _strict_buffer(ds, buffer_size, strict),
                                      type(self).__name__)
        self._strict = bool(strict)
        self._keep_order = bool(keep_order)
        self._iter = None
        self._guard = DataFlowReentrantGuard()

    def reset_state(self):
        super().reset_state()
        self._in_flight = 0
        self._next_seq = 0
        self._next_out = 0
        self._early = {}  # results that overtook an earlier one (keep_order)
        self._start_workers()
        self._iter = iter(self.ds) if self._strict else iter(RepeatedData(self.ds, -1))
        self._fill()

    def _submit(self, dp):
        self._send(self._next_seq, dp)
        self._next_seq += 1
        self._in_flight += 1

    def _fill(self):
        while self._in_flight < self._buffer_size:
            try:
                dp = next(self._iter)
            except StopIteration:
                return
            self._submit(dp)

    def _take(self):
        if self._keep_order:
            while self._next_out not in self._early:
                seq, out = self._recv()
                self._early[seq] = out
            out = self._early.pop(self._next_out)
            self._next_out += 1
        else:
            out = self._recv()[1]
        self._in_flight -= 1
        if out is None and self._strict:
            raise ValueError("{}: map_func returned None, which is not allowed with strict=True "
                             "(every datapoint must map to one). Use strict=False to drop "
                             "datapoints.".format(type(self).__name__))
        return out

    def __iter__(self):
        if self._iter is None:
            raise RuntimeError("Call {}.reset_state() before iterating it.".format(
                type(self).__name__))
        with self._guard:
            if not self._strict:
                for dp in self._iter:  # endless
                    self._submit(dp)
                    out = self._take()
                    if out is not None:
                        yield out
                return
            for dp in self._iter:
                self._submit(dp)
                yield self._take()
            # This pass is fully submitted: drain it, prefetching the next pass at the end.
            self._iter = iter(self.ds)
            remaining = self._in_flight
            for k in range(remaining):
                out = self._take()
                if k == remaining - 1:
                    self._fill()
                yield out


class MultiThreadMapData(ThreadFailuresMixin, _ParallelMapData):
    """:class:`MapData` with ``map_func`` running in ``num_thread`` threads.

    Useful when ``map_func`` releases the GIL (OpenCV, NumPy, file reads). Run it inside
    ``MultiProcessRunnerZMQ(..., 1)`` to keep the threads out of the training process.
    """

    def __init__(self, ds, num_thread=None, map_func=None, *, buffer_size=200, strict=False,
                 keep_order=False):
        """
        Args:
            ds (DataFlow): the source.
            num_thread (int): number of threads.
            map_func (callable): datapoint -> datapoint, or None to drop it (strict=False).
            buffer_size (int): datapoints in flight.
            strict (bool): one pass in, one pass out (see the module docstring).
            keep_order (bool): yield results in the source's order.
        """
        super().__init__(ds, map_func, buffer_size, strict, keep_order)
        self.num_thread = positive_int("num_thread", num_thread or 0, type(self).__name__)
        self._threads = []

    def _start_workers(self):
        self.close()
        self._failure = None
        self._in_queue = queue.Queue()
        self._out_queue = queue.Queue()
        self._threads = [threading.Thread(target=self._work, args=(k,), daemon=True,
                                          name="MultiThreadMapData-{}".format(k))
                         for k in range(self.num_thread)]
        for th in self._threads:
            th.start()

    def _work(self, index):
        inq, outq, func = self._in_queue, self._out_queue, self.map_func
        while True:
            job = inq.get()
            if job is None:
                return
            try:
                outq.put((job[0], func(job[1])))
            except Exception:
                outq.put(Failure(failure_report("MultiThreadMapData thread {}".format(index))))
                return

    def _send(self, seq, dp):
        self._in_queue.put((seq, dp))

    def _recv(self):
        self._raise_if_failed()
        return self._unwrap(self._out_queue.get())

    def close(self):
        """Stop the threads (daemons: they never keep the process alive)."""
        threads, self._threads = self._threads, []
        for _ in threads:
            self._in_queue.put(None)
        for th in threads:
            th.join(timeout=2 * CHECK_INTERVAL)


def _zmq_socket(context, kind, endpoint, hwm, bind):
    sock = context.socket(kind)
    sock.set_hwm(hwm)
    if bind:
        sock.bind(endpoint)
    else:
        sock.setsockopt(import_zmq().RECONNECT_IVL, 10)
        sock.connect(endpoint)
    return sock


def _map_worker(map_func, job_endpoint, result_endpoint, hwm, where):
    """Worker body of MultiProcessMapData: map jobs ``[seq, dp]`` to results ``[seq, out]``."""
    zmq = import_zmq()
    context = zmq.Context()
    jobs = _zmq_socket(context, zmq.PULL, job_endpoint, hwm, bind=False)
    results = _zmq_socket(context, zmq.PUSH, result_endpoint, hwm, bind=False)
    results.send(dumps([_HELLO, None]))
    try:
        while True:
            seq, dp = loads(jobs.recv(copy=False))
            results.send(dumps([seq, map_func(dp)]), copy=False)
    except Exception:
        report_failure_and_exit(context, results, where)


def _wait_for_hellos(receiver, count, owner):
    for _ in range(count):
        seq, _ = loads(receiver.recv())
        if seq != _HELLO:
            raise RuntimeError("{}: unexpected message before the workers were ready.".format(
                owner))


class MultiProcessMapDataZMQ(ZMQWorkersMixin, _ParallelMapData):
    """:class:`MapData` with ``map_func`` running in ``num_proc`` forked processes.

    ``map_func`` is inherited through the fork (it needs not be picklable); datapoints and
    results travel as msgpack, so they must be made of the types
    :mod:`tensorpack.utils.serialize` supports.
    """

    def __init__(self, ds, num_proc=None, map_func=None, *, buffer_size=200, strict=False,
                 keep_order=False):
        """
        Args:
            ds (DataFlow): the source.
            num_proc (int): number of worker processes.
            map_func (callable): datapoint -> datapoint, or None to drop it (strict=False).
            buffer_size (int): datapoints in flight.
            strict (bool): one pass in, one pass out (see the module docstring).
            keep_order (bool): yield results in the source's order.
        """
        super().__init__(ds, map_func, buffer_size, strict, keep_order)
        self.num_proc = positive_int("num_proc", num_proc or 0, type(self).__name__)

    def _start_workers(self):
        self._check_not_started()
        zmq = import_zmq()
        name = type(self).__name__
        self._ipc = IpcDir()
        job_ep, result_ep = self._ipc.endpoint("jobs"), self._ipc.endpoint("results")
        hwm = self._buffer_size + 1
        self._workers = WorkerGroup(name)
        self._workers.start([(_map_worker, (self.map_func, job_ep, result_ep, hwm,
                                            "{} worker {}".format(name, k)))
                             for k in range(self.num_proc)])
        self._context = zmq.Context()
        self._jobs = _zmq_socket(self._context, zmq.PUSH, job_ep, hwm, bind=True)
        results = _zmq_socket(self._context, zmq.PULL, result_ep, hwm + self.num_proc, bind=True)
        self._sockets = [self._jobs, results]
        self._receiver = ZMQReceiver(results, self._workers)
        # Jobs go round-robin to *connected* workers: wait for all, or the first gets them all.
        _wait_for_hellos(self._receiver, self.num_proc, name)

    def _send(self, seq, dp):
        zmq = import_zmq()
        data = dumps([seq, dp])
        while True:
            try:
                self._jobs.send(data, zmq.NOBLOCK, copy=False)
                return
            except zmq.Again:  # every worker's queue is full: wait, but notice deaths
                self._receiver.check_workers()
                self._jobs.poll(int(CHECK_INTERVAL * 1000), zmq.POLLOUT)

    def _recv(self):
        return loads(self._receiver.recv())


def _dispatch(ds, job_endpoint, result_endpoint, hwm, where):
    """Dispatcher of MultiProcessMapAndBatchData: feed ``ds`` (repeated) to the workers."""
    zmq = import_zmq()
    context = zmq.Context()
    jobs = _zmq_socket(context, zmq.PUSH, job_endpoint, hwm, bind=True)
    errors = _zmq_socket(context, zmq.PUSH, result_endpoint, 1, bind=False)
    try:
        ds = RepeatedData(ds, -1)
        ds.reset_state()
        for dp in ds:
            jobs.send(dumps(dp), copy=False)
    except Exception:
        report_failure_and_exit(context, errors, where)


def _map_batch_worker(map_func, batch_size, job_endpoint, result_endpoint, hwm, where):
    """Worker of MultiProcessMapAndBatchData: map datapoints, send full batches."""
    zmq = import_zmq()
    context = zmq.Context()
    jobs = _zmq_socket(context, zmq.PULL, job_endpoint, hwm * batch_size, bind=False)
    results = _zmq_socket(context, zmq.PUSH, result_endpoint, max(hwm, 5), bind=False)
    batch = []
    try:
        while True:
            dp = map_func(loads(jobs.recv(copy=False)))
            if dp is not None:
                batch.append(dp)
                if len(batch) == batch_size:
                    results.send(dumps(BatchData.aggregate_batch(batch)), copy=False)
                    batch = []
    except Exception:
        report_failure_and_exit(context, results, where)


class MultiProcessMapAndBatchDataZMQ(ZMQWorkersMixin, DataFlow):
    """Map and batch in ``num_proc`` processes, fed by one dispatcher process.

    Iteration never ends (the source is repeated). With ``num_proc=1`` the batches equal
    ``BatchData(MapData(ds, map_func), batch_size)``'s; with more, datapoints of one batch
    come from one worker, and batches of different workers interleave.
    """

    def __init__(self, ds, num_proc, map_func, batch_size, buffer_size=None):
        """
        Args:
            ds (DataFlow): the source (iterated in the dispatcher process).
            num_proc (int): number of mapping processes.
            map_func (callable): datapoint -> datapoint, or None to drop it.
            batch_size (int): datapoints per batch.
            buffer_size (int): datapoints (not batches) in flight; default ``batch_size * 10``.
        """
        name = type(self).__name__
        self.ds = ds
        self.num_proc = positive_int("num_proc", num_proc, name)
        self.batch_size = positive_int("batch_size", batch_size, name)
        if buffer_size is None:
            buffer_size = self.batch_size * 10
        self.buffer_size = positive_int("buffer_size", buffer_size, name)
        if self.buffer_size <= self.batch_size:
            raise ValueError("{}: buffer_size ({}) must be larger than batch_size ({}).".format(
                name, self.buffer_size, self.batch_size))
        if not callable(map_func):
            raise TypeError("{}: map_func must be callable, got {!r}.".format(name, map_func))
        self.map_func = map_func
        self._guard = DataFlowReentrantGuard()

    def reset_state(self):
        """Start the dispatcher and the workers (once)."""
        self._check_not_started()
        zmq = import_zmq()
        name = type(self).__name__
        self._ipc = IpcDir()
        job_ep, result_ep = self._ipc.endpoint("jobs"), self._ipc.endpoint("results")
        worker_hwm = max(3, self.buffer_size // self.num_proc // self.batch_size)
        self._workers = WorkerGroup(name)
        jobs = [(_dispatch, (self.ds, job_ep, result_ep, self.buffer_size,
                             name + " dispatcher"))]
        jobs += [(_map_batch_worker, (self.map_func, self.batch_size, job_ep, result_ep,
                                      worker_hwm, "{} worker {}".format(name, k)))
                 for k in range(self.num_proc)]
        self._workers.start(jobs)
        self._context = zmq.Context()
        results = _zmq_socket(self._context, zmq.PULL, result_ep,
                              max(5, self.buffer_size // self.batch_size), bind=True)
        self._sockets = [results]
        self._receiver = ZMQReceiver(results, self._workers)

    def __iter__(self):
        if self._workers is None:
            raise RuntimeError("Call {}.reset_state() before iterating it.".format(
                type(self).__name__))
        with self._guard:
            while True:
                yield loads(self._receiver.recv())


MultiProcessMapData = MultiProcessMapDataZMQ
MultiProcessMapAndBatchData = MultiProcessMapAndBatchDataZMQ
