"""Threads and processes: stoppable and pausable threads, threads sharing a TF session,
child processes that never outlive the parent, and a shell call with a timeout.

TensorFlow-free: :class:`ShareSessionThread` only looks at TensorFlow if it is loaded.
"""
import atexit
import bisect
import contextlib
import ctypes
import multiprocessing as mp
import platform
import queue
import signal
import subprocess
import sys
import threading
import weakref

from . import logger

__all__ = ["StoppableThread", "LoopThread", "ShareSessionThread", "ensure_proc_terminate",
           "start_proc_mask_signal", "enable_death_signal", "mask_sigint", "is_main_thread",
           "subproc_call", "DIE", "OrderedContainer", "OrderedResultGatherProc"]


class StoppableThread(threading.Thread):
    """A thread with a stop event that its loop is expected to check."""

    def __init__(self, evt=None):
        """
        Args:
            evt (threading.Event): the stop event; a new one by default.
        """
        super().__init__()
        self._stop_evt = threading.Event() if evt is None else evt

    def stop(self):
        """Ask the thread to stop."""
        self._stop_evt.set()

    def stopped(self):
        """Returns: bool: whether :meth:`stop` was called."""
        return self._stop_evt.is_set()

    def queue_put_stoppable(self, q, obj):
        """Put ``obj`` into ``q``, giving up if the thread is stopped while ``q`` is full."""
        while not self.stopped():
            try:
                q.put(obj, timeout=5)
                return
            except queue.Full:
                pass

    def queue_get_stoppable(self, q):
        """Take an item from ``q``; None if the thread is stopped while ``q`` is empty."""
        while not self.stopped():
            try:
                return q.get(timeout=5)
            except queue.Empty:
                pass
        return None


class LoopThread(StoppableThread):
    """A daemon thread calling ``func()`` in a loop until stopped; optionally pausable."""

    def __init__(self, func, pausable=True):
        """
        Args:
            func: called repeatedly.
            pausable (bool): support :meth:`pause` / :meth:`resume`.
        """
        super().__init__()
        self._func = func
        self._pausable = pausable
        self._running = threading.Event()
        self._running.set()
        self.daemon = True

    def run(self):
        while not self.stopped():
            if self._pausable:
                self._running.wait()
                if self.stopped():
                    return
            self._func()

    def _check_pausable(self):
        if not self._pausable:
            raise RuntimeError("This LoopThread was created with pausable=False.")

    def pause(self):
        """Pause after the current call of ``func``."""
        self._check_pausable()
        self._running.clear()

    def resume(self):
        """Resume a paused loop."""
        self._check_pausable()
        self._running.set()

    def stop(self):
        super().stop()
        self._running.set()  # a paused loop wakes up to notice the stop


def _default_tf_session():
    tf = sys.modules.get("tensorflow")
    return None if tf is None else tf.compat.v1.get_default_session()


class ShareSessionThread(threading.Thread):
    """A thread that runs under the TensorFlow default session of whoever called
    :meth:`start`. Subclass it and use ``with self.default_sess():`` in ``run``, or wrap
    another thread: ``ShareSessionThread(th)``."""

    def __init__(self, th=None):
        """
        Args:
            th (threading.Thread): a thread whose ``run`` to execute under the session.

        Raises:
            TypeError: if ``th`` is not a Thread.
        """
        super().__init__()
        self._sess = None
        self._th = th
        if th is not None:
            if not isinstance(th, threading.Thread):
                raise TypeError("ShareSessionThread wraps a threading.Thread, got {!r}.".format(th))
            self.name = th.name
            self.daemon = th.daemon

    @contextlib.contextmanager
    def default_sess(self):
        """A context making the session captured at ``start()`` the default one."""
        if self._sess is None:
            logger.warn("ShareSessionThread {} wasn't under a default session!".format(self.name))
            yield None
        else:
            with self._sess.as_default():
                yield self._sess

    def start(self):
        self._sess = _default_tf_session()
        super().start()

    def run(self):
        if self._th is None:
            raise NotImplementedError("Override run(), or give the thread to wrap.")
        with self.default_sess():
            self._th.run()


class DIE:
    """A marker put into a queue to say that no more items follow."""


def ensure_proc_terminate(proc):
    """Terminate a child process (or a list of them) when the main process exits.

    Args:
        proc (multiprocessing.Process or list)

    Raises:
        TypeError: for something that is not a process.
    """
    if isinstance(proc, list):
        for p in proc:
            ensure_proc_terminate(p)
        return
    if not isinstance(proc, mp.process.BaseProcess):
        raise TypeError("ensure_proc_terminate takes multiprocessing.Process objects, got "
                        "{!r}.".format(proc))

    def stop(ref):
        p = ref()
        if p is not None and p.is_alive():
            p.terminate()
            p.join()
    atexit.register(stop, weakref.ref(proc))


def enable_death_signal(_warn=True):
    """Make the current process receive SIGHUP when its parent dies (Linux only), so that
    workers are cleaned up even if the parent is killed."""
    if platform.system() != "Linux":
        return
    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        if libc.prctl(pr_set_pdeathsig, int(signal.SIGHUP), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    except OSError as e:
        if _warn:
            logger.warn("Could not set the death signal of this process: {}".format(e))


def is_main_thread():
    """Returns: bool: whether the caller runs in the main thread."""
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def mask_sigint():
    """In the main thread, a context ignoring SIGINT (yields True); elsewhere, a no-op
    context (yields False)."""
    if not is_main_thread():
        yield False
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield True
    finally:
        signal.signal(signal.SIGINT, old)


def start_proc_mask_signal(proc):
    """Start process(es) with SIGINT ignored, so that Ctrl-C reaches only the main process
    (which then stops its children cleanly).

    Args:
        proc (multiprocessing.Process or list)
    """
    procs = proc if isinstance(proc, list) else [proc]
    with mask_sigint():
        for p in procs:
            p.start()


def subproc_call(cmd, timeout=None):
    """Run a shell command and return its combined stdout and stderr.

    Args:
        cmd (str): the command.
        timeout (float): seconds before it is killed.

    Returns:
        (bytes, int): the output and the return code; -1 on timeout, -2 if it could not run.
    """
    try:
        out = subprocess.check_output(cmd, stderr=subprocess.STDOUT, shell=True, timeout=timeout)
        return out, 0
    except subprocess.TimeoutExpired as e:
        logger.warn("Command '{}' timeout!".format(cmd))
        if e.output:
            logger.warn(e.output.decode("utf-8", "replace"))
        return e.output or b"", -1
    except subprocess.CalledProcessError as e:
        logger.warn("Command '{}' failed, return code={}".format(cmd, e.returncode))
        logger.warn(e.output.decode("utf-8", "replace"))
        return e.output, e.returncode
    except OSError:
        logger.warn("Command '{}' failed to run.".format(cmd))
        return b"", -2


class OrderedContainer:
    """Holds ranked items and releases them strictly in rank order (not thread-safe)."""

    def __init__(self, start=0):
        """
        Args:
            start (int): the first rank to release.
        """
        self.ranks = []
        self.data = []
        self.wait_for = start

    def put(self, rank, val):
        """
        Args:
            rank (int): a rank not used before.
            val: the item.
        """
        idx = bisect.bisect(self.ranks, rank)
        self.ranks.insert(idx, rank)
        self.data.insert(idx, val)

    def has_next(self):
        """Returns: bool: whether the item of the awaited rank is here."""
        return bool(self.ranks) and self.ranks[0] == self.wait_for

    def get(self):
        """Returns: (int, object): the next rank and its item.

        Raises:
            LookupError: if it has not arrived (check :meth:`has_next`).
        """
        if not self.has_next():
            raise LookupError("OrderedContainer: rank {} has not arrived.".format(self.wait_for))
        self.wait_for += 1
        return self.ranks.pop(0), self.data.pop(0)


class OrderedResultGatherProc(mp.Process):
    """A process reading ``(rank, data)`` from a queue and producing them in rank order;
    it ends after ``nr_producer`` :class:`DIE` markers (each is passed on)."""

    def __init__(self, data_queue, nr_producer, start=0):
        """
        Args:
            data_queue (multiprocessing.Queue): ``(rank, data)`` or ``(DIE, _)`` items.
            nr_producer (int): producers, each ending with one DIE.
            start (int): the first rank.
        """
        super().__init__()
        self.data_queue = data_queue
        self.ordered_container = OrderedContainer(start=start)
        self.result_queue = mp.Queue()
        self.nr_producer = nr_producer

    def run(self):
        ended = 0
        while ended < self.nr_producer:
            rank, data = self.data_queue.get()
            if rank is DIE:
                self.result_queue.put((rank, data))
                ended += 1
                continue
            self.ordered_container.put(rank, data)
            while self.ordered_container.has_next():
                self.result_queue.put(self.ordered_container.get())

    def get(self):
        """Returns: the next ``(rank, data)`` in order (or a DIE marker)."""
        return self.result_queue.get()
