"""argscope: defaults, nesting, explicit arguments win, and argscope for plain functions."""
import logging
import types

import pytest
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.models import Conv2D, FullyConnected
from tensorpack.tfutils.argscope import (argscope, enable_argscope_for_function,
                                         enable_argscope_for_module, get_arg_scope)


@pytest.fixture
def graph():
    g = tfv1.Graph()
    with g.as_default():
        yield g


def test_get_arg_scope_outside_any_scope_is_empty_for_every_layer():
    assert get_arg_scope()["Conv2D"] == {}


def test_nested_scopes_merge_and_unwind():
    with argscope([Conv2D, FullyConnected], use_bias=False):
        with argscope(Conv2D, kernel_size=3):
            assert get_arg_scope()["Conv2D"] == {"use_bias": False, "kernel_size": 3}
            assert get_arg_scope()["FullyConnected"] == {"use_bias": False}
        assert get_arg_scope()["Conv2D"] == {"use_bias": False}
    assert get_arg_scope()["Conv2D"] == {}


def test_scope_unwinds_after_an_exception():
    with pytest.raises(RuntimeError):
        with argscope(Conv2D, kernel_size=3):
            raise RuntimeError
    assert get_arg_scope()["Conv2D"] == {}


def test_old_argument_names_in_scope_and_positional_wins(graph):
    x = tfv1.placeholder(tf.float32, [None, 8, 8, 3])
    with argscope(Conv2D, kernel_shape=3, nl=tf.nn.relu, out_channel=32):
        a = Conv2D("conv0", x)
        b = Conv2D("conv1", x, 64)            # positional filters wins over the scope
        c = Conv2D("conv2", x, out_channel=16)
    shapes = {v.op.name: v.shape.as_list() for v in tfv1.global_variables()}
    assert shapes["conv0/W"] == [3, 3, 3, 32]
    assert shapes["conv1/W"] == [3, 3, 3, 64]
    assert shapes["conv2/W"] == [3, 3, 3, 16]
    assert a.op.inputs[0].op.type == "Relu" and c.shape.as_list() == [None, 8, 8, 16]
    assert b.shape.as_list() == [None, 8, 8, 64]


def test_argscope_rejects_unregistered_functions():
    with pytest.raises(ValueError, match="registered"):
        with argscope(tf.nn.relu, x=1):
            pass


def test_enable_argscope_for_function_and_logs(graph, caplog):
    def scaled(x, factor=1.0, name=None):
        return tf.multiply(x, factor, name=name)
    scaled = enable_argscope_for_function(scaled)
    with argscope(scaled, factor=3.0), caplog.at_level(logging.INFO, logger="tensorpack"):
        y = scaled(tf.ones([2, 5]))
        z = scaled(tf.ones([2]), factor=2.0)
    with tfv1.Session() as sess:
        assert sess.run(y).tolist() == [[3.0] * 5] * 2
        assert sess.run(z).tolist() == [2.0, 2.0]
    assert any("[2, 5] --> [2, 5]" in r.getMessage() for r in caplog.records)


def test_enable_argscope_for_module_patches_functions():
    mod = types.ModuleType("fake_layers")

    def dense(x, units=1):
        return [x] * units
    mod.dense = dense
    enable_argscope_for_module(mod, log_shape=False)
    with argscope(mod.dense, units=3):
        assert mod.dense(7) == [7, 7, 7]
    assert mod.dense(7) == [7]
