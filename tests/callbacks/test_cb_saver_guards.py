"""ModelSaver's guards: leftovers of crashed saves, max_to_keep across runs, free space,
non-finite weights, and one readable line when saving stops training."""
import glob
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from cb_helpers import (  # noqa: F401  (fresh_graph: autouse fixture)
    FakeTrainer, LogCapture, fresh_graph, set_logger_dir, tiny_model)
from tensorpack.callbacks import CheckpointSaveError, ModelSaver
from tensorpack.checkpoint.state import read_checkpoint_state
from tensorpack.compat import tfv1

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _train(tmp_path, epochs=1, **kw):
    train_op, _, w = tiny_model()
    with LogCapture() as logs:
        FakeTrainer().train(train_op, [ModelSaver(**kw)], steps_per_epoch=1, max_epoch=epochs)
    tfv1.reset_default_graph()
    return logs


def test_new_run_removes_what_crashed_saves_left(tmp_path):
    set_logger_dir(tmp_path)
    _train(tmp_path)
    junk = ["model-7.data-00000-of-00001.tempstate123", "model-7.data-00000-of-00001",
            "checkpoint.tmp9f3a", "model-8_temp/part-00000-of-00001.data-00000-of-00001"]
    for name in junk:
        os.makedirs(os.path.dirname(str(tmp_path / name)), exist_ok=True)
        (tmp_path / name).write_bytes(b"\0" * 1000)
    keep = tmp_path / "notes.tmp.txt"
    keep.write_text("mine")
    logs = _train(tmp_path)
    assert not any(os.path.exists(str(tmp_path / n.split("/")[0])) for n in junk)
    assert keep.exists() and os.path.isfile(str(tmp_path / "model-1.index"))
    line, = [m for m in logs.messages(logging.WARNING) if "interrupted saves" in m]
    assert "4 file(s)" in line and str(tmp_path) in line


def _restore_latest(d):
    def init(sess):
        tfv1.train.Saver().restore(sess, tfv1.train.latest_checkpoint(str(d)))
    return init


def test_max_to_keep_counts_checkpoints_of_earlier_runs(tmp_path):
    """Four resumed runs of two saves each, max_to_keep=3: three checkpoints remain, not 8."""
    set_logger_dir(tmp_path)
    for run in range(4):
        train_op, _, _ = tiny_model()
        FakeTrainer().train(train_op, [ModelSaver(max_to_keep=3)], steps_per_epoch=1,
                            max_epoch=2 * run + 2, starting_epoch=2 * run + 1,
                            init_fn=_restore_latest(tmp_path) if run else None)
        tfv1.reset_default_graph()
    left = sorted(os.path.basename(f) for f in glob.glob(str(tmp_path / "model-*.index")))
    assert left == ["model-6.index", "model-7.index", "model-8.index"]
    state = read_checkpoint_state(str(tmp_path))
    assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == [
        "model-6", "model-7", "model-8"]


def test_free_space_is_checked_before_saving(tmp_path, monkeypatch):
    set_logger_dir(tmp_path)
    import shutil as _shutil
    real = _shutil.disk_usage

    def tiny(path):
        return real(path)._replace(free=1000)
    monkeypatch.setattr("tensorpack.callbacks.saver.shutil.disk_usage", tiny)
    logs = _train(tmp_path)
    err, = logs.messages(logging.ERROR)
    assert "not enough free space" in err and str(tmp_path) in err
    assert "1000 bytes are free" in err and "needs about" in err
    assert not glob.glob(str(tmp_path / "model-*"))


def _nan_model():
    train_op, _, w = tiny_model()
    poison = tfv1.assign(w, tfv1.fill([3], float("nan")))
    return train_op, w, poison


@pytest.mark.parametrize("action", ["rename", "skip", "stop", "ignore"])
def test_nonfinite_weights_never_become_the_latest_silently(tmp_path, action):
    set_logger_dir(tmp_path)
    train_op, w, poison = _nan_model()
    trainer = FakeTrainer()

    class Poison(ModelSaver.__mro__[1]):  # a Callback poisoning w before the 2nd save
        def _trigger(self):
            if self.epoch_num == 2:
                self.trainer.sess.run(poison)
    cbs = [Poison(), ModelSaver(on_nonfinite=action)]
    with LogCapture() as logs:
        if action == "stop":
            with pytest.raises(CheckpointSaveError, match="NaN or Inf"):
                trainer.train(train_op, cbs, steps_per_epoch=1, max_epoch=3)
        else:
            trainer.train(train_op, cbs, steps_per_epoch=1, max_epoch=3)
    latest = os.path.basename(read_checkpoint_state(str(tmp_path)).model_checkpoint_path)
    errors = logs.messages(logging.ERROR)
    if action == "ignore":
        assert latest == "model-3" and not errors
        return
    assert latest == "model-1", "only the finite checkpoint may be the latest"
    assert "NaN or Inf" in errors[0] and "(w)" in errors[0] and "global_step=2" in errors[0]
    renamed = glob.glob(str(tmp_path / "nonfinite-model-*.index"))
    assert bool(renamed) == (action == "rename")


def test_invalid_nonfinite_action():
    with pytest.raises(ValueError, match="on_nonfinite"):
        ModelSaver(on_nonfinite="drop", checkpoint_dir="/tmp")


def test_stopping_error_is_one_readable_message(tmp_path):
    """When saving stops training, the user sees our message, not TF's chained traceback."""
    script = textwrap.dedent("""
        import os, sys
        sys.path.insert(0, {repo!r}); sys.path.insert(0, {tests!r})
        from cb_helpers import FakeTrainer, set_logger_dir, tiny_model
        from tensorpack.callbacks import ModelSaver
        d = {d!r}
        set_logger_dir(d)
        train_op, _, _ = tiny_model()
        os.chmod(d, 0o500) if os.geteuid() else None
        saver = ModelSaver(checkpoint_dir=os.path.join(d, "ckpt"))
        os.rmdir(os.path.join(d, "ckpt"))
        open(os.path.join(d, "ckpt"), "w").close()   # the directory became a file
        FakeTrainer().train(train_op, [saver], steps_per_epoch=1, max_epoch=5)
    """).format(repo=REPO, tests=os.path.join(REPO, "tests", "callbacks"), d=str(tmp_path))
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, stdin=subprocess.DEVNULL,
                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert res.returncode != 0
    assert "CheckpointSaveError" in res.stderr
    assert "direct cause" not in res.stderr and "During handling" not in res.stderr
    assert res.stderr.count("Traceback") == 1
