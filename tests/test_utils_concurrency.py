"""utils.concurrency: threads, child processes, subproc_call, ordering."""
import multiprocessing as mp
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from tensorpack.utils.concurrency import (DIE, LoopThread, OrderedContainer,
                                          OrderedResultGatherProc, ShareSessionThread,
                                          StoppableThread, ensure_proc_terminate, mask_sigint,
                                          start_proc_mask_signal, subproc_call)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_stoppable_thread_queue_helpers():
    t = StoppableThread()
    q = queue.Queue(maxsize=1)
    t.queue_put_stoppable(q, 1)
    assert t.queue_get_stoppable(q) == 1
    t.stop()
    assert t.stopped()
    q.put(2)
    t.queue_put_stoppable(q, 3)  # full and stopped: gives up at once
    assert q.get_nowait() == 2
    assert t.queue_get_stoppable(queue.Queue()) is None


def test_loop_thread_pause_resume_stop():
    count = []
    t = LoopThread(lambda: (count.append(1), time.sleep(0.001)))
    t.start()
    deadline = time.time() + 10
    while not count and time.time() < deadline:
        time.sleep(0.01)
    t.pause()
    time.sleep(0.05)
    frozen = len(count)
    time.sleep(0.1)
    assert len(count) <= frozen + 1
    t.resume()
    while len(count) < frozen + 5 and time.time() < deadline:
        time.sleep(0.01)
    assert len(count) >= frozen + 5
    t.pause()
    t.stop()  # stopping a paused loop ends it
    t.join(5)
    assert not t.is_alive()
    with pytest.raises(RuntimeError):
        LoopThread(lambda: None, pausable=False).pause()


def test_share_session_thread_without_tf_session():
    ran = []

    class Worker(threading.Thread):
        def run(self):
            ran.append(1)
    t = ShareSessionThread(Worker())
    t.start()
    t.join(5)
    assert ran == [1]
    with pytest.raises(TypeError):
        ShareSessionThread("no")


def test_share_session_thread_uses_default_session():
    from tensorpack.compat import tfv1
    seen = []

    class Worker(ShareSessionThread):
        def run(self):
            with self.default_sess() as sess:
                seen.append(sess is tfv1.get_default_session())
    sess = tfv1.Session(graph=tfv1.Graph())
    with sess.as_default():
        w = Worker()
        w.start()
    w.join(5)
    sess.close()
    assert seen == [True]


def test_subproc_call():
    out, ret = subproc_call("echo hi; echo err >&2")
    assert ret == 0 and b"hi" in out and b"err" in out
    out, ret = subproc_call("exit 3")
    assert ret == 3
    out, ret = subproc_call("sleep 5", timeout=0.2)
    assert ret == -1


def test_ordered_container():
    c = OrderedContainer(start=0)
    c.put(1, "b")
    assert not c.has_next()
    with pytest.raises(LookupError):
        c.get()
    c.put(0, "a")
    assert c.get() == (0, "a") and c.get() == (1, "b")


def _child_sleep():
    time.sleep(60)


def test_mask_sigint_and_start_proc_mask_signal():
    before = signal.getsignal(signal.SIGINT)
    with mask_sigint() as masked:
        assert masked and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) == before
    p = mp.get_context("fork").Process(target=_child_sleep, daemon=True)
    start_proc_mask_signal(p)
    try:
        os.kill(p.pid, signal.SIGINT)  # ignored by the child
        p.join(0.5)
        assert p.is_alive()
    finally:
        p.terminate()
        p.join(5)


def test_ensure_proc_terminate_at_exit():
    script = textwrap.dedent("""
        import multiprocessing as mp, time, sys
        from tensorpack.utils.concurrency import ensure_proc_terminate
        def sleep():
            time.sleep(120)
        if __name__ == '__main__':
            p = mp.get_context('fork').Process(target=sleep)   # not a daemon
            p.start()
            ensure_proc_terminate(p)
            print(p.pid, flush=True)
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, PYTHONPATH=ROOT))
    pid = int(res.stdout.split()[0])
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(TypeError):
        ensure_proc_terminate("x")


def test_ordered_result_gather_proc():
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    proc = OrderedResultGatherProc(q, nr_producer=1)
    proc.start()
    try:
        for rank in (2, 0, 1):
            q.put((rank, rank * 10))
        q.put((DIE, None))
        got = [proc.get() for _ in range(4)]
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
    assert got[:3] == [(0, 0), (1, 10), (2, 20)] and got[3][0] is DIE
