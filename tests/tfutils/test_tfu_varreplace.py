"""varreplace, collection, dependency, symbolic_functions."""
import numpy as np
import pytest

from tensorpack.compat import tfv1
from tensorpack.tfutils.collection import (CollectionGuard, backup_collection, freeze_collection,
                                           restore_collection)
from tensorpack.tfutils.dependency import dependency_of_fetches, dependency_of_targets
from tensorpack.tfutils.symbolic_functions import print_stat, psnr, rms
from tensorpack.tfutils.varreplace import (custom_getter_scope, freeze_variables,
                                           remap_variables)


@pytest.fixture
def graph():
    g = tfv1.Graph()
    with g.as_default():
        yield g


def test_freeze_variables_stop_gradient(graph):
    x = tfv1.constant([1., 2.])
    with tfv1.variable_scope("frozen"), freeze_variables():
        a = tfv1.get_variable("a", initializer=np.ones(2, np.float32))
    b = tfv1.get_variable("b", initializer=np.ones(2, np.float32))
    assert a.op.name.endswith("freezed_frozen/a") and a.op.type == "StopGradient"
    cost = tfv1.reduce_sum(a * x + b * x)
    var_a = [v for v in tfv1.trainable_variables() if v.op.name == "frozen/a"][0]
    grads = tfv1.gradients(cost, [var_a, b])
    assert grads[0] is None and grads[1] is not None
    # still trainable: only this use is frozen
    assert {v.op.name for v in tfv1.trainable_variables()} == {"frozen/a", "b"}


def test_freeze_variables_skip_collection(graph):
    with freeze_variables(stop_gradient=False, skip_collection=True):
        a = tfv1.get_variable("a", shape=[2])
        c = tfv1.get_variable("c", shape=[2], trainable=False)
    assert tfv1.trainable_variables() == []
    assert tfv1.get_collection(tfv1.GraphKeys.MODEL_VARIABLES) == [a]  # not c
    assert {v.op.name for v in tfv1.global_variables()} == {"a", "c"}
    cost = tfv1.reduce_sum(a)
    opt = tfv1.train.GradientDescentOptimizer(1.0)
    with pytest.raises(ValueError, match="No variables"):
        opt.minimize(cost)


def test_remap_variables(graph):
    with remap_variables(lambda v: v * 3.0):
        w = tfv1.get_variable("w", initializer=np.full(2, 2., np.float32))
    assert w.op.type == "Mul"
    with tfv1.Session() as sess:
        sess.run(tfv1.global_variables_initializer())
        np.testing.assert_allclose(sess.run(w), [6., 6.])
    assert [v.op.name for v in tfv1.global_variables()] == ["w"]


def test_custom_getter_scope_keeps_scope_names(graph):
    seen = []

    def my_getter(getter, *args, **kwargs):
        seen.append(args[0] if args else kwargs["name"])
        return getter(*args, **kwargs)

    with tfv1.variable_scope("outer"):
        with custom_getter_scope(my_getter):
            v = tfv1.get_variable("v", shape=[1])
            t = tfv1.identity(v, name="t")
    assert v.op.name == "outer/v" and t.op.name == "outer/t"
    assert seen == ["outer/v"]


def test_backup_restore_and_freeze_collection(graph):
    tfv1.add_to_collection("mine", 1)
    backup = backup_collection(["mine"])
    tfv1.add_to_collection("mine", 2)
    restore_collection(backup)
    assert tfv1.get_collection("mine") == [1]
    with freeze_collection(["mine"]):
        tfv1.add_to_collection("mine", 3)
        assert tfv1.get_collection("mine") == [1, 3]
    assert tfv1.get_collection("mine") == [1]
    with pytest.raises(TypeError):
        backup_collection("mine")


def test_collection_guard(graph, caplog):
    tfv1.add_to_collection("kept", "a")
    guard = CollectionGuard("tower0", check_diff=True, freeze_keys=["kept"])
    with guard:
        tfv1.add_to_collection("kept", "b")
        tfv1.add_to_collection("brand_new", "x")
        tfv1.get_variable("v", shape=[1])
        assert guard.get_collection_in_tower("kept") == ["b"]
    assert tfv1.get_collection("kept") == ["a"]
    assert tfv1.get_collection("brand_new") == ["x"]
    assert guard.get_collection_in_tower("brand_new") == ["x"]


def test_dependency_of_targets_and_fetches(graph):
    a = tfv1.constant(1.0, name="a")
    b = tfv1.constant(2.0, name="b")
    c = tfv1.add(a, 1.0, name="c")
    with tfv1.control_dependencies([b]):
        d = tfv1.identity(c, name="d")
    assert dependency_of_targets((c,), a)
    assert not dependency_of_targets((c,), b)
    assert dependency_of_targets((d,), b.op)  # control input
    assert dependency_of_fetches({"x": [c]}, a)
    assert dependency_of_fetches("d:0", b)
    assert not dependency_of_fetches([a], c)
    with pytest.raises(TypeError):
        dependency_of_targets((c,), "a")


def test_rms_psnr_print_stat(graph):
    x = tfv1.constant([3., 4.], name="x")
    with tfv1.name_scope("scope"):
        r = rms(x)
    assert r.op.name == "x/rms"
    y = print_stat(x, message="x is")
    p = psnr(tfv1.constant([0., 0.]), tfv1.constant([1., 1.]) * 0.1, maxp=1.0)
    p2 = psnr(tfv1.constant([0., 0.]), tfv1.constant([1., 1.]) * 0.1)
    assert p.op.name == "psnr"
    with tfv1.Session() as sess:
        rv, yv, pv, pv2 = sess.run([r, y, p, p2])
    assert rv == pytest.approx(np.sqrt(12.5))
    np.testing.assert_allclose(yv, [3., 4.])
    assert pv == pytest.approx(20.0, rel=1e-5) and pv2 == pytest.approx(20.0, rel=1e-5)
