"""MinSaver / MaxSaver: copy on improvement only, atomically, and remember the best."""
import glob
import json
import logging
import os

import numpy as np

from cb_helpers import (  # noqa: F401  (fresh_graph: autouse fixture)
    FakeTrainer, LogCapture, fresh_graph, set_logger_dir, tiny_model)
from tensorpack.callbacks import Callback, MaxSaver, MinSaver, ModelSaver
from tensorpack.compat import tfv1


class PutStat(Callback):
    """Puts ``values[epoch - 1]`` as a statistic at each trigger (like an InferenceRunner)."""

    def __init__(self, name, values):
        self.name, self.values = name, values

    def _trigger(self):
        self.trainer.monitors.put_scalar(self.name, self.values[self.epoch_num - 1])


def _run(tmp_path, values, saver, starting_epoch=1, steps=2, init_fn=None):
    train_op, _, w = tiny_model()
    max_epoch = starting_epoch + len(values) - 1
    vals = [None] * (starting_epoch - 1) + list(values)
    with LogCapture() as logs:
        FakeTrainer().train(train_op, [ModelSaver(), PutStat("val-error", vals), saver],
                            steps_per_epoch=steps, max_epoch=max_epoch,
                            starting_epoch=starting_epoch, init_fn=init_fn)
    return logs


def _restore_latest(d):
    def init(sess):
        tfv1.train.Saver().restore(sess, tfv1.train.latest_checkpoint(str(d)))
    return init


def _step_of(prefix):
    return int(tfv1.train.NewCheckpointReader(prefix).get_tensor("global_step"))


def test_copies_only_on_improvement(tmp_path):
    set_logger_dir(tmp_path)
    _run(tmp_path, [0.5, 0.3, 0.4, 0.35], MinSaver("val-error"))
    target = str(tmp_path / "min-val-error")
    assert _step_of(target) == 4  # epoch 2 (step 4) had the minimum 0.3
    rec = json.load(open(target + ".json"))
    assert rec["value"] == 0.3 and rec["global_step"] == 4 and rec["mode"] == "min"
    # identical tensors to the source checkpoint
    src = tfv1.train.NewCheckpointReader(str(tmp_path / "model-4"))
    dst = tfv1.train.NewCheckpointReader(target)
    for k in src.get_variable_to_shape_map():
        np.testing.assert_array_equal(src.get_tensor(k), dst.get_tensor(k))
    # no temporary files left
    assert not [f for f in os.listdir(tmp_path) if ".tmp" in f]


def test_max_saver_and_reverse(tmp_path):
    set_logger_dir(tmp_path)
    _run(tmp_path, [0.5, 0.9, 0.4], MaxSaver("val-error"))
    assert _step_of(str(tmp_path / "max-val-error")) == 4
    tfv1.reset_default_graph()
    _run(tmp_path, [0.5, 0.9, 0.95], MinSaver("val-error", reverse=True, filename="best"))
    assert _step_of(str(tmp_path / "best")) == 6
    assert json.load(open(str(tmp_path / "best.json")))["mode"] == "max"


def test_resumed_run_does_not_overwrite_a_better_model(tmp_path):
    set_logger_dir(tmp_path)
    _run(tmp_path, [0.5, 0.2], MinSaver("val-error"))
    assert _step_of(str(tmp_path / "min-val-error")) == 4
    # a new process resumes at epoch 3 with worse values: the best copy stays
    tfv1.reset_default_graph()
    logs = _run(tmp_path, [0.3, 0.25], MinSaver("val-error"), starting_epoch=3,
                init_fn=_restore_latest(tmp_path))
    assert os.path.isfile(str(tmp_path / "model-8.index"))
    assert _step_of(str(tmp_path / "min-val-error")) == 4
    assert any("Resuming" in m and "0.2" in m for m in logs.messages())
    # ... and a better value replaces it
    tfv1.reset_default_graph()
    _run(tmp_path, [0.1], MinSaver("val-error"), starting_epoch=5,
         init_fn=_restore_latest(tmp_path))
    assert _step_of(str(tmp_path / "min-val-error")) == 10
    assert json.load(open(str(tmp_path / "min-val-error.json")))["value"] == 0.1


def test_missing_stat_is_a_warning(tmp_path):
    set_logger_dir(tmp_path)
    train_op, _, _ = tiny_model()
    with LogCapture() as logs:
        FakeTrainer().train(train_op, [ModelSaver(), MinSaver("no-such-stat")],
                            steps_per_epoch=1, max_epoch=3)
    warns = [m for m in logs.messages(logging.WARNING) if "no-such-stat" in m]
    assert len(warns) == 1  # once, not every epoch
    assert not glob.glob(str(tmp_path / "min-*"))


def test_checkpoint_of_another_step_is_not_copied(tmp_path):
    set_logger_dir(tmp_path)
    train_op, _, _ = tiny_model()
    # the stat arrives, but ModelSaver comes *after* MinSaver: latest checkpoint is older
    with LogCapture() as logs:
        FakeTrainer().train(train_op, [PutStat("e", [0.5, 0.4]), MinSaver("e"), ModelSaver()],
                            steps_per_epoch=1, max_epoch=2)
    assert not os.path.exists(str(tmp_path / "min-e.index"))
    assert any("latest checkpoint is" in m for m in logs.messages(logging.WARNING))


def test_stale_shards_of_previous_best_are_removed(tmp_path):
    set_logger_dir(tmp_path)
    stale = tmp_path / "min-val-error.data-00000-of-00002"
    stale.write_bytes(b"old shard")
    (tmp_path / "min-val-error.data-00001-of-00002").write_bytes(b"old shard")
    _run(tmp_path, [0.5], MinSaver("val-error"))
    files = sorted(os.path.basename(f) for f in glob.glob(str(tmp_path / "min-val-error.*")))
    assert files == ["min-val-error.data-00000-of-00001", "min-val-error.index",
                     "min-val-error.json", "min-val-error.versions"]


def test_failed_copy_keeps_previous_best(tmp_path, monkeypatch):
    set_logger_dir(tmp_path)
    _run(tmp_path, [0.5], MinSaver("val-error"))
    before = open(str(tmp_path / "min-val-error.index"), "rb").read()
    import tensorpack.checkpoint.published as published

    def broken(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(published, "_place", broken)
    tfv1.reset_default_graph()
    logs = _run(tmp_path, [0.1], MinSaver("val-error"), starting_epoch=2)
    assert open(str(tmp_path / "min-val-error.index"), "rb").read() == before
    assert json.load(open(str(tmp_path / "min-val-error.json")))["value"] == 0.5
    assert any("No space left" in m for m in logs.messages(logging.ERROR))


def test_copy_loads_by_prefix_like_smartinit(tmp_path):
    """The copy is a complete checkpoint addressable by its prefix."""
    set_logger_dir(tmp_path)
    _run(tmp_path, [0.5], MinSaver("val-error"))
    tfv1.reset_default_graph()
    w = tfv1.get_variable("w", shape=[3])
    with tfv1.Session() as sess:
        tfv1.train.Saver([w]).restore(sess, str(tmp_path / "min-val-error"))
        np.testing.assert_allclose(sess.run(w), np.array([1.0, 2.0, 3.0]) * 0.8 ** 2, rtol=1e-5)


def test_copy_without_hard_links(tmp_path, monkeypatch):
    """File systems without hard links get a real copy."""
    set_logger_dir(tmp_path)

    def no_link(src, dst):
        raise OSError(1, "Operation not permitted")
    monkeypatch.setattr(os, "link", no_link)
    _run(tmp_path, [0.5], MinSaver("val-error"))
    src = str(tmp_path / "model-2.data-00000-of-00001")
    dst = str(tmp_path / "min-val-error.data-00000-of-00001")
    assert os.stat(src).st_ino != os.stat(dst).st_ino
    assert open(src, "rb").read() == open(dst, "rb").read()
    assert _step_of(str(tmp_path / "min-val-error")) == 2


def test_hard_link_copy_survives_deletion_of_the_source(tmp_path):
    set_logger_dir(tmp_path)
    train_op, _, _ = tiny_model()
    FakeTrainer().train(train_op, [ModelSaver(max_to_keep=1), PutStat("e", [0.1, 0.5, 0.6]),
                                   MinSaver("e")], steps_per_epoch=1, max_epoch=3)
    assert not os.path.exists(str(tmp_path / "model-1.index"))  # deleted by max_to_keep
    assert _step_of(str(tmp_path / "min-e")) == 1


def test_copy_without_record_uses_the_best_value_in_stats_json(tmp_path):
    """A min-STAT made by upstream (no .json record) is only replaced by a better value
    than the best one stats.json remembers."""
    set_logger_dir(tmp_path)
    _run(tmp_path, [0.2], MinSaver("val-error"))
    os.remove(str(tmp_path / "min-val-error.json"))
    (tmp_path / "stats.json").write_text(json.dumps(
        [{"val-error": 0.5, "epoch_num": 1, "global_step": 2},
         {"val-error": 0.2, "epoch_num": 2, "global_step": 4}]))
    tfv1.reset_default_graph()
    with LogCapture() as logs:
        _run(tmp_path, [0.3], MinSaver("val-error"), starting_epoch=3,
             init_fn=_restore_latest(tmp_path))
    assert _step_of(str(tmp_path / "min-val-error")) == 2  # 0.3 does not beat 0.2
    assert any("assuming the best" in m for m in logs.messages(logging.WARNING))
    tfv1.reset_default_graph()
    _run(tmp_path, [0.1], MinSaver("val-error"), starting_epoch=4,
         init_fn=_restore_latest(tmp_path))
    assert _step_of(str(tmp_path / "min-val-error")) == 6
