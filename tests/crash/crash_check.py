"""Kill a training run at random moments and check what it leaves: shared by
``tests/crash/test_crash_savers.py`` (a few rounds) and ``bench/stress_crash.py`` (many)."""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from tensorpack.checkpoint import open_source, read_checkpoint_state
from tensorpack.checkpoint.paths import checkpoint_step, save_leftovers
from tensorpack.checkpoint.published import read_published_record

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "crash_child.py")


class Inconsistent(AssertionError):
    """What a crash left behind breaks a promise (the message says which)."""


def _read_all(prefix):
    """Every tensor, read by our reader and by TensorFlow's; they must agree."""
    import tensorflow as tf
    with open_source(prefix) as src:
        ours = {k: src.read(k) for k in src.keys()}
    reader = tf.train.load_checkpoint(prefix)
    for k in reader.get_variable_to_shape_map():
        if not np.array_equal(reader.get_tensor(k), ours[k]):
            raise Inconsistent("{}: '{}' differs between TF's reader and ours".format(prefix, k))
    return ours


def check_directory(logdir):
    """Check the promises after a crash; returns the latest checkpoint's step (or None).

    Raises:
        Inconsistent: the state file, the latest checkpoint, the best copy and its record
            do not agree, or one of them cannot be read.
    """
    state = read_checkpoint_state(logdir)
    latest_step = None
    if state is not None and state.model_checkpoint_path:
        prefix = state.model_checkpoint_path
        if not os.path.isfile(prefix + ".index"):
            raise Inconsistent("the state file names '{}', which does not exist".format(prefix))
        values = _read_all(prefix)
        latest_step = int(values["global_step"])
        if latest_step != checkpoint_step(prefix):
            raise Inconsistent("'{}' holds global_step {}".format(prefix, latest_step))
    best = os.path.join(logdir, "min-val")
    if os.path.exists(best + ".index"):
        record = read_published_record(best)
        step = int(_read_all(best)["global_step"])
        if record is None or record["global_step"] != step:
            raise Inconsistent("the best model holds step {} but its record says {}".format(
                step, record))
    return latest_step


def kill_round(logdir, mode, rng, timeout=120):
    """Start (resume) the run, check it resumed from the latest step and cleaned up, kill it
    after a random delay, then check the directory.

    Returns:
        dict: {"resumed": step or None, "latest": step after the kill or None}
    """
    before = check_directory(logdir) if os.path.isdir(logdir) else None
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, CHILD, logdir, mode], stdout=subprocess.PIPE,
                            stderr=err, stdin=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    try:
        deadline = time.time() + timeout
        resumed = None
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                status = proc.wait(timeout=10)
                err.seek(0)
                tail = err.read().decode("utf-8", "replace").strip().splitlines()[-6:]
                raise Inconsistent("the run exited before starting (status {}): {}".format(
                    status, " | ".join(tail)))
            if line.startswith("started"):
                resumed = int(line.split()[1])
                break
        else:
            raise Inconsistent("the run did not start within {} s".format(timeout))
        if (before or 0) != resumed:
            raise Inconsistent("resumed at step {} but the latest checkpoint is {}".format(
                resumed, before))
        left = save_leftovers(logdir) + [n for n in os.listdir(logdir) if ".tmp" in n]
        versions = os.path.join(logdir, "min-val.versions")
        if os.path.isdir(versions) and len(os.listdir(versions)) > 2:
            left.append("{} (holds {})".format(versions, sorted(os.listdir(versions))))
        if left:
            raise Inconsistent("the new run left crash leftovers in place: {}".format(left))
        time.sleep(rng.uniform(0.0, 1.5))
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        err.close()
    return {"resumed": resumed, "latest": check_directory(logdir)}
