"""scope_utils: upstream's unit tests (under_name_scope and its warning) and the other
scope helpers."""
import logging

import pytest
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.tfutils.scope_utils import (auto_reuse_variable_scope, cached_name_scope,
                                            under_name_scope, under_variable_scope)


@pytest.fixture
def graph():
    g = tfv1.Graph()
    with g.as_default():
        yield g


@under_name_scope(name_scope="s")
def _in_scope_s():
    return tfv1.get_default_graph().get_name_scope()


def test_under_name_scope_uses_given_default_then_a_fresh_name(graph):
    assert _in_scope_s() == "s"
    # a second call cannot reuse 's': TensorFlow picks a new scope, which no longer ends in 's'
    assert _in_scope_s() == "s_1"


def test_under_name_scope_defaults_to_function_name(graph):
    @under_name_scope()
    def rms(x):
        return tf.sqrt(tf.reduce_mean(tf.square(x)), name="out")
    assert rms(tf.ones([3])).op.name == "rms/out"
    assert rms(tf.ones([3]), name_scope="norm").op.name == "norm/out"


def test_under_name_scope_reenters_scope_given_in_call(graph):
    assert _in_scope_s(name_scope="t") == "t"
    assert _in_scope_s(name_scope="t") == "t"  # cached: same scope again, no 't_1'


def test_under_name_scope_warns_when_name_is_taken(graph, caplog):
    x = tfv1.placeholder(tf.float32, [3])
    tf.nn.relu(x, name="s")  # an op takes the name 's'
    with caplog.at_level(logging.WARNING, logger="tensorpack"):
        scope = _in_scope_s(name_scope="s")
    assert scope != "s"
    assert any("name_scope='s'" in r.getMessage() for r in caplog.records
               if r.levelno >= logging.WARNING)


def test_under_name_scope_no_warning_when_free(graph, caplog):
    with caplog.at_level(logging.WARNING, logger="tensorpack"):
        _in_scope_s(name_scope="free")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_under_variable_scope_names_variables_after_function(graph):
    @under_variable_scope()
    def head(x):
        return tfv1.get_variable("w", [2]) * x
    head(tf.ones([2]))
    assert [v.op.name for v in tfv1.global_variables()] == ["head/w"]


def test_auto_reuse_variable_scope_reuses_per_scope(graph):
    @auto_reuse_variable_scope
    def f(x):
        return x * tfv1.get_variable("w", [], initializer=tfv1.ones_initializer())
    f(tf.ones([]))
    f(tf.ones([]))  # reused, no error
    with tfv1.variable_scope("other"):
        f(tf.ones([]))
        f(tf.ones([]))
    names = sorted(v.op.name for v in tfv1.global_variables())
    assert names == ["other/w", "w"]


def test_auto_reuse_is_per_graph():
    @auto_reuse_variable_scope
    def f():
        return tfv1.get_variable("w", [])
    for _ in range(2):
        with tfv1.Graph().as_default():
            f()  # a new graph: first call creates
            f()
            assert len(tfv1.global_variables()) == 1


def test_cached_name_scope_reenters_and_is_top_level(graph):
    with cached_name_scope("summ") as ns1:
        a = tf.constant(1, name="a")
    with tfv1.name_scope("outer"):
        with cached_name_scope("summ") as ns2:
            b = tf.constant(1, name="b")
        with cached_name_scope("inner", top_level=False) as ns3:
            pass
    assert ns1 == ns2 == "summ/"
    assert a.op.name == "summ/a" and b.op.name == "summ/b"
    assert ns3 == "outer/inner/"
