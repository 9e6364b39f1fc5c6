"""tfutils.summary helpers: moving, tensor and parameter summaries."""
import pytest

from cb_helpers import fresh_graph  # noqa: F401
from tensorpack.compat import tfv1
from tensorpack.tfutils.summary import (MOVING_SUMMARY_OPS_KEY, add_activation_summary,
                                        add_moving_summary, add_param_summary,
                                        add_tensor_summary)


def _summary_names():
    return sorted(s.op.name for s in tfv1.get_collection(tfv1.GraphKeys.SUMMARIES))


def test_add_tensor_summary_types():
    x = tfv1.constant([[1.0, 0.0], [2.0, 0.0]], name="act")
    add_tensor_summary(x, ["scalar", "histogram", "sparsity", "mean", "rms"], name="x")
    assert _summary_names() == ["x-histogram", "x-mean", "x-rms", "x-sparsity", "x-summary"]
    with pytest.raises(ValueError, match="Unknown summary types"):
        add_tensor_summary(x, ["bogus"])


def test_add_param_summary_matches_whole_names():
    with tfv1.variable_scope("fc"):
        tfv1.get_variable("W", [2, 2])
        tfv1.get_variable("b", [2])
    tfv1.get_variable("Wextra", [2])
    add_param_summary(("fc/W", ["histogram"]), (".*/b", ["rms"]))
    assert _summary_names() == ["param-summary/fc/W-histogram", "param-summary/fc/b-rms"]
    with pytest.raises(TypeError):
        add_param_summary(("x", ["rms"]), bogus=1)


def test_add_activation_summary_skips_vectors():
    add_activation_summary(tfv1.constant([1.0, 2.0]))
    assert _summary_names() == []
    add_activation_summary(tfv1.constant([[1.0, 2.0]], name="h"))
    assert len(_summary_names()) == 3


def test_add_moving_summary_values_and_collections():
    x = tfv1.placeholder(tfv1.float32, [])
    ops = add_moving_summary(tfv1.identity(x, name="cost"),
                             tfv1.cast(x, tfv1.int32, name="count"), decay=0.5)
    assert len(tfv1.get_collection(MOVING_SUMMARY_OPS_KEY)) == 2
    assert "cost-summary" in _summary_names() and "count-summary" in _summary_names()
    assert tfv1.global_variables() == []  # averages live in local variables only
    with tfv1.Session() as sess:
        sess.run(tfv1.local_variables_initializer())
        first = sess.run(ops, {x: 4.0})
        second = sess.run(ops, {x: 2.0})
    assert first[0] == pytest.approx(4.0)  # zero-debiased
    assert second[0] == pytest.approx((0.25 * 4 + 0.5 * 2) / 0.75)
    with pytest.raises(ValueError, match="scalar"):
        add_moving_summary(tfv1.constant([1.0, 2.0]))
    with pytest.raises(TypeError):
        add_moving_summary(x, bogus=1)
