"""ModelSaver: files, state file, metagraph, and loud failures."""
import glob
import logging
import os
import shutil
import subprocess

import numpy as np
import pytest

from cb_helpers import (  # noqa: F401  (fresh_graph: autouse fixture)
    FakeTrainer, LogCapture, fresh_graph, set_logger_dir, tiny_model)
from tensorpack.callbacks import CheckpointSaveError, ModelSaver
from tensorpack.checkpoint.state import read_checkpoint_state
from tensorpack.compat import tfv1
from tensorpack.tfutils.common import get_global_step_var


def _state_lines(d):
    with open(os.path.join(d, "checkpoint")) as f:
        return f.read()


def test_files_state_and_metagraph(tmp_path):
    set_logger_dir(tmp_path)
    train_op, _, w = tiny_model()
    FakeTrainer().train(train_op, [ModelSaver(max_to_keep=2)], steps_per_epoch=3, max_epoch=3)
    for step in (6, 9):
        assert os.path.isfile(tmp_path / "model-{}.index".format(step))
        assert glob.glob(str(tmp_path / "model-{}.data-*".format(step)))
    assert not glob.glob(str(tmp_path / "model-3.*")), "max_to_keep=2 keeps the last two"
    text = _state_lines(tmp_path)
    assert 'model_checkpoint_path: "model-9"' in text  # relative paths
    assert str(tmp_path) not in text
    metas = glob.glob(str(tmp_path / "graph-*.meta"))
    assert len(metas) == 1
    # the metagraph is loadable and the checkpoint restores the trained values
    tfv1.reset_default_graph()
    with tfv1.Session() as sess:
        saver = tfv1.train.import_meta_graph(metas[0])
        saver.restore(sess, str(tmp_path / "model-9"))
        (w_var,) = [v for v in tfv1.global_variables() if v.op.name == "w"]
        restored = sess.run(w_var)
    expected = np.array([1.0, 2.0, 3.0]) * 0.8 ** 9  # SGD on sum(w^2), lr=0.1
    np.testing.assert_allclose(restored, expected, rtol=1e-5)


def test_checkpoint_dir_argument_and_var_collections(tmp_path):
    d = tmp_path / "ckpts" / "sub"
    train_op, _, w = tiny_model()
    extra = tfv1.get_variable("not_saved", initializer=1.0, collections=["MY_LOCAL"])
    tfv1.add_to_collection("MY_VARS", w)
    tfv1.add_to_collection("MY_VARS", get_global_step_var())
    del extra
    FakeTrainer().train(train_op, [ModelSaver(checkpoint_dir=str(d), var_collections="MY_VARS")],
                        steps_per_epoch=2, max_epoch=1)
    reader = tfv1.train.NewCheckpointReader(str(d / "model-2"))
    assert set(reader.get_variable_to_shape_map()) == {"w", "global_step"}


def test_no_directory_is_a_clear_error():
    train_op, _, _ = tiny_model()
    with pytest.raises(ValueError, match="set_logger_dir"):
        FakeTrainer().setup([ModelSaver()])


def test_checkpoint_dir_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(NotADirectoryError, match="file"):
        ModelSaver(checkpoint_dir=str(f))


class _Failing:
    """Wrap Saver.save: fail (as a full disk would) on the given call numbers."""

    def __init__(self, saver, fail_on, partial=True):
        self.saver, self.fail_on, self.calls, self.partial = saver, set(fail_on), 0, partial
        self.real = saver.save

    def __call__(self, sess, path, global_step=None, **kw):
        self.calls += 1
        if self.calls in self.fail_on:
            step = int(sess.run(global_step))
            prefix = "{}-{}".format(path, step)
            if self.partial:  # what an interrupted V2 save leaves behind
                os.makedirs(prefix + "_temp", exist_ok=True)
                with open(prefix + "_temp/part-00000-of-00001.data-00000-of-00001", "wb") as f:
                    f.write(b"\0" * 100)
                with open(prefix + ".data-00000-of-00001", "wb") as f:
                    f.write(b"\0" * 10)
            raise tfv1.errors.ResourceExhaustedError(
                None, None, prefix + ".data-00000-of-00001: No space left on device")
        return self.real(sess, path, global_step=global_step, **kw)


def _train_with_failures(tmp_path, fail_on, epochs, max_failures=3):
    set_logger_dir(tmp_path)
    train_op, _, _ = tiny_model()
    saver_cb = ModelSaver(max_consecutive_failures=max_failures)
    trainer = FakeTrainer()
    orig_setup = saver_cb._setup_graph

    def setup():
        orig_setup()
        saver_cb.saver.save = _Failing(saver_cb.saver, fail_on)
    saver_cb._setup_graph = setup
    with LogCapture() as logs:
        try:
            trainer.train(train_op, [saver_cb], steps_per_epoch=2, max_epoch=epochs)
            err = None
        except CheckpointSaveError as e:
            err = e
    return trainer, logs, err


def test_disk_full_is_logged_and_state_keeps_last_complete(tmp_path):
    trainer, logs, err = _train_with_failures(tmp_path, fail_on={2, 3}, epochs=4)
    assert err is None, "two failures in a row are below the limit of 3"
    errors = logs.messages(logging.ERROR)
    assert len(errors) == 2
    assert str(tmp_path / "model-4") in errors[0] and "No space left on device" in errors[0]
    assert "model-2" in errors[0]  # names the last complete checkpoint
    # the partial files of the failed saves were removed
    assert not os.path.exists(tmp_path / "model-4_temp")
    assert not glob.glob(str(tmp_path / "model-4.*"))
    assert not glob.glob(str(tmp_path / "model-6.*"))
    state = read_checkpoint_state(str(tmp_path))
    assert os.path.basename(state.model_checkpoint_path) == "model-8"
    assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == ["model-2", "model-8"]


def test_state_file_still_points_at_last_complete_checkpoint_after_failure(tmp_path):
    trainer, logs, err = _train_with_failures(tmp_path, fail_on={2}, epochs=2)
    state = read_checkpoint_state(str(tmp_path))
    assert os.path.basename(state.model_checkpoint_path) == "model-2"
    reader = tfv1.train.NewCheckpointReader(state.model_checkpoint_path)
    assert reader.get_tensor("global_step") == 2


def test_three_consecutive_failures_stop_training(tmp_path):
    trainer, logs, err = _train_with_failures(tmp_path, fail_on={2, 3, 4}, epochs=10)
    assert isinstance(err, CheckpointSaveError)
    assert "3 consecutive saves" in str(err) and str(tmp_path) in str(err)
    assert "No space left on device" in str(err)
    assert trainer.epoch_num == 4, "stopped at the third failure, not later"
    assert os.path.basename(read_checkpoint_state(str(tmp_path)).model_checkpoint_path) == "model-2"


def test_a_success_resets_the_failure_count(tmp_path):
    trainer, logs, err = _train_with_failures(tmp_path, fail_on={1, 2, 4, 5, 7, 8}, epochs=9)
    assert err is None
    assert len(logs.messages(logging.ERROR)) == 6


def test_real_tf_failure_when_the_directory_disappears(tmp_path):
    """A real TensorFlow write error (no mocking): the checkpoint dir is replaced by a file."""
    d = tmp_path / "ckpt"
    train_op, _, _ = tiny_model()
    saver_cb = ModelSaver(checkpoint_dir=str(d))

    class Breaker(ModelSaver.__mro__[1]):  # a plain Callback running after the saver
        def _trigger(self):
            if self.epoch_num == 1:
                shutil.rmtree(d)
                d.write_text("not a directory any more")
    with LogCapture() as logs, pytest.raises(CheckpointSaveError) as exc:
        FakeTrainer().train(train_op, [saver_cb, Breaker()], steps_per_epoch=1, max_epoch=6)
    errors = logs.messages(logging.ERROR)
    assert len(errors) == 3
    assert all(str(d / "model-") in e for e in errors)
    assert "consecutive" in str(exc.value)


def _can_mount_tmpfs(path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(path)],
                       capture_output=True)
    return r.returncode == 0


def test_real_full_disk(tmp_path):
    """A directory that really fills up: a 600 KiB tmpfs (needs root; skipped otherwise)."""
    d = tmp_path / "small"
    d.mkdir()
    if not _can_mount_tmpfs(d):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        # 40_000 floats = 160 KB per checkpoint: the 4th save cannot fit (keep all of them)
        w = tfv1.get_variable("big", initializer=tfv1.zeros([40000]))
        train_op = tfv1.assign_add(w, tfv1.ones([40000]))
        with LogCapture() as logs, pytest.raises(CheckpointSaveError):
            FakeTrainer().train(train_op, [ModelSaver(checkpoint_dir=str(d), max_to_keep=100)],
                                steps_per_epoch=1, max_epoch=20)
        errors = logs.messages(logging.ERROR)
        assert len(errors) == 3
        assert "space" in errors[0].lower() or "exhausted" in errors[0].lower()
        state = read_checkpoint_state(str(d))
        last = state.model_checkpoint_path
        # the state file names a complete, readable checkpoint with the right values
        reader = tfv1.train.NewCheckpointReader(last)
        step = int(reader.get_tensor("global_step"))
        assert os.path.basename(last) == "model-{}".format(step)
        np.testing.assert_array_equal(reader.get_tensor("big"), np.full([40000], step, "f4"))
        assert not glob.glob(str(d / "*_temp")) and not glob.glob(str(d / "*tempstate*"))
        assert "Detected at node" not in errors[0], "the cause is one readable line"
    finally:
        # lazy: TensorFlow may still hold the descriptor of the file it failed to write
        subprocess.run(["umount", "-l", str(d)], check=False)


def test_logger_dir_set_after_construction(tmp_path):
    saver = ModelSaver()
    set_logger_dir(tmp_path)
    train_op, _, _ = tiny_model()
    FakeTrainer().train(train_op, [saver], steps_per_epoch=1, max_epoch=1)
    assert os.path.isfile(str(tmp_path / "model-1.index"))
