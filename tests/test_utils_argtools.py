"""tensorpack.utils.argtools: memoization, argument mapping, shapes, data formats."""
import logging

import pytest

from tensorpack.utils.argtools import (call_only_once, get_data_format, graph_memoized, log_once,
                                       map_arg, memoized, memoized_ignoreargs, memoized_method,
                                       shape2d, shape4d)


def test_map_arg_maps_only_named_argument():
    @map_arg(b=lambda v: v * 10)
    def f(a, b=1, c=2):
        return a, b, c
    assert f(1, 2, c=3) == (1, 20, 3)
    assert f(1, c=3) == (1, 1, 3)  # not given: default untouched
    assert f(a=1, b=5) == (1, 50, 2)


def test_memoized_and_memoized_ignoreargs():
    calls = []

    @memoized
    def square(x):
        calls.append(x)
        return x * x

    @memoized_ignoreargs
    def first(x):
        calls.append(("first", x))
        return x
    assert [square(3), square(3), square(4)] == [9, 9, 16]
    assert [first(1), first(2)] == [1, 1]
    assert calls == [3, 4, ("first", 1)]


def test_memoized_method_is_per_instance():
    class A:
        def __init__(self):
            self.n = 0

        @memoized_method
        def get(self, k):
            self.n += 1
            return k * 2
    a, b = A(), A()
    assert a.get(1) == a.get(1) == 2 and a.n == 1
    assert b.get(1) == 2 and b.n == 1


def test_call_only_once_per_instance_also_for_property_setters():
    class A:
        _p = 0

        @call_only_once
        def setup(self):
            return "ok"

        @property
        def p(self):
            return self._p

        @p.setter
        @call_only_once
        def p(self, v):
            self._p = v
    a = A()
    assert a.setup() == "ok"
    with pytest.raises(RuntimeError, match="once"):
        a.setup()
    assert A().setup() == "ok"
    a.p = 3
    with pytest.raises(RuntimeError):
        a.p = 4
    assert a.p == 3


def test_graph_memoized_keeps_one_cache_per_graph():
    from tensorpack.compat import tfv1
    calls = []

    @graph_memoized
    def make(name):
        calls.append(name)
        return tfv1.constant(0, name=name)
    g1, g2 = tfv1.Graph(), tfv1.Graph()
    with g1.as_default():
        a = make("c")
        assert make("c") is a
    with g2.as_default():
        b = make("c")
    assert a is not b and a.graph is g1 and b.graph is g2
    assert calls == ["c", "c"]


def test_shapes_and_data_format():
    assert shape2d(3) == [3, 3] and shape2d((2, 5)) == [2, 5]
    with pytest.raises(ValueError):
        shape2d((1, 2, 3))
    assert shape4d(2) == [1, 2, 2, 1]
    assert shape4d((2, 3), data_format="channels_first") == [1, 1, 2, 3]
    assert get_data_format("NCHW") == "channels_first"
    assert get_data_format("channels_last", keras_mode=False) == "NHWC"
    assert get_data_format("NHWC", keras_mode=False) == "NHWC"
    with pytest.raises(ValueError, match="data_format"):
        get_data_format("HWC")


def test_log_once(caplog):
    with caplog.at_level(logging.INFO, logger="tensorpack"):
        log_once("a message seen once, unique 8123", "warn")
        log_once("a message seen once, unique 8123", "warn")
    assert sum("unique 8123" in r.getMessage() for r in caplog.records) == 1
