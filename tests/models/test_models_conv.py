"""Conv2D and Conv2DTranspose: upstream's shape tests, values, variable names, old names."""
import numpy as np
import pytest
import tensorflow as tf

from models_testlib import build_twice, rand, run, var_shapes
from tensorpack.compat import tfv1
from tensorpack.models import Conv2D, Conv2DTranspose, Deconv2D


# --- upstream's TestConv2DTranspose, in our words ---

@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("stride", [1, 2])
def test_deconv_static_shape_matches_run_shape(graph, padding, stride):
    x = tfv1.Variable(rand(1, 12, 18, 3))
    out = Conv2DTranspose("deconv", x, 20, 3, strides=stride, padding=padding)
    assert tuple(out.shape.as_list()) == run(out).shape


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("stride", [1, 2])
def test_deconv_unknown_width_stays_unknown(graph, padding, stride):
    x = tfv1.placeholder(tf.float32, (1, 12, None, 3))
    out = Conv2DTranspose("deconv", x, 20, 3, strides=stride, padding=padding)
    static = out.shape.as_list()
    actual = run(out, {x: rand(1, 12, 18, 3)}).shape
    assert static[2] is None
    assert static[:2] == list(actual[:2]) and static[3] == actual[3]
    expected_w = 18 * stride + (max(3 - stride, 0) if padding == "valid" else 0)
    assert actual[2] == expected_w


def test_deconv_values_equal_conv2d_transpose(graph):
    x = tfv1.placeholder(tf.float32, [None, 4, 5, 2])
    out = Conv2DTranspose("deconv", x, 3, 2, strides=2, use_bias=False)
    W = out.variables.W
    assert W.op.name == "deconv/W" and W.shape.as_list() == [2, 2, 3, 2]
    ref = tf.nn.conv2d_transpose(x, W, [2, 8, 10, 3], [1, 2, 2, 1], padding="SAME")
    data = rand(2, 4, 5, 2)
    a, b = run([out, ref], {x: data})
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_deconv2d_is_conv2dtranspose():
    assert Deconv2D is Conv2DTranspose


def test_deconv_nchw_shape_and_old_names(graph):
    x = tfv1.placeholder(tf.float32, [None, 3, 6, 6])
    out = Deconv2D("d", x, out_channel=4, kernel_shape=3, stride=2, data_format="NCHW",
                   padding="VALID")
    assert out.shape.as_list() == [None, 4, 13, 13]
    assert var_shapes() == {"d/W": [3, 3, 4, 3], "d/b": [4]}


# --- Conv2D ---

def test_conv_variables_output_name_and_values(graph):
    x = tfv1.placeholder(tf.float32, [None, 6, 6, 3])
    out = Conv2D("conv", x, 4, 3, activation=tf.nn.relu,
                 bias_initializer=tfv1.constant_initializer(0.5))
    assert var_shapes() == {"conv/W": [3, 3, 3, 4], "conv/b": [4]}
    assert out.op.name == "conv/output" and out.shape.as_list() == [None, 6, 6, 4]
    assert out.variables.W.op.name == "conv/W" and out.variables.b.op.name == "conv/b"
    ref = tf.nn.relu(tf.nn.conv2d(x, out.variables.W, 1, "SAME") + 0.5)
    a, b = run([out, ref], {x: rand(2, 6, 6, 3)})
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_conv_default_initializer_is_he_normal(graph):
    x = tfv1.placeholder(tf.float32, [None, 8, 8, 64])
    out = Conv2D("conv", x, 64, 3, use_bias=False)
    w = run(out.variables.W)
    # variance_scaling(2.0) over fan_in = 3*3*64, untruncated normal
    assert abs(w.std() - np.sqrt(2.0 / (9 * 64))) < 0.01 * 3
    assert "conv/b" not in var_shapes()


@pytest.mark.parametrize("padding,expected", [("same", 4), ("VALID", 3), ("Valid", 3)])
def test_conv_padding_any_case(graph, padding, expected):
    x = tfv1.placeholder(tf.float32, [None, 8, 8, 3])
    assert Conv2D("c", x, 2, 3, strides=2, padding=padding).shape.as_list()[1] == expected


@pytest.mark.parametrize("fmt", ["NCHW", "channels_first"])
def test_conv_nchw_shapes(graph, fmt):
    x = tfv1.placeholder(tf.float32, [None, 3, 8, 8])
    out = Conv2D("c", x, 5, 3, strides=2, data_format=fmt)
    assert out.shape.as_list() == [None, 5, 4, 4]
    assert var_shapes()["c/W"] == [3, 3, 3, 5]


def test_group_conv_equals_separate_convs(graph):
    x = tfv1.placeholder(tf.float32, [None, 5, 5, 4])
    out = Conv2D("g", x, 6, 3, split=2, use_bias=False)
    W = out.variables.W
    assert W.shape.as_list() == [3, 3, 2, 6]
    xs = tf.split(x, 2, 3)
    ws = tf.split(W, 2, 3)
    ref = tf.concat([tf.nn.conv2d(xs[i], ws[i], 1, "SAME") for i in range(2)], 3)
    a, b = run([out, ref], {x: rand(2, 5, 5, 4)})
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_groups_is_an_alias_of_split():
    def old():
        Conv2D("g", tfv1.placeholder(tf.float32, [None, 5, 5, 4]), 6, 3, split=2)

    def new():
        Conv2D("g", tfv1.placeholder(tf.float32, [None, 5, 5, 4]), 6, 3, groups=2)
    a, b = build_twice(old, new)
    assert a == b


def test_dilated_conv_values(graph):
    x = tfv1.placeholder(tf.float32, [None, 9, 9, 2])
    out = Conv2D("d", x, 3, 3, dilation_rate=2, use_bias=False)
    ref = tf.nn.conv2d(x, out.variables.W, 1, "SAME", dilations=2)
    a, b = run([out, ref], {x: rand(1, 9, 9, 2)})
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_old_argument_names_build_the_same_graph():
    relu = tf.nn.relu
    init = tfv1.constant_initializer(0.1)
    binit = tfv1.constant_initializer(0.2)

    def old():
        x = tfv1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
        y = Conv2D("c0", x, out_channel=4, kernel_shape=3, stride=2, nl=relu, W_init=init,
                   b_init=binit, padding="SAME", data_format="NHWC")
        Conv2DTranspose("d0", y, out_channel=2, kernel_shape=2, stride=2, nl=relu)

    def new():
        x = tfv1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
        y = Conv2D("c0", x, filters=4, kernel_size=3, strides=2, activation=relu,
                   kernel_initializer=init, bias_initializer=binit, padding="same",
                   data_format="channels_last")
        Conv2DTranspose("d0", y, filters=2, kernel_size=2, strides=2, activation=relu)
    a, b = build_twice(old, new)
    assert a == b


def test_conflicting_old_and_new_names_raise(graph):
    x = tfv1.placeholder(tf.float32, [None, 8, 8, 3])
    with pytest.raises(TypeError, match="stride"):
        Conv2D("c", x, 4, 3, stride=2, strides=1)
    with pytest.raises(TypeError, match="positional"):
        Conv2D("c2", x, 4, 3, 2)


def test_kernel_regularizer_goes_to_collection(graph):
    x = tfv1.placeholder(tf.float32, [None, 4, 4, 1])
    Conv2D("c", x, 2, 1, kernel_initializer=tfv1.ones_initializer(),
           kernel_regularizer=lambda w: tf.reduce_sum(w))
    losses = tfv1.get_collection(tfv1.GraphKeys.REGULARIZATION_LOSSES)
    assert len(losses) == 1 and run(losses[0]) == 2.0


def test_bad_arguments_name_the_problem(graph):
    x = tfv1.placeholder(tf.float32, [None, 8, 8, 3])
    with pytest.raises(ValueError, match="padding"):
        Conv2D("c", x, 4, 3, padding="full")
    with pytest.raises(ValueError, match="data_format"):
        Conv2D("c2", x, 4, 3, data_format="HWC")
    with pytest.raises(ValueError, match="split"):
        Conv2D("c3", x, 4, 3, split=2)
