"""Inference on several devices: DataParallelInferenceRunner, MultiTowerOfflinePredictor,
DataParallelOfflinePredictor."""
import numpy as np
import pytest
import tensorflow as tf

from tensorpack import (BatchData, DataParallelInferenceRunner, DataParallelOfflinePredictor,
                        InferenceRunner, ModelSaver, MultiTowerOfflinePredictor,
                        OfflinePredictor, PredictConfig, ScalarStats, SmartInit,
                        SyncMultiGPUTrainerReplicated, TrainConfig, launch_train_with_config)
from tensorpack.compat import tfv1
from tensorpack.dataflow import DataFromList

from md_testlib import MomentumModel
from train_testlib import make_points


@pytest.fixture
def checkpoint(logdir):
    """Train 2 replicated towers with both inference runners; return the checkpoint and
    the two runners' validation costs."""
    val = BatchData(DataFromList(make_points(15, seed=0), shuffle=False), 3)  # 5 batches
    config = TrainConfig(
        model=MomentumModel(summary=False),
        dataflow=BatchData(DataFromList(make_points(24)), 4),
        callbacks=[ModelSaver(),
                   InferenceRunner(val, ScalarStats("cost", prefix="one")),
                   DataParallelInferenceRunner(val, ScalarStats("cost", prefix="dp"), 2)],
        extra_callbacks=[], steps_per_epoch=3, max_epoch=2)
    trainer = SyncMultiGPUTrainerReplicated(2)
    launch_train_with_config(config, trainer)
    hist = {k: trainer.monitors.get_history(k) for k in ("one_cost", "dp_cost")}
    tfv1.reset_default_graph()
    return tf.train.latest_checkpoint(logdir), hist


def test_data_parallel_inference_runner_matches_the_one_tower_runner(checkpoint):
    _, hist = checkpoint
    assert len(hist["dp_cost"]) == 2
    np.testing.assert_allclose(hist["dp_cost"], hist["one_cost"], rtol=1e-5)


def _config(prefix):
    return PredictConfig(model=MomentumModel(summary=False), session_init=SmartInit(prefix),
                         input_names=["x"], output_names=["prob"])


def test_multi_tower_predictors_match_the_offline_predictor(checkpoint):
    prefix, _ = checkpoint
    x = np.random.RandomState(0).randn(6, 4).astype("float32")
    expected = OfflinePredictor(_config(prefix))(x)[0]
    tfv1.reset_default_graph()

    multi = MultiTowerOfflinePredictor(_config(prefix), [0, 1])
    preds = multi.get_predictors()
    assert len(preds) == 2 and len(multi.get_predictor(3)) == 3
    for p in preds + [multi]:
        np.testing.assert_allclose(p(x)[0], expected, rtol=1e-5, atol=1e-6)
    assert multi.graph.get_operation_by_name("tower1/prob").device == "/device:CPU:1"
    assert len(multi.sess.list_devices()) == 2
    tfv1.reset_default_graph()

    dp = DataParallelOfflinePredictor(_config(prefix), [0, 1])
    out0, out1 = dp(x[:2], x[2:])
    np.testing.assert_allclose(out0, expected[:2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out1, expected[2:], rtol=1e-5, atol=1e-6)
