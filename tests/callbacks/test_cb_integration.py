"""The callbacks inside the real trainer: SimpleTrainer + TrainConfig + InferenceRunner."""
import glob
import json
import os

import numpy as np
import tensorflow as tf

from cb_helpers import fresh_graph, set_logger_dir  # noqa: F401
from tensorpack.callbacks import (ClassificationError, InferenceRunner, MinSaver, ModelSaver,
                                  ScalarStats, ScheduledHyperParamSetter)
from tensorpack.compat import tfv1
from tensorpack.dataflow import BatchData, DataFromList
from tensorpack.tfutils.summary import add_moving_summary
from tensorpack.train import ModelDesc, SimpleTrainer, TrainConfig, launch_train_with_config


class Linear(ModelDesc):
    def inputs(self):
        return [tf.TensorSpec((None, 4), tf.float32, "x"),
                tf.TensorSpec((None,), tf.int32, "label")]

    def build_graph(self, x, label):
        w = tfv1.get_variable("W", [4, 3], initializer=tfv1.random_normal_initializer(seed=1))
        b = tfv1.get_variable("b", [3], initializer=tfv1.zeros_initializer())
        logits = tfv1.add(tfv1.matmul(x, w), b, name="logits")
        cost = tfv1.reduce_mean(tfv1.nn.sparse_softmax_cross_entropy_with_logits(
            labels=label, logits=logits), name="cost")
        wrong = tfv1.cast(tfv1.not_equal(tfv1.argmax(logits, 1, output_type=tf.int32), label),
                          tf.float32, name="incorrect_vector")
        tfv1.reduce_mean(wrong, name="batch_error")
        add_moving_summary(cost)
        return cost

    def optimizer(self):
        lr = tfv1.get_variable("learning_rate", initializer=0.5, trainable=False)
        return tfv1.train.GradientDescentOptimizer(lr)


def _data(n, seed):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 4).astype("float32")
    y = (np.argmax(x[:, :3], axis=1)).astype("int32")
    return [[a, b] for a, b in zip(x, y)]


def test_train_infer_save_with_simple_trainer(tmp_path):
    set_logger_dir(tmp_path)
    val = _data(10, 1)  # batches of 4, 4, 2: the true error != the mean of batch errors
    config = TrainConfig(
        model=Linear(),
        dataflow=BatchData(DataFromList(_data(64, 0), shuffle=False), 8),
        callbacks=[ModelSaver(max_to_keep=3),
                   InferenceRunner(BatchData(DataFromList(val, shuffle=False), 4,
                                             remainder=True),
                                   [ScalarStats("batch_error"), ClassificationError()]),
                   MinSaver("validation_error"),
                   ScheduledHyperParamSetter("learning_rate", [(2, 0.1)])],
        max_epoch=3)
    launch_train_with_config(config, SimpleTrainer())

    stats = json.load(open(str(tmp_path / "stats.json")))
    assert [s["epoch_num"] for s in stats] == [1, 2, 3]
    assert [s["global_step"] for s in stats] == [8, 16, 24]
    assert all("cost" in s for s in stats)  # moving summary through the default callbacks
    # recompute the validation statistics of the final checkpoint with numpy
    reader = tfv1.train.NewCheckpointReader(str(tmp_path / "model-24"))
    w, b = reader.get_tensor("W"), reader.get_tensor("b")
    assert reader.get_tensor("learning_rate") == np.float32(0.1)
    x = np.stack([d[0] for d in val])
    y = np.array([d[1] for d in val])
    wrong = (np.argmax(x @ w + b, axis=1) != y).astype("float64")
    assert np.float32(stats[-1]["validation_error"]) == np.float32(wrong.mean())  # NumPy 1 and 2
    batch_means = [wrong[0:4].mean(), wrong[4:8].mean(), wrong[8:10].mean()]
    assert np.isclose(stats[-1]["validation_batch_error"], np.mean(batch_means))
    assert stats[-1]["validation_error"] != stats[-1]["validation_batch_error"]

    # files upstream leaves in the logger dir
    names = set(os.listdir(tmp_path))
    assert {"checkpoint", "stats.json", "log.log", "model-24.index"} <= names
    assert len(glob.glob(str(tmp_path / "graph-*.meta"))) == 1
    assert glob.glob(str(tmp_path / "events.out.tfevents.*"))
    # MinSaver copied the checkpoint of the best epoch
    errors = [s["validation_error"] for s in stats]
    best = int(np.argmin(errors))
    rec = json.load(open(str(tmp_path / "min-validation_error.json")))
    assert rec["global_step"] == stats[best]["global_step"]
    copy = tfv1.train.NewCheckpointReader(str(tmp_path / "min-validation_error"))
    assert copy.get_tensor("global_step") == stats[best]["global_step"]


def test_inference_runner_argument_errors():
    import pytest
    ds = DataFromList([[np.zeros(4, "float32"), 0]], shuffle=False)
    with pytest.raises(TypeError, match="Inferencer"):
        InferenceRunner(ds, [ModelSaver(checkpoint_dir=None)])
    with pytest.raises(TypeError, match="DataFlow or an InputSource"):
        InferenceRunner([1, 2, 3], [ClassificationError()])


def test_inferencers_alone():
    """ScalarStats averages per batch; ClassificationError weighs batches by their size."""
    stats = ScalarStats(["a", "b:0"], prefix="")
    err = ClassificationError("wrong", summary_name="err")
    for inf in (stats, err):
        inf._before_inference()
    stats.on_fetches([1.0, 10.0])
    stats.on_fetches([3.0, 20.0])
    err.on_fetches([np.array([1, 0, 0, 0])])
    err.on_fetches([np.array([1, 1])])
    assert stats._after_inference() == {"a": 2.0, "b": 15.0}
    assert err._after_inference() == {"err": 0.5}
    assert stats.get_fetches() == ["a:0", "b:0"]


def test_save_failures_stop_the_real_trainer(tmp_path):
    """In the real training loop: three failed saves end training with CheckpointSaveError."""
    import pytest
    from tensorpack.callbacks import Callback, CheckpointSaveError
    set_logger_dir(tmp_path)
    ckpt = tmp_path / "ckpt"

    class BreakDir(Callback):  # after the first save, the directory turns into a file
        def _trigger(self):
            if self.epoch_num == 1:
                for f in ckpt.iterdir():
                    f.unlink()
                ckpt.rmdir()
                ckpt.write_text("")

    config = TrainConfig(model=Linear(), dataflow=BatchData(DataFromList(_data(16, 0)), 8),
                         callbacks=[ModelSaver(checkpoint_dir=str(ckpt)), BreakDir()],
                         max_epoch=10)
    trainer = SimpleTrainer()
    with pytest.raises(CheckpointSaveError, match="3 consecutive saves"):
        launch_train_with_config(config, trainer)
    assert trainer.epoch_num == 4
    log = open(str(tmp_path / "log.log")).read()
    assert log.count("FAILED to save checkpoint") == 3


def test_auto_resume_keeps_history_and_best_model(tmp_path):
    """Train 2 epochs, then resume to 4 with AutoResumeTrainConfig in the same logger dir:
    stats.json continues, steps continue, and min-validation_error is the best of both runs."""
    from tensorpack.train import AutoResumeTrainConfig

    def run(max_epoch):
        tfv1.reset_default_graph()
        set_logger_dir(tmp_path)
        val = BatchData(DataFromList(_data(10, 1), shuffle=False), 4, remainder=True)
        config = AutoResumeTrainConfig(
            model=Linear(), dataflow=BatchData(DataFromList(_data(64, 0), shuffle=False), 8),
            callbacks=[ModelSaver(), InferenceRunner(val, [ClassificationError()]),
                       MinSaver("validation_error")],
            max_epoch=max_epoch)
        launch_train_with_config(config, SimpleTrainer())

    run(2)
    first = json.load(open(str(tmp_path / "stats.json")))
    run(4)
    stats = json.load(open(str(tmp_path / "stats.json")))
    assert stats[:2] == first
    assert [s["epoch_num"] for s in stats] == [1, 2, 3, 4]
    assert [s["global_step"] for s in stats] == [8, 16, 24, 32]
    rec = json.load(open(str(tmp_path / "min-validation_error.json")))
    errors = [s["validation_error"] for s in stats]
    assert rec["value"] == min(errors)
    assert rec["global_step"] == stats[errors.index(min(errors))]["global_step"]
    copy = tfv1.train.NewCheckpointReader(str(tmp_path / "min-validation_error"))
    assert copy.get_tensor("global_step") == rec["global_step"]
