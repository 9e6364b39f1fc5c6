"""FullyConnected, LayerNorm, InstanceNorm, PReLU, Maxout, ConcatWith, Dropout,
BNReLU: shapes, variable names (upstream's), values, old argument names."""
import logging

import numpy as np
import pytest
import tensorflow as tf

from models_testlib import build_twice, rand, run, var_shapes
from tensorpack.compat import tfv1
from tensorpack.models import (BNReLU, ConcatWith, Dropout, FullyConnected, InstanceNorm,
                               LayerNorm, Maxout, PReLU)
from tensorpack.tfutils.tower import TowerContext


def test_fc_names_values_and_flattening(graph):
    x = tfv1.placeholder(tf.float32, [None, 2, 3])
    out = FullyConnected("fc", x, 4, activation=tf.nn.relu)
    assert var_shapes() == {"fc/W": [6, 4], "fc/b": [4]}
    assert out.op.name == "fc/output" and out.shape.as_list() == [None, 4]
    data = rand(5, 2, 3)
    res, W, b = run([out, out.variables.W, out.variables.b], {x: data})
    np.testing.assert_allclose(res, np.maximum(data.reshape(5, 6) @ W + b, 0), rtol=1e-5)


def test_fc_flattens_unknown_spatial_sizes_with_known_total(graph):
    x = tfv1.placeholder(tf.float32, [None, 4])
    y = tf.reshape(x, [-1, 2, 2])
    assert FullyConnected("fc", y, 3).shape.as_list() == [None, 3]


def test_fc_old_argument_names_build_the_same_graph():
    init = tfv1.constant_initializer(0.3)

    def old():
        x = tfv1.placeholder(tf.float32, [None, 5], name="x")
        FullyConnected("fc", x, out_dim=3, nl=tf.nn.tanh, W_init=init, b_init=init)

    def new():
        x = tfv1.placeholder(tf.float32, [None, 5], name="x")
        FullyConnected("fc", x, units=3, activation=tf.nn.tanh, kernel_initializer=init,
                       bias_initializer=init)
    a, b = build_twice(old, new)
    assert a == b


@pytest.mark.parametrize("fmt,shape,axes", [("NHWC", [2, 3, 4, 5], (1, 2, 3)),
                                            ("NCHW", [2, 5, 3, 4], (1, 2, 3)),
                                            ("NHWC", [2, 5], (1,))])
def test_layernorm(graph, fmt, shape, axes):
    data = rand(*shape) * 3 + 1
    x = tfv1.placeholder(tf.float32, shape)
    out = LayerNorm("ln", x, data_format=fmt)
    ch = shape[1] if (fmt == "NCHW" or len(shape) == 2) else shape[-1]
    assert var_shapes() == {"ln/beta": [ch], "ln/gamma": [ch]}
    assert out.op.name == "ln/output"
    res = run(out, {x: data})
    mean = data.mean(axis=axes, keepdims=True)
    var = data.var(axis=axes, keepdims=True)
    np.testing.assert_allclose(res, (data - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5)


def test_layernorm_without_affine_and_old_names(graph):
    x = tfv1.placeholder(tf.float32, [None, 4])
    LayerNorm("ln", x, use_bias=False, use_scale=False)
    assert var_shapes() == {}


def test_instancenorm(graph):
    data = rand(2, 3, 4, 5) * 2 - 1
    x = tfv1.placeholder(tf.float32, [None, 3, 4, 5])
    out = InstanceNorm("in", x, gamma_init=tfv1.constant_initializer(2.0))
    assert var_shapes() == {"in/beta": [5], "in/gamma": [5]}
    res = run(out, {x: data})
    ref = (data - data.mean((1, 2), keepdims=True)) / np.sqrt(
        data.var((1, 2), keepdims=True) + 1e-5) * 2.0
    np.testing.assert_allclose(res, ref, rtol=1e-4, atol=1e-5)
    InstanceNorm("in2", x, center=False, scale=False)
    assert "in2/beta" not in var_shapes()


def test_prelu(graph):
    x = tfv1.placeholder(tf.float32, [None, 3])
    out = PReLU("prelu", x, init=0.25)
    assert var_shapes() == {"prelu/alpha": []}
    assert out.variables.alpha.op.name == "prelu/alpha"
    res = run(out, {x: np.array([[-4.0, 0.0, 2.0]], "float32")})
    np.testing.assert_allclose(res, [[-1.0, 0.0, 2.0]])


def test_maxout(graph):
    data = rand(2, 3, 3, 6)
    x = tfv1.placeholder(tf.float32, [None, 3, 3, 6])
    out = Maxout("maxout", x, 3)
    assert out.shape.as_list() == [None, 3, 3, 2]
    np.testing.assert_allclose(run(out, {x: data}), data.reshape(2, 3, 3, 2, 3).max(-1))
    assert Maxout(tfv1.placeholder(tf.float32, [None, 4]), 2).shape.as_list() == [None, 2]
    with pytest.raises(ValueError, match="num_unit"):
        Maxout("bad", x, 4)


def test_concat_with(graph):
    a, b, c = tf.ones([2, 3]), tf.zeros([2, 2]), tf.ones([2, 1])
    assert ConcatWith(a, [b, c], 1).shape.as_list() == [2, 6]
    assert ConcatWith("cat", a, b, 1).shape.as_list() == [2, 5]


def test_dropout_positional_argument_is_keep_prob(graph, caplog):
    x = tf.ones([4000])
    with TowerContext("", is_training=True):
        with caplog.at_level(logging.WARNING, logger="tensorpack"):
            keep_most = Dropout(x, 0.9)
        drop_most = Dropout("d", x, rate=0.9)
        keep_half = Dropout(x, keep_prob=0.5)
    assert any("keep" in r.getMessage() for r in caplog.records)
    with TowerContext("pred", is_training=False):
        off = Dropout(x, rate=0.9)
    forced = Dropout(x, rate=0.9, is_training=True)
    r1, r2, r3, r4, r5 = run([keep_most, drop_most, keep_half, off, forced])
    assert 0.05 < (r1 == 0).mean() < 0.15
    assert 0.85 < (r2 == 0).mean() < 0.95
    assert 0.4 < (r3 == 0).mean() < 0.6
    assert (r4 == 1).all()
    assert (r5 == 0).mean() > 0.8
    with pytest.raises(TypeError):
        Dropout(x, keep_prob=0.5, rate=0.5)


def test_bnrelu_as_activation_and_layer(graph):
    x = tfv1.placeholder(tf.float32, [None, 4, 4, 2])
    from tensorpack.models import Conv2D
    with TowerContext("", is_training=True):
        y = Conv2D("conv0", x, 3, 3, activation=BNReLU)
        z = BNReLU("bnr", x)
    assert y.op.name == "conv0/output"
    names = set(var_shapes())
    assert {"conv0/bn/beta", "conv0/bn/gamma", "conv0/bn/mean/EMA",
            "conv0/bn/variance/EMA", "bnr/bn/beta", "bnr/bn/variance/EMA"} <= names
    assert (run(z, {x: rand(3, 4, 4, 2)}) >= 0).all()


def test_norm_layers_old_argument_names_build_the_same_graph():
    init = tfv1.constant_initializer(2.0)

    def old():
        x = tfv1.placeholder(tf.float32, [None, 4, 4, 3], name="x")
        LayerNorm("ln", x, use_bias=False, use_scale=True, gamma_init=init, data_format="NHWC")
        InstanceNorm("in", x, gamma_init=init, data_format="NHWC")

    def new():
        x = tfv1.placeholder(tf.float32, [None, 4, 4, 3], name="x")
        LayerNorm("ln", x, center=False, scale=True, gamma_initializer=init,
                  data_format="channels_last")
        InstanceNorm("in", x, gamma_initializer=init, data_format="channels_last")
    a, b = build_twice(old, new)
    assert a == b
