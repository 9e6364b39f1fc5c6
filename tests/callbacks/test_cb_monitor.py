"""Monitors, ScalarPrinter, JSONWriter (stats.json), TFEventWriter, moving summaries."""
import glob
import json
import logging
import os

import pytest

from cb_helpers import (  # noqa: F401  (fresh_graph: autouse fixture)
    FakeTrainer, LogCapture, fresh_graph, set_logger_dir, tiny_model)
from tensorpack.callbacks import (Callback, JSONWriter, MergeAllSummaries, Monitors,
                                  MovingAverageSummary, NoOpMonitor, ScalarPrinter, TFEventWriter)
from tensorpack.compat import tfv1
from tensorpack.tfutils.summary import add_moving_summary, create_scalar_summary


class PutEachEpoch(Callback):
    def __init__(self, fn):
        self.fn = fn

    def _trigger(self):
        for k, v in self.fn(self.epoch_num).items():
            self.trainer.monitors.put_scalar(k, v)


def test_monitors_history_latest_and_summary_tags():
    class T:
        global_step = 7
    m = Monitors([])
    m.setup_graph(T())
    m.put_scalar("a", 1.5)
    m.put_scalar("a", 2)
    s = create_scalar_summary("tower0/cost-summary", 3.0)
    m.put_summary(s.SerializeToString())
    assert m.get_history("a") == [(7, 1.5), (7, 2.0)]
    assert m.get_latest("a") == 2.0
    assert m.get_latest("cost") == 3.0  # tower prefix and -summary suffix removed
    assert m.get_history("missing") == []
    with pytest.raises(KeyError, match="missing"):
        m.get_latest("missing")
    with pytest.raises(TypeError):
        m.put_summary(3)


def test_scalar_printer_prints_sorted_and_filtered(tmp_path):
    train_op, _, _ = tiny_model()
    printer = ScalarPrinter(whitelist=["^b", "^a"], blacklist=["secret"])
    with LogCapture() as logs:
        FakeTrainer().train(train_op, [PutEachEpoch(lambda e: {"b": e, "a": 0.5,
                                                                "a-secret": 1, "c": 2})],
                            monitors=[printer], steps_per_epoch=1, max_epoch=2)
    lines = [m for m in logs.messages() if ": " in m and m.split(":")[0] in "abc"]
    assert lines == ["a: 0.5", "b: 1", "a: 0.5", "b: 2"]


def test_json_writer_content(tmp_path):
    set_logger_dir(tmp_path)
    train_op, _, _ = tiny_model()
    FakeTrainer().train(train_op, [PutEachEpoch(lambda e: {"val": e / 10})],
                        monitors=[JSONWriter()], steps_per_epoch=3, max_epoch=3)
    stats = json.load(open(str(tmp_path / "stats.json")))
    assert stats == [{"val": 0.1, "epoch_num": 1, "global_step": 3},
                     {"val": 0.2, "epoch_num": 2, "global_step": 6},
                     {"val": 0.3, "epoch_num": 3, "global_step": 9}]
    assert JSONWriter.load_existing_epoch_number(str(tmp_path)) == 3
    assert not [f for f in os.listdir(tmp_path) if ".tmp" in f]


def test_json_writer_resume_appends_history(tmp_path):
    set_logger_dir(tmp_path)
    train_op, _, _ = tiny_model()
    FakeTrainer().train(train_op, [PutEachEpoch(lambda e: {"val": e})],
                        monitors=[JSONWriter()], steps_per_epoch=1, max_epoch=2)
    tfv1.reset_default_graph()
    train_op, _, _ = tiny_model()
    FakeTrainer().train(train_op, [PutEachEpoch(lambda e: {"val": e})],
                        monitors=[JSONWriter()], steps_per_epoch=1, max_epoch=4,
                        starting_epoch=3)
    stats = json.load(open(str(tmp_path / "stats.json")))
    assert [s["epoch_num"] for s in stats] == [1, 2, 3, 4]
    assert not glob.glob(str(tmp_path / "stats.json.*"))


def test_json_writer_backs_up_history_of_another_run(tmp_path):
    set_logger_dir(tmp_path)
    (tmp_path / "stats.json").write_text(json.dumps([{"epoch_num": 7, "global_step": 70}]))
    train_op, _, _ = tiny_model()
    with LogCapture() as logs:
        FakeTrainer().train(train_op, [PutEachEpoch(lambda e: {"val": e})],
                            monitors=[JSONWriter()], steps_per_epoch=1, max_epoch=1)
    backups = glob.glob(str(tmp_path / "stats.json.*"))
    assert len(backups) == 1
    assert json.load(open(backups[0]))[0]["epoch_num"] == 7
    assert [s["epoch_num"] for s in json.load(open(str(tmp_path / "stats.json")))] == [1]
    assert any("not the predecessor" in m for m in logs.messages(logging.WARNING))


def test_json_writer_corrupt_file_is_kept_aside(tmp_path):
    set_logger_dir(tmp_path)
    (tmp_path / "stats.json").write_text("[{\"epoch_num\": 1,")  # truncated
    assert JSONWriter.load_existing_epoch_number(str(tmp_path)) is None
    with pytest.raises(ValueError, match="stats.json"):
        JSONWriter.load_existing_json(str(tmp_path))
    train_op, _, _ = tiny_model()
    FakeTrainer().train(train_op, [PutEachEpoch(lambda e: {"val": e})],
                        monitors=[JSONWriter()], steps_per_epoch=1, max_epoch=1)
    backups = glob.glob(str(tmp_path / "stats.json.*"))
    assert len(backups) == 1 and open(backups[0]).read() == "[{\"epoch_num\": 1,"


def test_writers_without_logger_dir_are_noops():
    from tensorpack.utils import logger
    logger.LOG_DIR = None
    assert isinstance(JSONWriter(), NoOpMonitor)
    assert isinstance(TFEventWriter(), NoOpMonitor)


def test_tfevent_writer_and_moving_summary(tmp_path):
    """Moving-average summaries reach stats.json and TensorBoard through the default
    callbacks (MovingAverageSummary + MergeAllSummaries)."""
    set_logger_dir(tmp_path)
    train_op, cost, _ = tiny_model()
    add_moving_summary(cost)
    assert not [v for v in tfv1.global_variables() if "EMA" in v.name], "EMAs are not saved"
    FakeTrainer().train(train_op, [MovingAverageSummary(), MergeAllSummaries()],
                        monitors=[TFEventWriter(), JSONWriter()], steps_per_epoch=4, max_epoch=2)
    stats = json.load(open(str(tmp_path / "stats.json")))
    assert [s["global_step"] for s in stats] == [4, 8]
    assert 0 < stats[1]["cost"] < stats[0]["cost"] < 14  # cost decreases from 14
    events = glob.glob(str(tmp_path / "events.out.tfevents.*"))
    assert len(events) == 1
    tags = {}
    for e in tfv1.train.summary_iterator(events[0]):
        for v in e.summary.value:
            tags.setdefault(v.tag, []).append(e.step)
    assert tags["cost"] == [4, 8]


def test_json_writer_resume_from_an_older_epoch_keeps_earlier_history(tmp_path):
    """Resuming at epoch 3 while stats.json reaches epoch 4 (the last saves failed)."""
    set_logger_dir(tmp_path)
    old = [{"val": e, "epoch_num": e, "global_step": e} for e in (1, 2, 3, 4)]
    (tmp_path / "stats.json").write_text(json.dumps(old))
    train_op, _, _ = tiny_model()
    FakeTrainer().train(train_op, [PutEachEpoch(lambda e: {"val": e * 10})],
                        monitors=[JSONWriter()], steps_per_epoch=1, max_epoch=3,
                        starting_epoch=3)
    stats = json.load(open(str(tmp_path / "stats.json")))
    assert [(s["epoch_num"], s["val"]) for s in stats] == [(1, 1), (2, 2), (3, 30)]
    (backup,) = glob.glob(str(tmp_path / "stats.json.*"))
    assert json.load(open(backup)) == old


def test_put_image_reaches_tensorboard(tmp_path):
    import numpy as np
    set_logger_dir(tmp_path)
    img = (np.arange(2 * 3 * 4 * 3) % 256).reshape(2, 3, 4, 3).astype("uint8")

    class PutImage(Callback):
        def _trigger(self):
            self.trainer.monitors.put_image("pic", img)
    train_op, _, _ = tiny_model()
    FakeTrainer().train(train_op, [PutImage()], monitors=[TFEventWriter()],
                        steps_per_epoch=1, max_epoch=1)
    (events,) = glob.glob(str(tmp_path / "events.out.tfevents.*"))
    images = {v.tag: v.image for e in tfv1.train.summary_iterator(events)
              for v in e.summary.value if v.HasField("image")}
    assert sorted(images) == ["pic/0", "pic/1"]
    tfv1.reset_default_graph()
    with tfv1.Session() as sess:
        decoded = sess.run(tfv1.image.decode_png(images["pic/1"].encoded_image_string))
    np.testing.assert_array_equal(decoded, img[1])
    assert images["pic/1"].height == 3 and images["pic/1"].width == 4
