"""ModelSaver(background=True) / MinSaver(background=True): the same files as a synchronous
save, written off the training thread, failures counted, nothing lost at the end."""
import logging
import os

import numpy as np
import pytest

from cb_helpers import (  # noqa: F401  (fresh_graph: autouse fixture)
    FakeTrainer, LogCapture, fresh_graph, set_logger_dir, tiny_model)
from tensorpack.callbacks import Callback, CheckpointSaveError, MinSaver, ModelSaver
from tensorpack.checkpoint import open_source
from tensorpack.checkpoint.published import read_published_record
from tensorpack.checkpoint.state import read_checkpoint_state
from tensorpack.compat import tfv1


def _values(prefix):
    reader = tfv1.train.NewCheckpointReader(prefix)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}


@pytest.mark.parametrize("use_resource", [True, False])
def test_background_save_writes_what_a_synchronous_save_writes(tmp_path, use_resource):
    results = {}
    for background in (False, True):
        d = tmp_path / ("bg" if background else "sync")
        tfv1.reset_default_graph()
        with tfv1.variable_scope("", use_resource=use_resource):
            train_op, _, _ = tiny_model()
        FakeTrainer().train(train_op, [ModelSaver(checkpoint_dir=str(d), max_to_keep=2,
                                                  background=background)],
                            steps_per_epoch=2, max_epoch=3)
        state = read_checkpoint_state(str(d))
        assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == [
            "model-4", "model-6"]
        assert not os.path.exists(str(d / "model-2.index")), "max_to_keep applies"
        results[background] = {s: _values(str(d / "model-{}".format(s))) for s in (4, 6)}
    for step in (4, 6):
        sync, bg = results[False][step], results[True][step]
        assert sorted(sync) == sorted(bg)
        for k in sync:
            np.testing.assert_array_equal(sync[k], bg[k])


@pytest.mark.parametrize("use_resource", [True, False])
def test_snapshot_is_taken_at_the_trigger(tmp_path, use_resource, monkeypatch):
    """Training goes on while the file is written; the file holds the values of its step
    (also for legacy reference variables, which training updates in place)."""
    import time

    import tensorpack.callbacks.saver as saver_mod
    real = saver_mod.write_tf_checkpoint

    def slow(*args, **kw):  # let training run ahead of the writer
        time.sleep(0.05)
        return real(*args, **kw)
    monkeypatch.setattr(saver_mod, "write_tf_checkpoint", slow)
    set_logger_dir(tmp_path)
    with tfv1.variable_scope("", use_resource=use_resource):
        train_op, _, _ = tiny_model()
    FakeTrainer().train(train_op, [ModelSaver(background=True, max_to_keep=0)],
                        steps_per_epoch=3, max_epoch=5)
    for step in range(3, 16, 3):
        v = _values(str(tmp_path / "model-{}".format(step)))
        assert v["global_step"] == step
        np.testing.assert_allclose(v["w"], np.array([1.0, 2.0, 3.0]) * 0.8 ** step, rtol=1e-5)


def test_background_failures_are_counted_and_stop_training(tmp_path, monkeypatch):
    set_logger_dir(tmp_path)
    import tensorpack.callbacks.saver as saver_mod
    real = saver_mod.write_tf_checkpoint
    calls = []

    def failing(prefix, tensors, **kw):
        calls.append(prefix)
        if len(calls) >= 2:
            raise OSError(28, "No space left on device", prefix + ".data-00000-of-00001")
        return real(prefix, tensors, **kw)
    monkeypatch.setattr(saver_mod, "write_tf_checkpoint", failing)
    train_op, _, _ = tiny_model()
    trainer = FakeTrainer()
    with LogCapture() as logs, pytest.raises(CheckpointSaveError, match="3 consecutive"):
        trainer.train(train_op, [ModelSaver(background=True)], steps_per_epoch=1, max_epoch=10)
    errors = logs.messages(logging.ERROR)
    assert len(errors) == 3 and all("No space left" in e for e in errors)
    assert "model-2" in errors[0] and "model-1" in errors[0]  # failed one, last complete one
    assert os.path.basename(read_checkpoint_state(str(tmp_path)).model_checkpoint_path) == \
        "model-1"


def test_last_background_save_finishes_before_training_returns(tmp_path):
    set_logger_dir(tmp_path)
    train_op, _, _ = tiny_model()
    FakeTrainer().train(train_op, [ModelSaver(background=True)], steps_per_epoch=3,
                        max_epoch=2)
    assert os.path.basename(read_checkpoint_state(str(tmp_path)).model_checkpoint_path) == \
        "model-6"
    with open_source(str(tmp_path / "model-6")) as src:
        assert int(src.read("global_step")) == 6


class PutStat(Callback):
    def __init__(self, values):
        self.values = values

    def _trigger(self):
        self.trainer.monitors.put_scalar("err", self.values[self.epoch_num - 1])


def test_background_best_copy_follows_the_background_save(tmp_path):
    set_logger_dir(tmp_path)
    train_op, _, _ = tiny_model()
    FakeTrainer().train(train_op, [ModelSaver(background=True), PutStat([0.5, 0.2, 0.3]),
                                   MinSaver("err", background=True)],
                        steps_per_epoch=2, max_epoch=3)
    best = str(tmp_path / "min-err")
    assert read_published_record(best)["global_step"] == 4
    assert _values(best)["global_step"] == 4


def test_background_nonfinite_is_not_the_latest(tmp_path):
    set_logger_dir(tmp_path)
    train_op, _, w = tiny_model()
    poison = tfv1.assign(w, tfv1.fill([3], float("inf")))

    class Poison(Callback):
        def _trigger(self):
            if self.epoch_num == 2:
                self.trainer.sess.run(poison)
    with LogCapture() as logs:
        FakeTrainer().train(train_op, [Poison(), ModelSaver(background=True)],
                            steps_per_epoch=1, max_epoch=2)
    assert os.path.basename(read_checkpoint_state(str(tmp_path)).model_checkpoint_path) == \
        "model-1"
    assert os.path.isfile(str(tmp_path / "nonfinite-model-2.index"))
    assert any("NaN or Inf" in e and "(w)" in e for e in logs.messages(logging.ERROR))
