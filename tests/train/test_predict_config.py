"""PredictConfig checks and OfflinePredictor / OnlinePredictor behaviour (no checkpoint)."""
import numpy as np
import pytest
import tensorflow as tf

from tensorpack import OfflinePredictor, OnlinePredictor, PredictConfig, TowerContext
from tensorpack.compat import tfv1
from tensorpack.tfutils.tower import get_current_tower_context
from train_testlib import TinyModel


def _double(x):
    # proves the function runs under an inference tower context
    assert not get_current_tower_context().is_training
    return tf.identity(x * 2, name="out")


SIG = [tf.TensorSpec((None, 3), tf.float32, "inp")]


def test_offline_predictor_from_a_tower_function(fresh_graph):
    pred = OfflinePredictor(PredictConfig(tower_func=_double, input_signature=SIG,
                                          output_names=["out"]))
    x = np.arange(6, dtype="float32").reshape(2, 3)
    out, = pred(x)
    np.testing.assert_array_equal(out, x * 2)
    # it built its own graph: the default graph is untouched
    assert not tfv1.get_default_graph().get_operations()


def test_return_input(fresh_graph):
    pred = OfflinePredictor(PredictConfig(tower_func=_double, input_signature=SIG,
                                          output_names=["out"], return_input=True))
    x = np.ones((1, 3), "float32")
    dp, out = pred(x)
    assert dp[0] is x and out[0].shape == (1, 3)


def test_offline_predictor_from_a_model_without_init(fresh_graph):
    pred = OfflinePredictor(PredictConfig(model=TinyModel(summary=False), input_names=["x"],
                                          output_names=["prob"]))
    prob, = pred(np.zeros((5, 4), "float32"))
    assert prob.shape == (5, 3)
    np.testing.assert_allclose(prob.sum(1), 1, rtol=1e-5)


def test_wrong_number_of_inputs_is_value_error(fresh_graph):
    pred = OfflinePredictor(PredictConfig(tower_func=_double, input_signature=SIG,
                                          output_names=["out"]))
    with pytest.raises(ValueError, match="takes 1 inputs"):
        pred(np.ones((1, 3)), np.ones((1, 3)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(), "model= or tower_func="),
    (dict(model="m", output_names=["o"]), "ModelDesc"),
    (dict(tower_func=_double, output_names=["out"]), "input_signature"),
    (dict(tower_func=_double, input_signature=SIG), "output_names"),
    (dict(tower_func=_double, input_signature=SIG, output_names="out"), "output_names"),
    (dict(tower_func=_double, input_signature=SIG, output_names=["out"], session_init="ckpt"),
     "SessionInit"),
    (dict(tower_func=_double, input_signature=SIG, output_names=["out"], input_names="inp"),
     "input_names"),
])
def test_predict_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PredictConfig(**kwargs)


def test_online_predictor_uses_default_session(fresh_graph):
    x = tfv1.placeholder(tf.float32, [None], name="a")
    with TowerContext("", is_training=False):
        y = tf.identity(x + 1, name="b")
    pred = OnlinePredictor(["a"], ["b"])
    with pytest.raises(RuntimeError, match="session"):
        pred(np.ones(2))
    with tfv1.Session() as sess, sess.as_default():
        out, = pred(np.ones(2, "float32"))
    np.testing.assert_array_equal(out, [2, 2])
    assert y.name == "b:0"


def test_simple_dataset_predictor(fresh_graph):
    from tensorpack import DataFromList, SimpleDatasetPredictor
    df = DataFromList([[np.full((1, 3), i, "float32")] for i in range(4)], shuffle=False)
    config = PredictConfig(tower_func=_double, input_signature=SIG, output_names=["out"])
    results = SimpleDatasetPredictor(config, df).get_all_result()
    assert [float(r[0][0, 0]) for r in results] == [0.0, 2.0, 4.0, 6.0]
    with pytest.raises(ValueError, match="DataFlow"):
        SimpleDatasetPredictor(config, [1, 2])
