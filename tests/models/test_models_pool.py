"""Pooling layers and FixedUnPooling (upstream's test plus NCHW, custom matrix, unknown
sizes)."""
import numpy as np
import pytest
import tensorflow as tf

from models_testlib import build_twice, rand, run
from tensorpack.compat import tfv1
from tensorpack.models import AvgPooling, FixedUnPooling, GlobalAvgPooling, MaxPooling


def test_fixed_unpooling_puts_input_at_corner_and_zeros_elsewhere(graph):
    h, w, scale = 3, 4, 2
    mat = rand(h, w, 3)
    x = tf.reshape(tfv1.Variable(mat), [1, h, w, 3])
    out = FixedUnPooling("unpool", x, scale)
    res = run(out)
    assert res.shape == (1, scale * h, scale * w, 3)
    assert (res[0, ::scale, ::scale, 0] == mat[:, :, 0]).all()
    res[0, ::scale, ::scale, :] = 0
    assert (res == 0).all()


def test_fixed_unpooling_is_a_kronecker_product(graph):
    data = rand(2, 3, 2, 4)
    mat = np.array([[1.0, 2.0, 0.5], [3.0, -1.0, 0.0]], dtype="float32")
    x = tfv1.placeholder(tf.float32, [None, 3, 2, 4])
    out = FixedUnPooling("unpool", x, (2, 3), unpool_mat=mat)
    res = run(out, {x: data})
    assert out.shape.as_list() == [None, 6, 6, 4]
    for n in range(2):
        for c in range(4):
            np.testing.assert_allclose(res[n, :, :, c], np.kron(data[n, :, :, c], mat))


def test_fixed_unpooling_nchw_and_unknown_sizes(graph):
    data = rand(1, 2, 3, 5)
    x = tfv1.placeholder(tf.float32, [None, 2, None, None])
    out = FixedUnPooling("unpool", x, 2, unpool_mat=tf.ones([2, 2]), data_format="NCHW")
    assert out.shape.as_list() == [None, 2, None, None]
    res = run(out, {x: data})
    np.testing.assert_allclose(res[0, 1], np.kron(data[0, 1], np.ones((2, 2))))


def test_fixed_unpooling_rejects_wrong_matrix(graph):
    x = tfv1.placeholder(tf.float32, [None, 3, 3, 1])
    with pytest.raises(ValueError, match="unpool_mat"):
        FixedUnPooling("u", x, 2, unpool_mat=np.ones((3, 3), "float32"))


def test_pooling_shapes_values_and_names(graph):
    data = rand(2, 4, 6, 3)
    x = tfv1.placeholder(tf.float32, [None, 4, 6, 3])
    mx = MaxPooling("max", x, 2)
    av = AvgPooling("avg", x, 2, strides=1, padding="SAME")
    gap = GlobalAvgPooling("gap", x)
    assert mx.op.name == "max/output" and mx.shape.as_list() == [None, 2, 3, 3]
    assert av.shape.as_list() == [None, 4, 6, 3]
    assert gap.op.name == "gap/output" and gap.shape.as_list() == [None, 3]
    m, g = run([mx, gap], {x: data})
    np.testing.assert_allclose(m, data.reshape(2, 2, 2, 3, 2, 3).max(axis=(2, 4)))
    np.testing.assert_allclose(g, data.mean(axis=(1, 2)), rtol=1e-5)
    assert not tfv1.global_variables()


def test_pooling_nchw_shapes(graph):
    x = tfv1.placeholder(tf.float32, [None, 3, 8, 8])
    assert MaxPooling("m", x, 2, data_format="channels_first").shape.as_list() == \
        [None, 3, 4, 4]
    assert GlobalAvgPooling("g", x, data_format="NCHW").shape.as_list() == [None, 3]


def test_pooling_old_argument_names_build_the_same_graph():
    def old():
        x = tfv1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
        MaxPooling("p", x, shape=3, stride=2, padding="SAME")
        AvgPooling("a", x, shape=2, stride=2)

    def new():
        x = tfv1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
        MaxPooling("p", x, pool_size=3, strides=2, padding="same")
        AvgPooling("a", x, 2, 2)
    a, b = build_twice(old, new)
    assert a == b
