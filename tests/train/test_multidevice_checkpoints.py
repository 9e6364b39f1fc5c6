"""Checkpoints do not depend on the topology: N towers -> one device / predictor, one device
-> N towers (every replica starts from the checkpoint), and a resumed multi-tower run."""
import os

import numpy as np
import pytest
import tensorflow as tf

from tensorpack import (AutoResumeTrainConfig, BatchData, Callback, ModelSaver, OfflinePredictor,
                        PredictConfig, SimpleTrainer, SmartInit, SyncMultiGPUTrainerReplicated,
                        launch_train_with_config)
from tensorpack.compat import tfv1
from tensorpack.dataflow import DataFromList

from md_testlib import TRAINERS, MomentumModel, split_input, train
from train_testlib import make_points


def _values(prefix):
    return {n: tf.train.load_variable(prefix, n) for n, _ in tf.train.list_variables(prefix)}


def _latest(logdir):
    return tf.train.latest_checkpoint(logdir)


@pytest.mark.parametrize("kind", ["replicated", "ps-gpu", "async"])
def test_n_towers_checkpoint_loads_into_one_device_and_a_predictor(logdir, kind):
    train(TRAINERS[kind](2), MomentumModel(summary=False), split_input(3, 2), 3,
          callbacks=[ModelSaver()])
    prefix = _latest(logdir)
    saved = _values(prefix)
    assert set(saved) == {"fc/W", "fc/b", "fc/W/Momentum", "fc/b/Momentum", "global_step"}
    assert saved["global_step"] == 3

    tfv1.reset_default_graph()
    init = SmartInit(prefix)
    seen = {}

    class Grab(Callback):
        def _before_train(self):
            by_name = {v.op.name: v for v in tfv1.global_variables()}
            seen.update(self.trainer.sess.run(by_name))
    train(SimpleTrainer(), MomentumModel(summary=False), split_input(6, 1), 1,
          callbacks=[Grab()], session_init=init)
    assert sorted(init.report.restored) == sorted(saved)
    assert not init.report.graph_only and not init.report.source_only
    for name, value in saved.items():
        np.testing.assert_array_equal(seen[name], value)

    tfv1.reset_default_graph()
    pred = OfflinePredictor(PredictConfig(model=MomentumModel(summary=False),
                                          session_init=SmartInit(prefix),
                                          input_names=["x"], output_names=["prob"]))
    x = np.random.RandomState(0).randn(5, 4).astype("float32")
    logits = x @ saved["fc/W"] + saved["fc/b"]
    expected = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(pred(x)[0], expected, rtol=1e-5, atol=1e-6)


class _ReplicaCheck(Callback):
    """Before the first step: every replica's value (slots too) and global_step."""

    def _before_train(self):
        variables = tfv1.global_variables() + tfv1.local_variables()
        self.values = self.trainer.sess.run({v.op.name: v for v in variables})


@pytest.mark.parametrize("towers", [2, 4])
def test_one_device_checkpoint_loads_into_every_replica(logdir, towers):
    train(SimpleTrainer(), MomentumModel(summary=False), split_input(6, 1), 3,
          callbacks=[ModelSaver()])
    prefix = _latest(logdir)
    saved = _values(prefix)

    tfv1.reset_default_graph()
    init = SmartInit(prefix)
    check = _ReplicaCheck()
    train(SyncMultiGPUTrainerReplicated(towers), MomentumModel(summary=False),
          split_input(3, towers), 1, callbacks=[check], session_init=init)
    for name in ("fc/W", "fc/b", "fc/W/Momentum", "fc/b/Momentum"):
        np.testing.assert_array_equal(check.values[name], saved[name])
        for k in range(1, towers):
            np.testing.assert_array_equal(check.values["tower{}/{}".format(k, name)],
                                          saved[name])
    assert check.values["global_step"] == 3
    # the report counts each variable once: replicas are neither restored nor graph-only
    report = init.report
    assert sorted(report.restored) == sorted(saved)
    assert not report.graph_only and not report.graph_only_training
    assert not any(n.startswith("tower") for n in report.restored)


def test_auto_resume_continues_a_multi_tower_run(logdir):
    df = BatchData(DataFromList(make_points(24), shuffle=False), 4)

    def config(**kw):
        return AutoResumeTrainConfig(model=MomentumModel(summary=False), dataflow=df,
                                     callbacks=[ModelSaver()], steps_per_epoch=3, **kw)
    trainer = SyncMultiGPUTrainerReplicated(2)
    launch_train_with_config(config(max_epoch=1), trainer)
    first = _values(_latest(logdir))
    assert first["global_step"] == 3

    tfv1.reset_default_graph()
    check = _ReplicaCheck()
    cfg = config(max_epoch=2)
    cfg.callbacks.append(check)
    assert cfg.starting_epoch == 2
    trainer = SyncMultiGPUTrainerReplicated(2)
    launch_train_with_config(cfg, trainer)
    assert check.values["global_step"] == 3
    np.testing.assert_array_equal(check.values["tower1/fc/W"], first["fc/W"])
    assert trainer.global_step == 6 and trainer.epoch_num == 2
    assert _values(_latest(logdir))["global_step"] == 6
    assert os.path.basename(_latest(logdir)) == "model-6"


class _BatchNormModel(MomentumModel):
    """Batch-norm statistics are non-trainable model variables: replicas of them too."""

    def build_graph(self, x, y):
        from tensorpack import BatchNorm, FullyConnected
        h = tf.nn.relu(BatchNorm("bn", FullyConnected("fc0", x, 8)))
        logits = FullyConnected("fc", h, 3)
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=y, logits=logits), name="cost")


def test_batch_norm_replicated_checkpoint_has_the_one_device_names(logdir):
    train(SyncMultiGPUTrainerReplicated(2), _BatchNormModel(), split_input(3, 2), 2,
          callbacks=[ModelSaver()], session_init=SmartInit(None))
    multi = dict(tf.train.list_variables(_latest(logdir)))
    assert "tower1/bn/mean/EMA" in {v.op.name for v in tfv1.local_variables()}
    tfv1.reset_default_graph()
    one_dir = logdir + "-one"
    train(SimpleTrainer(), _BatchNormModel(), split_input(6, 1), 1,
          callbacks=[ModelSaver(checkpoint_dir=one_dir)], session_init=SmartInit(None))
    assert multi == dict(tf.train.list_variables(one_dir))
    assert {"bn/mean/EMA", "bn/gamma/Momentum"} <= set(multi)
