"""layer_register (names, shape logging, disable_layer_logging), VariableHolder,
rename_tflayer_get_variable, LinearWrap, and loading upstream-named checkpoints."""
import logging

import numpy as np
import pytest
import tensorflow as tf

from models_testlib import rand, run, var_shapes
from tensorpack.compat import tfv1
from tensorpack.models import (BatchNorm, BatchRenorm, BNReLU, Conv2D, Conv2DTranspose,
                               FullyConnected, GlobalAvgPooling, InstanceNorm, LayerNorm,
                               LinearWrap, MaxPooling, PReLU, VariableHolder, layer_register,
                               rename_tflayer_get_variable)
from tensorpack.models import registry
from tensorpack.tfutils.sessinit import SmartInit
from tensorpack.tfutils.tower import TowerContext


@layer_register(log_shape=True)
def ScaleForTest(x, init=1.0):
    s = tfv1.get_variable("s", [], initializer=tfv1.constant_initializer(init))
    return tf.multiply(x, s, name="output")


@layer_register(log_shape=True)
def TwoScalesForTest(x):
    return ScaleForTest("inner", ScaleForTest("first", x))


@layer_register(log_shape=True)
def FailsInsideForTest(x):
    ScaleForTest("ok", x)
    raise ValueError("boom")


def _messages(caplog):
    return [r.getMessage() for r in caplog.records]


def test_layer_builds_in_variable_scope_and_needs_a_name(graph):
    y = ScaleForTest("sc", tf.ones([2]), init=3.0)
    assert var_shapes() == {"sc/s": []} and y.op.name == "sc/output"
    assert run(y).tolist() == [3.0, 3.0]
    with pytest.raises(ValueError, match="name"):
        ScaleForTest(tf.ones([2]))
    with pytest.raises(ValueError, match="tf.Tensor"):
        ScaleForTest("bad", np.ones(2))


def test_shapes_logged_once_per_name_with_nesting(graph, caplog):
    x = tfv1.placeholder(tf.float32, [None, 3])
    with caplog.at_level(logging.INFO, logger="tensorpack"):
        ScaleForTest("log_a", x)
        with tfv1.variable_scope(tfv1.get_variable_scope(), reuse=True):
            ScaleForTest("log_a", x)  # same name again: not logged again
        TwoScalesForTest("log_two", x)
        with pytest.raises(ValueError, match="boom"):
            FailsInsideForTest("log_fails", x)
        TwoScalesForTest("log_three", x)
    msgs = _messages(caplog)
    assert msgs.count("'log_a': [None, 3] --> [None, 3]") == 1
    for name in ("log_two", "log_three"):
        assert "'{}' input: [None, 3]".format(name) in msgs
        assert "  '{}/first': [None, 3] --> [None, 3]".format(name) in msgs
        assert "'{}' output: [None, 3]".format(name) in msgs


def test_disable_layer_logging(graph, caplog, monkeypatch):
    monkeypatch.setattr(registry, "_SHAPE_LOG", registry._ShapeLog())
    registry.disable_layer_logging()
    with caplog.at_level(logging.INFO, logger="tensorpack"):
        ScaleForTest("quiet", tf.ones([2]))
    assert not any("quiet" in m for m in _messages(caplog))


def test_registered_layers_and_alias():
    assert registry.get_registered_layer("Deconv2D") is Conv2DTranspose
    assert registry.get_registered_layer("Conv2D") is Conv2D
    assert registry.get_registered_layer("NoSuchLayer") is None


def test_variable_holder():
    vh = VariableHolder(W=1)
    vh.b = 2
    assert vh.W == 1 and vh.b == 2 and sorted(vh.all()) == [1, 2]
    with pytest.raises(ValueError, match="already"):
        vh.W = 3
    with pytest.raises(AttributeError, match="has: W, b"):
        vh.gamma


def test_rename_tflayer_get_variable(graph):
    with tfv1.variable_scope("conv0"), rename_tflayer_get_variable():
        tfv1.get_variable("kernel", [1])
        tfv1.get_variable("bias", [1])
        tfv1.get_variable("moving_mean", [1])
        tfv1.get_variable("other", [1])
    tfv1.get_variable("kernel", [1])  # outside: unchanged
    assert set(var_shapes()) == {"conv0/W", "conv0/b", "conv0/mean/EMA", "conv0/other",
                                 "kernel"}


def test_map_common_tfargs():
    from tensorpack.models.tflayer import map_common_tfargs
    relu = object()
    assert map_common_tfargs({"nl": relu, "W_init": 1, "b_init": 2, "data_format": "NCHW",
                              "other": 3}) == {
        "activation": relu, "kernel_initializer": 1, "bias_initializer": 2,
        "data_format": "channels_first", "other": 3}


def test_linear_wrap_with_layers_and_tf(graph):
    x = tfv1.placeholder(tf.float32, [None, 4, 4, 1])
    out = (LinearWrap(x)
           .Conv2D("conv0", 3, 3)
           .Deconv2D("up", 2, 2, strides=2)
           .MaxPooling("pool0", 2)
           .tf.nn.relu()
           .PReLU("prelu")
           .FullyConnected("fc", 5)())
    assert out.op.name == "fc/output" and out.shape.as_list() == [None, 5]
    assert "up/W" in var_shapes()


def _model(x):
    with TowerContext("", is_training=False):
        y = Conv2D("conv0", x, 4, 3)
        y = BatchNorm("bn0", y)
        y = Conv2DTranspose("deconv", y, 2, 3, strides=2)
        y = LayerNorm("ln", y)
        y = InstanceNorm("in", BNReLU("bnr", y))
        y = BatchRenorm("rn", y, 3.0, 5.0)
        y = PReLU("prelu", MaxPooling("pool", y, 2))
        return FullyConnected("fc", GlobalAvgPooling("gap", y), 3)


@pytest.mark.parametrize("fmt", ["dict", "npz"])
def test_checkpoint_with_upstream_names_loads(graph, tmp_path, fmt):
    x = tfv1.placeholder(tf.float32, [None, 6, 6, 2])
    out = _model(x)
    # names and shapes as upstream 0.11 wrote them
    upstream_shapes = {
        "conv0/W": [3, 3, 2, 4], "conv0/b": [4],
        "bn0/beta": [4], "bn0/gamma": [4], "bn0/mean/EMA": [4], "bn0/variance/EMA": [4],
        "deconv/W": [3, 3, 2, 4], "deconv/b": [2], "ln/beta": [2], "ln/gamma": [2],
        "bnr/bn/beta": [2], "bnr/bn/gamma": [2], "bnr/bn/mean/EMA": [2],
        "bnr/bn/variance/EMA": [2], "in/beta": [2], "in/gamma": [2],
        "rn/beta": [2], "rn/gamma": [2], "rn/moving_mean": [2], "rn/moving_variance": [2],
        "rn/renorm_mean": [2], "rn/renorm_mean_weight": [], "rn/renorm_stddev": [2],
        "rn/renorm_stddev_weight": [],
        "prelu/alpha": [], "fc/W": [2, 3], "fc/b": [3]}
    assert var_shapes() == upstream_shapes
    rng = np.random.RandomState(1)
    values = {k: np.asarray(rng.rand(*s) + 0.5, dtype="float32") for k, s in upstream_shapes.items()}
    src = values
    if fmt == "npz":
        src = str(tmp_path / "model.npz")
        np.savez(src, **values)
    with tfv1.Session() as sess:
        SmartInit(src, strict=True).init(sess)
        loaded = sess.run({v.op.name: v for v in tfv1.global_variables()})
        res = sess.run(out, {x: rand(2, 6, 6, 2)})
    for k, v in values.items():
        np.testing.assert_array_equal(loaded[k], v)
    assert res.shape == (2, 3) and np.isfinite(res).all()
