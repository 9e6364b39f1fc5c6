"""Worker processes for parallel DataFlows: started apart, seeded apart, never orphaned.

Every worker process
  * ignores Ctrl-C (the main process gets it and shuts the workers down),
  * dies with its parent: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` on Linux, plus a thread that
    watches the parent's pid (covers other platforms, and a parent that died mid-fork),
  * reseeds ``random`` and ``numpy.random`` (forked copies would otherwise share a stream;
    with :func:`fix_rng_seed` each worker gets ``seed + 1 + index``, so runs stay reproducible),
  * reports an exception as a message carrying its traceback, then exits.

The main process stops its workers when the DataFlow is closed or collected, and at exit.
"""
import atexit
import builtins
import ctypes
import multiprocessing as mp
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import weakref

import numpy as np

from tensorpack.utils import logger
from tensorpack.utils import utils as _tp_utils

__all__ = ["DataFlowWorkerError", "WorkerGroup", "failure_report", "raise_failure",
           "IpcDir", "CHECK_INTERVAL"]

# How often (seconds) a waiting consumer checks that its workers are still alive.
CHECK_INTERVAL = 0.5
_PR_SET_PDEATHSIG = 1


class DataFlowWorkerError(RuntimeError):
    """A parallel DataFlow's worker raised an exception or died.

    When the worker raised a built-in exception (``ValueError``, ``KeyError``, ...), the error
    raised in the main process is also an instance of that type, so existing ``except``
    clauses keep working.

    Attributes:
        exc_type_name (str): the name of the worker's exception type (or None if it died).
        worker_traceback (str): the worker's formatted traceback (or None).
    """

    def __init__(self, message, exc_type_name=None, worker_traceback=None):
        super().__init__(message)
        self.exc_type_name = exc_type_name
        self.worker_traceback = worker_traceback

    def __str__(self):  # not KeyError's repr() of the message
        return str(self.args[0]) if self.args else ""


_ERROR_CLASSES = {}


def _error_class(type_name):
    """DataFlowWorkerError, mixed with the built-in exception of that name when there is one."""
    builtin = getattr(builtins, type_name or "", None)
    if not (isinstance(builtin, type) and issubclass(builtin, Exception)) \
            or issubclass(DataFlowWorkerError, builtin):
        return DataFlowWorkerError
    if type_name not in _ERROR_CLASSES:
        try:
            cls = type(type_name, (DataFlowWorkerError, builtin), {"__module__": __name__})
        except TypeError:  # incompatible C layout (e.g. OSError); the base class will do
            cls = DataFlowWorkerError
        _ERROR_CLASSES[type_name] = cls
    return _ERROR_CLASSES[type_name]


def failure_report(where):
    """Describe the exception being handled, as a dict of plain strings (safe to serialize).

    Args:
        where (str): which worker, e.g. ``"MultiProcessRunnerZMQ worker 1"``.
    """
    exc_type, exc, _ = sys.exc_info()
    return {"where": where, "pid": os.getpid(), "type": exc_type.__name__,
            "message": str(exc), "traceback": traceback.format_exc()}


def raise_failure(report):
    """Raise the error a worker described with :func:`failure_report`."""
    tb = report.get("traceback")
    if tb is None:  # no exception in a worker: it died, or the pipeline reports a problem
        raise DataFlowWorkerError("{}: {}".format(report.get("where"), report.get("message")))
    message = "{} (pid {}) raised {}: {}\n\nTraceback in the worker:\n{}".format(
        report.get("where"), report.get("pid"), report.get("type"), report.get("message"),
        tb.rstrip())
    raise _error_class(report.get("type"))(message, report.get("type"), tb)


# ---------------------------------------------------------------------------- in the worker
def _die_with_parent(parent_pid, use_pdeathsig):
    if use_pdeathsig and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watchdog still covers it
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _reseed(index):
    fixed = _tp_utils.fixed_rng_seed()
    if fixed is not None:
        # Reproducible, yet different per worker: get_rng() then differs between workers too.
        seed = (fixed + 1 + index) % (2 ** 32)
        _tp_utils.fix_rng_seed(seed)
    else:
        seed = int.from_bytes(os.urandom(4), "little")
    random.seed(seed)
    np.random.seed(seed)


def _worker_main(target, args, index, parent_pid, use_pdeathsig):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _die_with_parent(parent_pid, use_pdeathsig)
    _reseed(index)
    try:
        target(*args)
    finally:
        # Pipelines nested in this worker: stop their workers now, or multiprocessing's exit
        # hook would wait for them forever.
        _stop_all_groups()


# ---------------------------------------------------------------------------- in the main
_LIVE_GROUPS = weakref.WeakSet()
_ATEXIT_DONE = False


def _stop_all_groups():
    for group in list(_LIVE_GROUPS):
        group.stop()


class WorkerGroup:
    """A set of forked worker processes that are stopped together.

    Args:
        name (str): used in messages, e.g. ``"MultiProcessRunnerZMQ"``.
    """

    def __init__(self, name):
        self.name = name
        self.procs = []
        self._next_check = 0.0
        self._owner = os.getpid()  # a forked copy of this object must not stop anything
        self._stopped = False

    def start(self, jobs):
        """Fork one worker per ``(target, args)`` in ``jobs``; each runs ``target(*args)``.

        A worker's index (its position in ``jobs``) seeds it.
        """
        global _ATEXIT_DONE
        import multiprocessing.util  # noqa: F401  (its exit hook must be registered first)
        if not _ATEXIT_DONE:
            # atexit runs hooks last-in first-out: ours stops the workers before
            # multiprocessing's hook would wait for them forever.
            atexit.register(_stop_all_groups)
            _ATEXIT_DONE = True
        ctx = mp.get_context("fork")
        # PDEATHSIG fires when the forking *thread* ends, so use it only from the main thread.
        use_pdeathsig = threading.current_thread() is threading.main_thread()
        parent = os.getpid()
        # Block Ctrl-C across the fork so a worker never runs Python's SIGINT handler.
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for index, (target, args) in enumerate(jobs):
                proc = ctx.Process(target=_worker_main, name="{}-{}".format(self.name, index),
                                   args=(target, tuple(args), index, parent, use_pdeathsig))
                proc.start()
                self.procs.append(proc)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        _LIVE_GROUPS.add(self)

    def pids(self):
        return [p.pid for p in self.procs]

    def dead_worker(self):
        """A description of the first worker that has exited, or None if all are running."""
        if self._stopped:
            return "{}: its workers were stopped (by close() or an earlier error)".format(
                self.name)
        for proc in self.procs:
            code = proc.exitcode
            if code is not None:
                how = ("was killed by signal {}".format(signal.Signals(-code).name)
                       if code < 0 else "exited with code {}".format(code))
                return "{} worker {} (pid {}) {}".format(self.name, proc.name, proc.pid, how)
        return None

    def due_for_check(self):
        """True at most every CHECK_INTERVAL seconds (cheap to call per datapoint)."""
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + CHECK_INTERVAL
            return True
        return False

    def stop(self, timeout=3.0):
        """Terminate all workers (SIGTERM, then SIGKILL after ``timeout``) and reap them."""
        if os.getpid() != self._owner:
            return
        procs, self.procs = self.procs, []
        self._stopped = True
        _LIVE_GROUPS.discard(self)
        if not procs:
            return
        for proc in procs:
            if proc.exitcode is None:
                try:
                    proc.terminate()
                except (OSError, AttributeError):
                    pass
        deadline = time.monotonic() + timeout
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.exitcode is None:
                proc.kill()
                proc.join(1.0)
        logger.debug("{}: stopped {} worker(s).".format(self.name, len(procs)))

    def __del__(self):
        try:
            self.stop()
        except Exception:
            pass


def _remove_dir(path, owner):
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


def _sweep_stale_dirs(prefix):
    """Remove ipc directories left by processes of this user that died without cleaning up
    (e.g. killed with SIGKILL); the owner's pid is part of the name."""
    root = tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(root) if n.startswith(prefix)]
    except OSError:
        return
    for name in names:
        try:
            pid = int(name[len(prefix):].split("-", 1)[0])
            path = os.path.join(root, name)
            if os.stat(path).st_uid != os.getuid() or _pid_alive(pid):
                continue
        except (ValueError, OSError):
            continue
        shutil.rmtree(path, ignore_errors=True)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class IpcDir:
    """A private temporary directory holding ZeroMQ ``ipc://`` endpoints.

    Removed by :meth:`close`, when collected, or at exit; directories of processes that were
    killed are swept when the next one is created.
    """

    PREFIX = "tensorpack-zmq-"

    def __init__(self):
        _sweep_stale_dirs(self.PREFIX)
        self.path = tempfile.mkdtemp(prefix="{}{}-".format(self.PREFIX, os.getpid()))
        self._finalizer = weakref.finalize(self, _remove_dir, self.path, os.getpid())

    def endpoint(self, name):
        return "ipc://" + os.path.join(self.path, name)

    def close(self):
        self._finalizer()
