"""optimizer and gradproc: wrappers and gradient processors change the updates as documented."""
import re

import numpy as np
import pytest

from tensorpack.compat import tfv1
from tensorpack.tfutils import gradproc, optimizer
from tensorpack.tfutils.gradproc import (CheckGradient, FilterNoneGrad, GlobalNormClip,
                                         MapGradient, PrintGradient, ScaleGradient,
                                         SummaryGradient)
from tensorpack.tfutils.optimizer import (AccumGradOptimizer, PostProcessOptimizer,
                                          ProxyOptimizer, VariableAssignmentOptimizer,
                                          apply_grad_processors)


@pytest.fixture
def graph():
    g = tfv1.Graph()
    with g.as_default():
        yield g


def _vars_and_cost():
    """cost = sum(w * x) + 3 * sum(b): gradients are x for w and 3 for b."""
    w = tfv1.get_variable("layer0/W", initializer=np.zeros(3, np.float32))
    b = tfv1.get_variable("layer1/b", initializer=np.zeros(2, np.float32))
    x = tfv1.placeholder(tfv1.float32, [3], name="x")
    cost = tfv1.reduce_sum(w * x) + 3.0 * tfv1.reduce_sum(b)
    return w, b, x, cost


def _run_steps(train_op, feed_fn, n, fetch):
    with tfv1.Session() as sess:
        sess.run(tfv1.global_variables_initializer())
        out = []
        for i in range(n):
            sess.run(train_op, feed_dict=feed_fn(i))
            out.append(sess.run(fetch))
        return out


def test_public_names():
    assert optimizer.__all__ == ["apply_grad_processors", "ProxyOptimizer", "PostProcessOptimizer",
                                 "VariableAssignmentOptimizer", "AccumGradOptimizer"]
    assert set(gradproc.__all__) == {"GradientProcessor", "FilterNoneGrad", "GlobalNormClip",
                                     "MapGradient", "SummaryGradient", "PrintGradient",
                                     "CheckGradient", "ScaleGradient"}


def test_proxy_optimizer_same_update_as_wrapped(graph):
    w, b, x, cost = _vars_and_cost()
    opt = ProxyOptimizer(tfv1.train.GradientDescentOptimizer(0.5))
    train = opt.minimize(cost)
    w_val, b_val = _run_steps(train, lambda i: {x: [1., 2., 3.]}, 1, [w, b])[0]
    np.testing.assert_allclose(w_val, [-0.5, -1., -1.5])
    np.testing.assert_allclose(b_val, [-1.5, -1.5])


def test_proxy_rejects_non_optimizer():
    with pytest.raises(TypeError, match="Optimizer"):
        ProxyOptimizer("sgd")


def test_accum_grad_applies_summed_gradient_every_k_steps(graph):
    """Upstream's semantics: the k gradients are summed (a k times larger batch with a k times
    larger learning rate), applied on each k-th run, and the accumulator is cleared."""
    w, b, x, cost = _vars_and_cost()
    step = tfv1.train.get_or_create_global_step()
    opt = AccumGradOptimizer(tfv1.train.GradientDescentOptimizer(0.1), niter=3)
    train = opt.minimize(cost, global_step=step)
    feeds = [[1., 0., 0.], [0., 2., 0.], [0., 0., 4.], [1., 1., 1.], [1., 1., 1.], [1., 1., 1.]]
    hist = _run_steps(train, lambda i: {x: feeds[i]}, 6, [w, step])
    ws = [h[0] for h in hist]
    np.testing.assert_allclose(ws[0], 0)
    np.testing.assert_allclose(ws[1], 0)
    np.testing.assert_allclose(ws[2], [-0.1, -0.2, -0.4], rtol=1e-6)
    np.testing.assert_allclose(ws[4], ws[2])
    np.testing.assert_allclose(ws[5], [-0.4, -0.5, -0.7], rtol=1e-6)
    assert [h[1] for h in hist] == [1, 2, 3, 4, 5, 6]
    names = {v.op.name for v in tfv1.global_variables()}
    assert "AccumGrad/counter" in names
    assert any(n.endswith("/AccumGrad") for n in names), names  # the accum slots


def test_accum_grad_rejects_bad_niter():
    with pytest.raises(ValueError, match="niter"):
        AccumGradOptimizer(tfv1.train.GradientDescentOptimizer(0.1), 0)


def test_apply_grad_processors_global_norm_clip(graph):
    w, b, x, cost = _vars_and_cost()
    # gradients: x=[3,4,0] for w and [3,3] for b; global norm sqrt(9+16+18)=sqrt(43)
    opt = apply_grad_processors(tfv1.train.GradientDescentOptimizer(1.0), [GlobalNormClip(1.0)])
    train = opt.minimize(cost)
    w_val, b_val = _run_steps(train, lambda i: {x: [3., 4., 0.]}, 1, [w, b])[0]
    norm = np.sqrt(43.)
    np.testing.assert_allclose(w_val, [-3 / norm, -4 / norm, 0], rtol=1e-5)
    np.testing.assert_allclose(b_val, [-3 / norm, -3 / norm], rtol=1e-5)
    assert np.linalg.norm(np.concatenate([w_val, b_val])) == pytest.approx(1.0, rel=1e-5)
    assert any(op.name.startswith("GlobalNormClip/") for op in graph.get_operations())


def test_apply_grad_processors_rejects_non_processors():
    opt = tfv1.train.GradientDescentOptimizer(1.0)
    with pytest.raises(TypeError):
        apply_grad_processors(opt, GlobalNormClip(1.0))
    with pytest.raises(TypeError, match="not a GradientProcessor"):
        apply_grad_processors(opt, [lambda g: g])


def test_scale_gradient_regex_and_zero_freezes(graph):
    w, b, x, cost = _vars_and_cost()
    opt = apply_grad_processors(tfv1.train.GradientDescentOptimizer(1.0),
                                [ScaleGradient([(".*/b", 2.), ("layer0/.*", 0.)])])
    train = opt.minimize(cost)
    w_val, b_val = _run_steps(train, lambda i: {x: [1., 1., 1.]}, 1, [w, b])[0]
    np.testing.assert_allclose(w_val, 0)       # layer0/W frozen by a 0 multiplier
    np.testing.assert_allclose(b_val, [-6, -6])  # 2 * 3


def test_scale_gradient_single_tuple_and_whole_name_match(graph):
    w, b, x, cost = _vars_and_cost()
    grads = [(tfv1.ones([3]), w), (tfv1.ones([2]), b)]
    out = ScaleGradient(("layer", 5.), verbose=False).process(grads)  # "layer" matches nothing
    assert [o[0] for o in out] == [g for g, _ in grads]
    with pytest.raises(TypeError):
        ScaleGradient(("x", 1.), verbose=1)


def test_map_gradient_one_or_two_args_and_drop(graph):
    w, b, x, cost = _vars_and_cost()
    grads = [(tfv1.ones([3]), w), (tfv1.ones([2]), b)]
    out = MapGradient(lambda g: g * 10., regex="layer0/.*").process(grads)
    out2 = MapGradient(lambda g, v: None, regex=".*b").process(grads)
    with tfv1.Session() as sess:
        vals = sess.run([g for g, _ in out])
    np.testing.assert_allclose(vals[0], 10.)
    np.testing.assert_allclose(vals[1], 1.)
    assert [v for _, v in out2] == [w]
    with pytest.raises(ValueError, match="grad"):
        MapGradient(lambda a, b, c: a)


def test_filter_none_grad(graph, caplog):
    w, b, x, cost = _vars_and_cost()
    g = tfv1.ones([3])
    assert FilterNoneGrad().process([(g, w), (None, b)]) == [(g, w)]


def test_check_gradient_fails_on_nan(graph):
    w, b, x, cost = _vars_and_cost()
    bad = tfv1.constant([np.nan, 0, 0], tfv1.float32)
    out = CheckGradient().process([(bad, w)])
    with tfv1.Session() as sess:
        with pytest.raises(tfv1.errors.InvalidArgumentError, match="CheckGradient/layer0/W"):
            sess.run(out[0][0])


def test_summary_and_print_gradient(graph):
    w, b, x, cost = _vars_and_cost()
    grads = [(tfv1.ones([3]), w), (2 * tfv1.ones([2]), b)]
    out = SummaryGradient().process(grads)
    tags = [op.name for op in tfv1.get_collection(tfv1.GraphKeys.SUMMARIES)]
    assert any("layer0/W-grad" in t for t in tags) and any("layer1/b-grad" in t for t in tags)
    printed = PrintGradient(regex="layer1/.*").process(out)
    assert printed[0][0] is out[0][0]
    with tfv1.Session() as sess:
        np.testing.assert_allclose(sess.run(printed[1][0]), [2., 2.])


def test_post_process_and_variable_assignment(graph):
    w, b, x, cost = _vars_and_cost()
    opt = VariableAssignmentOptimizer(tfv1.train.GradientDescentOptimizer(1.0),
                                      lambda v: tfv1.clip_by_value(v, -1., 1.)
                                      if re.match("layer0", v.op.name) else None)
    train = opt.minimize(cost)
    w_val, b_val = _run_steps(train, lambda i: {x: [0.5, 2., 3.]}, 1, [w, b])[0]
    np.testing.assert_allclose(w_val, [-0.5, -1., -1.])
    np.testing.assert_allclose(b_val, [-3., -3.])


def test_post_process_rejects_non_op(graph):
    w, b, x, cost = _vars_and_cost()
    opt = PostProcessOptimizer(tfv1.train.GradientDescentOptimizer(1.0), lambda v: v + 1)
    with pytest.raises(TypeError, match="tf.Operation"):
        opt.minimize(cost)
