"""Parallel DataFlows: same data as the serial run, order where promised, workers seeded
apart, worker errors surface quickly, and no worker process outlives its consumer."""
import ast
import collections
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import psutil
import pytest

from tensorpack.dataflow import (DataFlow, DataFlowWorkerError, DataFromList, MapData,
                                 MultiProcessMapAndBatchData, MultiProcessMapData,
                                 MultiProcessMapDataZMQ, MultiProcessPrefetchData,
                                 MultiProcessRunner, MultiProcessRunnerZMQ, MultiThreadMapData,
                                 MultiThreadPrefetchData, MultiThreadRunner, PrefetchData,
                                 PrefetchDataZMQ, RNGDataFlow)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
N = 40


@contextlib.contextmanager
def time_limit(seconds):
    """Fail (instead of hanging the suite) if the block takes longer than ``seconds``."""
    def on_alarm(signum, frame):
        raise TimeoutError("the block did not finish within {} s".format(seconds))
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def source():
    return DataFromList([[i, np.full((2, 3), i, dtype=np.float32)] for i in range(N)],
                        shuffle=False)


def children():
    return {p.pid for p in psutil.Process().children(recursive=True)}


def wait_gone(pids, timeout=10.0):
    """The subset of ``pids`` still running (zombies count as gone) after up to ``timeout``."""
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if psutil.pid_exists(p)
                 and psutil.Process(p).status() != psutil.STATUS_ZOMBIE}
        time.sleep(0.05)
    return alive


@pytest.fixture(autouse=True)
def no_leftover_children():
    before = children()
    with time_limit(60):
        yield
    assert not wait_gone(children() - before, timeout=10), "a worker outlived its test"


def tag_pid(dp):
    time.sleep(0.002)  # slow enough that every worker is connected long before the end
    return [dp[0], os.getpid()]


def per_worker(values):
    """{pid: [values in arrival order]}."""
    out = collections.defaultdict(list)
    for v, pid in values:
        out[pid].append(v)
    return out


# ------------------------------------------------------------------------- same data, order
def test_runner_one_process_keeps_order_and_length():
    ds = MultiProcessRunnerZMQ(source(), num_proc=1)
    ds.reset_state()
    assert len(ds) == N
    for _ in range(2):  # each pass yields len(ds) datapoints
        got = list(ds)
        assert [dp[0] for dp in got] == list(range(N))
        np.testing.assert_array_equal(got[5][1], np.full((2, 3), 5, np.float32))
        assert got[5][1].flags.writeable
    ds.close()


@pytest.mark.parametrize("make", [
    lambda df: MultiProcessRunnerZMQ(df, num_proc=2, hwm=4),
    lambda df: MultiProcessRunner(df, num_prefetch=6, num_proc=2),
])
def test_runner_each_worker_runs_a_full_copy_in_order(make):
    ds = make(MapData(source(), tag_pid))
    ds.reset_state()
    got = [dp for _ in range(3) for dp in ds]  # three passes of len(ds)
    workers = per_worker(got)
    assert len(workers) == 2 and os.getpid() not in workers
    for seq in workers.values():  # every worker yields the serial sequence, repeated
        assert seq == [k % N for k in range(len(seq))]
    ds.close()


def test_thread_runner_each_thread_runs_a_full_copy():
    ds = MultiThreadRunner(lambda: MapData(source(), lambda dp: [dp[0]]), 5, 3)
    ds.reset_state()
    got = [dp[0] for dp in ds]
    assert len(got) == N and set(got) <= set(range(N))
    counts = collections.Counter(dp[0] for _, dp in zip(range(3 * N), ds))
    assert all(c <= 3 * 2 for c in counts.values())
    ds.close()


@pytest.mark.parametrize("make", [
    lambda df, f, **kw: MultiThreadMapData(df, 3, f, **kw),
    lambda df, f, **kw: MultiProcessMapData(df, 2, f, **kw),
])
def test_parallel_map_strict_equals_map_data(make):
    def f(dp):
        return [dp[0] * 10, dp[1] + 1]
    serial = [dp[0] for dp in MapData(source(), f)]
    ds = make(source(), f, buffer_size=7, strict=True)
    ds.reset_state()
    for _ in range(3):  # several passes: each is exactly one pass of the source
        assert sorted(dp[0] for dp in ds) == serial
    if hasattr(ds, "close"):
        ds.close()


@pytest.mark.parametrize("make", [
    lambda df, f, **kw: MultiThreadMapData(df, 3, f, **kw),
    lambda df, f, **kw: MultiProcessMapDataZMQ(df, 2, f, **kw),
])
def test_parallel_map_keep_order(make):
    def slow_on_some(dp):
        if dp[0] % 7 == 0:  # make later datapoints overtake earlier ones
            time.sleep(0.01)
        return [dp[0] + 100]
    ds = make(source(), slow_on_some, buffer_size=10, strict=True, keep_order=True)
    ds.reset_state()
    for _ in range(2):
        assert [dp[0] for dp in ds] == [i + 100 for i in range(N)]
    ds.close()


def test_parallel_map_non_strict_drops_none_and_repeats():
    def evens(dp):
        return dp if dp[0] % 2 == 0 else None
    ds = MultiProcessMapData(source(), 2, evens, buffer_size=5, keep_order=True)
    ds.reset_state()
    it = iter(ds)
    got = [next(it)[0] for _ in range(N)]  # N outputs span two passes of the source
    assert got == list(range(0, N, 2)) * 2
    ds.close()
    unordered = MultiProcessMapData(source(), 2, evens, buffer_size=5)
    unordered.reset_state()
    it = iter(unordered)
    assert all(next(it)[0] % 2 == 0 for _ in range(2 * N))
    unordered.close()


def test_strict_map_rejects_none():
    ds = MultiThreadMapData(source(), 2, lambda dp: None, buffer_size=4, strict=True)
    ds.reset_state()
    with pytest.raises(ValueError, match="returned None"):
        list(ds)
    ds.close()


def test_map_and_batch():
    def f(dp):
        return [dp[0] * 2]
    one = MultiProcessMapAndBatchData(source(), 1, f, 4, buffer_size=12)
    one.reset_state()
    it = iter(one)
    batches = [next(it)[0].tolist() for _ in range(N // 4)]
    assert batches == [[2 * i for i in range(k, k + 4)] for k in range(0, N, 4)]
    one.close()
    two = MultiProcessMapAndBatchData(source(), 2, f, 4)
    two.reset_state()
    it = iter(two)
    values = np.concatenate([next(it)[0] for _ in range(N // 2)])
    assert set(values.tolist()) <= {2 * i for i in range(N)} and values.shape == (2 * N,)
    two.close()


def test_old_names_are_aliases():
    assert PrefetchData is MultiProcessRunner and MultiProcessPrefetchData is MultiProcessRunner
    assert PrefetchDataZMQ is MultiProcessRunnerZMQ
    assert MultiThreadPrefetchData is MultiThreadRunner


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_proc"):
        MultiProcessRunnerZMQ(source(), num_proc=0)
    with pytest.raises(ValueError, match="buffer_size"):
        MultiProcessMapAndBatchData(source(), 1, lambda x: x, 8, buffer_size=8)
    with pytest.raises(TypeError, match="map_func"):
        MultiThreadMapData(source(), 2, None)
    ds = MultiProcessRunnerZMQ(source(), num_proc=1)
    with pytest.raises(RuntimeError, match="reset_state"):
        next(iter(ds))


# ------------------------------------------------------------------------------- seeding
class RandomInts(RNGDataFlow):
    """No length: a parallel runner's pass is then endless."""

    def __iter__(self):
        for _ in range(20):
            time.sleep(0.002)
            yield [int(self.rng.randint(1 << 30)), int(np.random.randint(1 << 30)), os.getpid()]


def test_runner_workers_are_seeded_apart():
    ds = MultiProcessRunnerZMQ(RandomInts(), num_proc=2)
    ds.reset_state()
    it = iter(ds)
    by_pid = collections.defaultdict(list)
    for _ in range(60):
        a, b, pid = next(it)
        by_pid[pid].append((a, b))
    assert len(by_pid) == 2
    first, second = (v[:10] for v in by_pid.values())
    assert not {a for a, _ in first} & {a for a, _ in second}   # RNGDataFlow.rng differs
    assert not {b for _, b in first} & {b for _, b in second}   # global numpy RNG differs
    ds.close()


def test_map_workers_have_different_global_rngs():
    ds = MultiProcessMapData(source(), 2, lambda dp: [int(np.random.randint(1 << 30)),
                                                      os.getpid()], buffer_size=8)
    ds.reset_state()
    seen = []
    # On a loaded machine one worker may serve many datapoints first: read on, over epochs.
    for dp in itertools.islice(itertools.chain.from_iterable(ds for _ in range(10)), 400):
        seen.append(dp)
        workers = per_worker(seen)
        if len(seen) >= 30 and len(workers) == 2 and min(map(len, workers.values())) >= 5:
            break
    ds.close()
    assert len(workers) == 2
    a, b = workers.values()
    assert not set(a) & set(b)


# -------------------------------------------------------------------------------- errors
def explode_at_7(dp):
    if dp[0] == 7:
        raise ValueError("datapoint 7 is cursed")
    return dp


@pytest.mark.parametrize("make", [
    lambda: MultiProcessRunnerZMQ(MapData(source(), explode_at_7), num_proc=2),
    lambda: MultiProcessRunner(MapData(source(), explode_at_7), 4, 2),
    lambda: MultiThreadRunner(lambda: MapData(source(), explode_at_7), 4, 2),
    lambda: MultiThreadMapData(source(), 2, explode_at_7, buffer_size=4),
    lambda: MultiProcessMapData(source(), 2, explode_at_7, buffer_size=4),
    lambda: MultiProcessMapAndBatchData(source(), 2, explode_at_7, 2, buffer_size=6),
    lambda: MultiProcessMapAndBatchData(MapData(source(), explode_at_7), 2, lambda x: x, 2,
                                        buffer_size=6),
], ids=["runner-zmq", "runner", "thread-runner", "thread-map", "process-map", "map-batch",
        "map-batch-dispatcher"])
def test_worker_exception_reaches_consumer_with_traceback(make):
    ds = make()
    ds.reset_state()
    with time_limit(20), pytest.raises(ValueError) as info:
        for _ in ds:
            pass
    err = info.value
    assert isinstance(err, DataFlowWorkerError)
    assert "datapoint 7 is cursed" in str(err)
    assert "explode_at_7" in err.worker_traceback and err.exc_type_name == "ValueError"
    with time_limit(20), pytest.raises(DataFlowWorkerError):  # and it stays broken
        next(iter(ds))
    ds.close()


def test_custom_exception_type_becomes_worker_error():
    class Mine(Exception):
        pass

    def f(dp):
        raise Mine("custom failure")
    ds = MultiProcessMapData(source(), 1, f, buffer_size=2)
    ds.reset_state()
    with time_limit(20), pytest.raises(DataFlowWorkerError, match="Mine: custom failure"):
        next(iter(ds))
    ds.close()


def test_killed_worker_is_reported():
    def f(dp):
        if dp[0] == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return dp
    ds = MultiProcessMapData(source(), 2, f, buffer_size=4, strict=True)
    ds.reset_state()
    with time_limit(20), pytest.raises(DataFlowWorkerError, match="SIGKILL"):
        list(ds)
    ds.close()


def test_unserializable_datapoint_names_its_type():
    ds = MultiProcessRunnerZMQ(DataFromList([[object()]], shuffle=False), num_proc=1)
    ds.reset_state()
    with time_limit(20), pytest.raises(TypeError, match="builtins.object"):
        next(iter(ds))
    ds.close()


def test_empty_dataflow_is_an_error_not_a_hang():
    class Empty(DataFlow):
        def __iter__(self):
            return iter(())
    ds = MultiProcessRunnerZMQ(Empty(), num_proc=1)
    ds.reset_state()
    with time_limit(20), pytest.raises(ValueError, match="no datapoint"):
        next(iter(ds))
    ds.close()


# ----------------------------------------------------------------------------- no orphans
def test_close_and_garbage_collection_stop_workers():
    before = children()
    ds = MultiProcessRunnerZMQ(source(), num_proc=2)
    ds.reset_state()
    next(iter(ds))
    workers = children() - before
    assert len(workers) == 2
    ds.close()
    assert not wait_gone(workers, timeout=5)

    m = MultiProcessMapData(source(), 2, lambda dp: dp, buffer_size=4)
    m.reset_state()
    workers = children() - before
    assert len(workers) == 2
    del m
    assert not wait_gone(workers, timeout=5)


def test_workers_stop_after_worker_exception():
    before = children()
    ds = MultiProcessRunnerZMQ(MapData(source(), explode_at_7), num_proc=2)
    ds.reset_state()
    workers = children() - before
    with pytest.raises(ValueError):
        list(ds)
    assert not wait_gone(workers, timeout=5)


PIPELINE = textwrap.dedent("""
    import os, sys, time, psutil
    import numpy as np
    from tensorpack.dataflow import *
    def slow(dp):
        time.sleep(0.01)
        return dp
    ds = DataFromList([[i, np.zeros(3)] for i in range(50)], shuffle=False)
    kind = sys.argv[1]
    if kind == "nested":
        ds = MultiProcessRunnerZMQ(MultiProcessMapData(ds, 2, slow, buffer_size=4), 1)
    elif kind == "map":
        ds = MultiProcessMapData(ds, 2, slow, buffer_size=4)
    else:
        ds = MultiProcessRunnerZMQ(MapData(ds, slow), 2)
    ds.reset_state()
    it = iter(ds)
    next(it)
    want = 3 if kind == "nested" else 2
    while len(psutil.Process().children(recursive=True)) < want:
        time.sleep(0.05)
    pids = [p.pid for p in psutil.Process().children(recursive=True)]
    print("PIDS", " ".join(map(str, pids)), flush=True)
    if sys.argv[2] == "finish":
        for _ in range(20):
            next(it)
        sys.exit(0)
    if sys.argv[2] == "raise":
        raise RuntimeError("main process fails")
    while True:
        next(it)
""")


def run_pipeline(kind, ending):
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.Popen([sys.executable, "-c", PIPELINE, kind, ending], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


@pytest.mark.parametrize("kind,ending", [
    ("runner", "finish"), ("map", "raise"), ("runner", "ctrl-c"), ("nested", "ctrl-c"),
    ("runner", "sigkill"), ("map", "sigkill"), ("nested", "sigkill"), ("map", "sigterm"),
])
def test_no_worker_outlives_its_main_process(kind, ending):
    proc = run_pipeline(kind, ending)
    try:
        with time_limit(30):
            line = ""
            while not line.startswith("PIDS"):
                line = proc.stdout.readline()
                assert line, proc.stderr.read()
        pids = {int(p) for p in line.split()[1:]}
        assert len(pids) == (3 if kind == "nested" else 2), proc.stderr.read()
        if ending == "ctrl-c":  # a terminal sends SIGINT to the whole process group
            os.killpg(proc.pid, signal.SIGINT)
        elif ending == "sigkill":
            proc.kill()
        elif ending == "sigterm":
            proc.terminate()
        proc.wait(timeout=20)
        assert not wait_gone(pids, timeout=10), "orphaned workers after " + ending
        if ending == "ctrl-c":
            assert "KeyboardInterrupt" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


TRAIN_SCRIPT = textwrap.dedent("""
    import os, sys
    import numpy as np
    import psutil
    import tensorflow as tf
    from tensorpack import *

    class Model(ModelDesc):
        def inputs(self):
            return [tf.TensorSpec((None, 4), tf.float32, "x"), tf.TensorSpec((None,), tf.int32, "y")]
        def build_graph(self, x, y):
            w = tf.compat.v1.get_variable("W", [4, 3])
            return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=y, logits=tf.matmul(x, w)), name="cost")
        def optimizer(self):
            return tf.compat.v1.train.GradientDescentOptimizer(0.1)

    def noisy(dp):
        return [dp[0] + np.random.rand(4).astype("float32"), dp[1]]

    class Children(Callback):
        def _after_train(self):
            print("WORKERS", len(psutil.Process().children(recursive=True)), flush=True)

    pts = [[np.full(4, i % 3, np.float32), np.int32(i % 3)] for i in range(64)]
    df = MultiProcessMapData(DataFromList(pts), 2, noisy, buffer_size=16)
    df = MultiProcessRunnerZMQ(BatchData(df, 8), 2)
    logger.set_logger_dir(sys.argv[1], action="d")
    launch_train_with_config(TrainConfig(model=Model(), data=QueueInput(df),
                                         callbacks=[Children()], steps_per_epoch=20,
                                         max_epoch=2), SimpleTrainer())
    print("TRAINED", flush=True)
""")


def test_training_script_with_parallel_pipeline_ends_cleanly(tmp_path):
    pytest.importorskip("tensorflow")
    proc = subprocess.Popen([sys.executable, "-c", TRAIN_SCRIPT, str(tmp_path / "log")],
                            env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=50)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    assert "TRAINED" in out
    workers = [int(line.split()[1]) for line in out.splitlines() if line.startswith("WORKERS")]
    assert workers == [6]  # 2 runner workers, each with 2 map workers, while training
    # after the process ended, nothing of its session survives
    deadline = time.monotonic() + 10
    while True:
        survivors = [p.pid for p in psutil.process_iter() if _session_of(p) == proc.pid]
        if not survivors or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not wait_gone(survivors, timeout=0.1)


def _session_of(p):
    try:
        return os.getsid(p.pid)
    except OSError:
        return None


SEEDED = textwrap.dedent("""
    import collections, os
    import numpy as np
    from tensorpack.dataflow import MultiProcessRunnerZMQ, RNGDataFlow
    from tensorpack.utils import fix_rng_seed

    class Rand(RNGDataFlow):
        def __iter__(self):
            for _ in range(5):
                yield [int(self.rng.randint(1 << 30)), int(np.random.randint(1 << 30)),
                       os.getpid()]

    fix_rng_seed(1234)
    ds = MultiProcessRunnerZMQ(Rand(), 2)
    ds.reset_state()
    per_worker = collections.defaultdict(list)
    for a, b, pid in ds:
        per_worker[pid].append((a, b))
        if all(len(v) >= 5 for v in per_worker.values()) and len(per_worker) == 2:
            break
    print(sorted(tuple(v[:5]) for v in per_worker.values()))
    ds.close()
""")


def test_fixed_seed_makes_workers_reproducible_and_still_different():
    env = dict(os.environ, PYTHONPATH=REPO)
    runs = [subprocess.run([sys.executable, "-c", SEEDED], env=env, capture_output=True,
                           text=True, timeout=60) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
    first, second = (run.stdout.strip().splitlines()[-1] for run in runs)
    assert first == second  # same seed, same data, worker by worker
    workers = ast.literal_eval(first)  # two lists of (rng value, numpy value) pairs
    assert len(workers) == 2 and workers[0] != workers[1]
