"""The minimal layer set: upstream's call style, variable names and training behaviour."""
import numpy as np
import pytest
import tensorflow as tf

from tensorpack import (BatchNorm, Conv2D, Dropout, FullyConnected, MaxPooling, TowerContext,
                        argscope)
from tensorpack.compat import tfv1


def _vars():
    return {v.op.name: v.shape.as_list() for v in tfv1.global_variables()}


def test_fullyconnected_names_shapes_and_flattening(fresh_graph):
    x = tfv1.placeholder(tf.float32, [None, 2, 3], name="x")
    out = FullyConnected("fc", x, 5, activation=tf.nn.relu)
    assert _vars() == {"fc/W": [6, 5], "fc/b": [5]}
    assert out.name == "fc/output:0" and out.shape.as_list() == [None, 5]
    FullyConnected("fc_nobias", out, 2, use_bias=False)
    assert "fc_nobias/b" not in _vars()
    with tfv1.Session() as sess:
        sess.run(tfv1.global_variables_initializer())
        val = sess.run(out, {x: np.random.randn(4, 2, 3)})
    assert val.shape == (4, 5) and (val >= 0).all()


def test_layer_requires_a_name(fresh_graph):
    x = tfv1.placeholder(tf.float32, [None, 3])
    with pytest.raises(ValueError, match="name"):
        FullyConnected(x, 3)


def test_argscope_sets_defaults_and_explicit_arguments_win(fresh_graph):
    x = tfv1.placeholder(tf.float32, [None, 3])
    with argscope(FullyConnected, activation=tf.nn.relu, use_bias=False):
        a = FullyConnected("a", x, 4)
        FullyConnected("b", x, 4, use_bias=True)
    c = FullyConnected("c", x, 4)
    ops = {op.type for op in a.graph.get_operations() if op.name.startswith("a/")}
    assert "Relu" in ops
    names = _vars()
    assert "a/b" not in names and "b/b" in names and "c/b" in names
    assert not any(op.type == "Relu" for op in c.graph.get_operations()
                   if op.name.startswith("c/"))
    with pytest.raises(ValueError, match="registered"):
        with argscope(tf.nn.relu, x=1):
            pass


def test_conv2d_and_maxpooling(fresh_graph):
    x = tfv1.placeholder(tf.float32, [None, 8, 8, 3])
    y = Conv2D("conv", x, 6, 3, activation=tf.nn.relu)
    p = MaxPooling("pool", y, 2)
    assert _vars() == {"conv/W": [3, 3, 3, 6], "conv/b": [6]}
    assert y.name == "conv/output:0" and y.shape.as_list() == [None, 8, 8, 6]
    assert p.shape.as_list() == [None, 4, 4, 6]
    s = Conv2D("strided", x, 4, (3, 3), strides=2, padding="valid")
    assert s.shape.as_list() == [None, 3, 3, 4]


def test_batchnorm_uses_batch_stats_when_training_and_ema_otherwise(fresh_graph):
    x = tfv1.placeholder(tf.float32, [None, 3])
    with TowerContext("", is_training=True):
        train_out = BatchNorm("bn", x)
    updates = tfv1.get_collection(tfv1.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2
    assert set(_vars()) == {"bn/beta", "bn/gamma", "bn/mean/EMA", "bn/variance/EMA"}
    with tfv1.variable_scope(tfv1.get_variable_scope(), reuse=True), \
            TowerContext("pred", is_training=False):
        pred_out = BatchNorm("bn", x)
    # an inference tower adds no update ops
    assert len(tfv1.get_collection(tfv1.GraphKeys.UPDATE_OPS)) == 2
    data = np.random.RandomState(0).randn(16, 3).astype("float32") * 5 + 2
    with tfv1.Session() as sess:
        sess.run(tfv1.global_variables_initializer())
        t = sess.run(train_out, {x: data})
        np.testing.assert_allclose(t.mean(0), 0, atol=1e-4)
        p = sess.run(pred_out, {x: data})  # EMA mean 0, var 1: nearly the identity
        np.testing.assert_allclose(p, data / np.sqrt(1 + 1e-5), rtol=1e-4)
        sess.run(updates, {x: data})
        mean = sess.run([v for v in tfv1.global_variables() if v.op.name == "bn/mean/EMA"][0])
    np.testing.assert_allclose(mean, 0.1 * data.mean(0), rtol=1e-4)


def test_dropout_only_while_training(fresh_graph):
    x = tf.ones([1000])
    with TowerContext("", is_training=False):
        off = Dropout(x, rate=0.5)
    with TowerContext("t", is_training=True):
        on = Dropout("drop", x, rate=0.5)
    with tfv1.Session() as sess:
        a, b = sess.run([off, on])
    assert (a == 1).all()
    assert 0.3 < (b == 0).mean() < 0.7


def test_pooling_variants_and_bnrelu(fresh_graph):
    from tensorpack import AvgPooling, BNReLU, GlobalAvgPooling
    x = tfv1.placeholder(tf.float32, [None, 4, 4, 2])
    assert AvgPooling("avg", x, 2).shape.as_list() == [None, 2, 2, 2]
    g = GlobalAvgPooling("gap", x)
    assert g.shape.as_list() == [None, 2] and g.name == "gap/output:0"
    with TowerContext("", is_training=True):
        y = BNReLU("bnr", x)
    assert {"bnr/bn/beta", "bnr/bn/gamma"} <= set(_vars())
    data = np.random.RandomState(0).randn(3, 4, 4, 2).astype("float32")
    with tfv1.Session() as sess:
        sess.run(tfv1.global_variables_initializer())
        np.testing.assert_allclose(sess.run(g, {x: data}), data.mean((1, 2)), rtol=1e-5)
        assert (sess.run(y, {x: data}) >= 0).all()


def test_regularize_cost(fresh_graph):
    from tensorpack import l2_regularizer, regularize_cost
    x = tfv1.placeholder(tf.float32, [None, 3])
    with TowerContext("", is_training=True):
        FullyConnected("fc0", x, 2, kernel_initializer=tfv1.ones_initializer())
        FullyConnected("fc1", x, 2, kernel_initializer=tfv1.ones_initializer())
        cost = regularize_cost("fc0/W", l2_regularizer(0.5))
        none = regularize_cost("nothing", l2_regularizer(0.5))
    with TowerContext("pred", is_training=False):
        zero = regularize_cost(".*", l2_regularizer(0.5))
    with tfv1.Session() as sess:
        sess.run(tfv1.global_variables_initializer())
        # only fc0/W (6 ones): 0.5 * sum(1) / 2
        assert sess.run([cost, none, zero]) == [1.5, 0.0, 0.0]


def test_linear_wrap_chains_layers_and_tf_functions(fresh_graph):
    from tensorpack import LinearWrap
    x = tfv1.placeholder(tf.float32, [None, 4, 4, 1])
    out = (LinearWrap(x)
           .Conv2D("conv0", 3, 3)
           .MaxPooling("pool0", 2)
           .tf.nn.relu()
           .FullyConnected("fc", 5)())
    assert out.name == "fc/output:0" and out.shape.as_list() == [None, 5]
    with pytest.raises(AttributeError, match="registered layer"):
        LinearWrap(x).NotALayer


def test_bnrelu_as_activation(fresh_graph):
    from tensorpack import BNReLU
    x = tfv1.placeholder(tf.float32, [None, 4, 4, 2])
    with TowerContext("", is_training=True):
        Conv2D("conv0", x, 3, 3, activation=BNReLU)
    assert {"conv0/W", "conv0/b", "conv0/bn/beta", "conv0/bn/gamma"} <= set(_vars())
