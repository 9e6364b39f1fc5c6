"""BatchNorm: training / inference statistics, EMA update modes, towers, old argument
names, ghost batch norm, sync_statistics on a machine without GPUs; BatchRenorm."""
import logging

import numpy as np
import pytest
import tensorflow as tf

from models_testlib import build_twice, rand, run, var_shapes
from tensorpack.compat import tfv1
from tensorpack.models import BatchNorm, BatchRenorm
from tensorpack.tfutils.tower import TowerContext, TrainTowerContext

UPDATE_OPS = tfv1.GraphKeys.UPDATE_OPS
BN_VARS = {"bn/beta": [3], "bn/gamma": [3], "bn/mean/EMA": [3], "bn/variance/EMA": [3]}


def _ema(name="bn"):
    """The moving mean and variance variables of the layer ``name``."""
    by_name = {v.op.name: v for v in tfv1.global_variables()}
    return [by_name[name + "/mean/EMA"], by_name[name + "/variance/EMA"]]


def _data(shape=(4, 5, 5, 3)):
    return rand(*shape) * 4 + 2


def test_training_normalizes_by_batch_and_collects_updates(graph):
    x = tfv1.placeholder(tf.float32, [None, 5, 5, 3])
    with TowerContext("", is_training=True):
        out = BatchNorm("bn", x, momentum=0.8)
    assert var_shapes() == BN_VARS
    assert out.op.name == "bn/output"
    updates = tfv1.get_collection(UPDATE_OPS)
    assert len(updates) == 2
    ema_vars = tfv1.get_collection(tfv1.GraphKeys.MODEL_VARIABLES)
    assert sorted(v.op.name for v in ema_vars) == ["bn/mean/EMA", "bn/variance/EMA"]
    trainable = sorted(v.op.name for v in tfv1.trainable_variables())
    assert trainable == ["bn/beta", "bn/gamma"]
    data = _data()
    with tfv1.Session() as sess:
        sess.run(tfv1.global_variables_initializer())
        res = sess.run(out, {x: data})
        assert sess.run(_ema()[0]).tolist() == [0, 0, 0]  # not updated without UPDATE_OPS
        sess.run(updates, {x: data})
        mean, var = sess.run(_ema())
    np.testing.assert_allclose(res.mean((0, 1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(res.std((0, 1, 2)), 1, atol=1e-3)
    flat = data.reshape(-1, 3)
    np.testing.assert_allclose(mean, 0.2 * flat.mean(0), rtol=1e-4)
    # 4D inputs: the unbiased batch variance feeds the moving average (fused kernel)
    np.testing.assert_allclose(var, 0.8 + 0.2 * flat.var(0, ddof=1), rtol=1e-4)


def test_inference_uses_moving_statistics(graph):
    x = tfv1.placeholder(tf.float32, [None, 3])
    with TowerContext("", is_training=False):
        out = BatchNorm("bn", x, epsilon=1e-3)
    assert not tfv1.get_collection(UPDATE_OPS)
    data = _data((6, 3))
    with tfv1.Session() as sess:
        sess.run(tfv1.global_variables_initializer())
        mean_var = _ema()
        sess.run([tfv1.assign(mean_var[0], [1.0, 2.0, 3.0]),
                  tfv1.assign(mean_var[1], [4.0, 1.0, 0.25])])
        res = sess.run(out, {x: data})
    ref = (data - [1.0, 2.0, 3.0]) / np.sqrt(np.array([4.0, 1.0, 0.25]) + 1e-3)
    np.testing.assert_allclose(res, ref, rtol=1e-4, atol=1e-5)


def test_2d_input_uses_biased_variance(graph):
    x = tfv1.placeholder(tf.float32, [None, 3])
    with TowerContext("", is_training=True):
        BatchNorm("bn", x, momentum=0.5)
    data = _data((8, 3))
    with tfv1.Session() as sess:
        sess.run(tfv1.global_variables_initializer())
        sess.run(tfv1.get_collection(UPDATE_OPS), {x: data})
        _, var = sess.run(_ema())
    np.testing.assert_allclose(var, 0.5 + 0.5 * data.var(0), rtol=1e-4)


def test_internal_update_runs_with_the_output(graph):
    x = tfv1.placeholder(tf.float32, [None, 3])
    with TowerContext("", is_training=True):
        out = BatchNorm("bn", x, ema_update="internal")
    assert not tfv1.get_collection(UPDATE_OPS)
    data = _data((8, 3))
    with tfv1.Session() as sess:
        sess.run(tfv1.global_variables_initializer())
        sess.run(out, {x: data})
        mean, _ = sess.run(_ema())
    np.testing.assert_allclose(mean, 0.1 * data.mean(0), rtol=1e-4)


def test_skip_and_non_main_tower_add_no_update(graph):
    x = tfv1.placeholder(tf.float32, [None, 3])
    with TowerContext("", is_training=True):
        BatchNorm("bn", x, ema_update="skip")
    assert not tfv1.get_collection(UPDATE_OPS)
    with tfv1.variable_scope(tfv1.get_variable_scope(), reuse=True), \
            TrainTowerContext("tower1", index=1, total=2):
        BatchNorm("bn", x)
    assert not tfv1.get_collection(UPDATE_OPS)
    assert len(tfv1.get_collection(tfv1.GraphKeys.MODEL_VARIABLES)) == 2


def test_training_false_in_training_tower_uses_ema_and_warns(graph, caplog):
    x = tfv1.placeholder(tf.float32, [None, 3])
    with caplog.at_level(logging.WARNING, logger="tensorpack"):
        with TowerContext("", is_training=True):
            out = BatchNorm("bn", x, training=False)
    assert not tfv1.get_collection(UPDATE_OPS)
    data = _data((4, 3))
    np.testing.assert_allclose(run(out, {x: data}), data / np.sqrt(1 + 1e-5), rtol=1e-5)


def test_explicit_training_outside_towers(graph):
    x = tfv1.placeholder(tf.float32, [None, 3])
    out = BatchNorm("bn", x, training=True)
    assert len(tfv1.get_collection(UPDATE_OPS)) == 2
    np.testing.assert_allclose(run(out, {x: _data((8, 3))}).mean(0), 0, atol=1e-4)
    BatchNorm("bn2", x)  # outside any tower: inference
    assert len(tfv1.get_collection(UPDATE_OPS)) == 2


def test_nchw_and_channels_first(graph):
    x = tfv1.placeholder(tf.float32, [None, 3, 4, 4])
    with TowerContext("", is_training=True):
        out = BatchNorm("bn", x, data_format="channels_first")
        BatchNorm("bn1", x, axis=1)
    assert var_shapes()["bn/gamma"] == [3] and var_shapes()["bn1/gamma"] == [3]
    res = run(out, {x: _data((2, 3, 4, 4))})
    np.testing.assert_allclose(res.mean((0, 2, 3)), 0, atol=1e-4)


def test_no_center_no_scale(graph):
    x = tfv1.placeholder(tf.float32, [None, 3])
    with TowerContext("", is_training=True):
        out = BatchNorm("bn", x, center=False, scale=False)
    assert set(var_shapes()) == {"bn/mean/EMA", "bn/variance/EMA"}
    assert sorted(out.variables._vars) == ["mean", "moving_mean", "moving_variance",
                                           "variance"]


def test_old_argument_names_build_the_same_graph():
    init = tfv1.constant_initializer(2.0)

    def old():
        x = tfv1.placeholder(tf.float32, [None, 4, 4, 3], name="x")
        with TowerContext("", is_training=True):
            BatchNorm("bn", x, use_bias=False, use_scale=True, gamma_init=init, decay=0.99,
                      use_local_stat=True, data_format="NHWC")

    def new():
        x = tfv1.placeholder(tf.float32, [None, 4, 4, 3], name="x")
        with TowerContext("", is_training=True):
            BatchNorm("bn", x, center=False, scale=True, gamma_initializer=init,
                      momentum=0.99, training=True, data_format="channels_last")
    a, b = build_twice(old, new)
    assert a == b


def test_virtual_batch_size_normalizes_groups(graph):
    x = tfv1.placeholder(tf.float32, [None, 3])
    with TowerContext("", is_training=True):
        out = BatchNorm("bn", x, virtual_batch_size=2, ema_update="internal")
    data = _data((6, 3))
    with tfv1.Session() as sess:
        sess.run(tfv1.global_variables_initializer())
        res = sess.run(out, {x: data})
        mean, _ = sess.run(_ema())
    groups = res.reshape(3, 2, 3)
    np.testing.assert_allclose(groups.mean(1), 0, atol=1e-4)
    np.testing.assert_allclose(mean, 0.1 * data[:2].mean(0), rtol=1e-4)


def test_sync_statistics_single_tower_warns_and_uses_local_stats(graph, caplog):
    x = tfv1.placeholder(tf.float32, [None, 3])
    with caplog.at_level(logging.WARNING, logger="tensorpack"):
        with TowerContext("", is_training=True):
            out = BatchNorm("bn", x, sync_statistics="NCCL")
    assert any("one tower" in r.getMessage() for r in caplog.records)
    assert not tfv1.get_collection(UPDATE_OPS)  # sync implies the internal update
    data = _data((8, 3))
    with tfv1.Session() as sess:
        sess.run(tfv1.global_variables_initializer())
        res = sess.run(out, {x: data})
        mean, _ = sess.run(_ema())
    np.testing.assert_allclose(res.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(mean, 0.1 * data.mean(0), rtol=1e-4)


def test_sync_statistics_nccl_without_gpu_is_a_clear_error(graph):
    from tensorpack.models._helpers import has_gpu
    if has_gpu():
        pytest.skip("this machine has GPUs")
    x = tfv1.placeholder(tf.float32, [None, 3])
    with TrainTowerContext("tower0", index=0, total=2):
        with pytest.raises(RuntimeError, match="GPU"):
            BatchNorm("bn", x, sync_statistics="nccl")


def test_bad_options_raise(graph):
    x = tfv1.placeholder(tf.float32, [None, 3])
    with pytest.raises(ValueError, match="ema_update"):
        BatchNorm("a", x, ema_update="sometimes")
    with pytest.raises(ValueError, match="sync_statistics"):
        BatchNorm("b", x, sync_statistics="mpi")
    with pytest.raises(ValueError, match="2D or 4D"):
        BatchNorm("c", tfv1.placeholder(tf.float32, [None, 2, 3]))
    with pytest.raises(TypeError, match="positional"):
        BatchNorm("d", x, 1)


def test_batch_renorm_variables_training_and_inference(graph):
    x = tfv1.placeholder(tf.float32, [None, 3])
    with TowerContext("", is_training=True):
        out = BatchRenorm("rn", x, 3.0, 5.0)
    assert var_shapes() == {
        "rn/beta": [3], "rn/gamma": [3], "rn/moving_mean": [3], "rn/moving_variance": [3],
        "rn/renorm_mean": [3], "rn/renorm_mean_weight": [], "rn/renorm_stddev": [3],
        "rn/renorm_stddev_weight": []}
    updates = tfv1.get_collection(UPDATE_OPS)
    assert len(updates) == 2
    data = _data((16, 3))
    with tfv1.Session() as sess:
        sess.run(tfv1.global_variables_initializer())
        # first step: the renorm averages start from this batch, so r = 1 and d = 0
        res = sess.run(out, {x: data})
        np.testing.assert_allclose(res.mean(0), 0, atol=1e-4)
        sess.run(updates, {x: data})
        mean = sess.run([v for v in tfv1.global_variables()
                         if v.op.name == "rn/moving_mean"][0])
    np.testing.assert_allclose(mean, 0.1 * data.mean(0), rtol=1e-3)
    with tfv1.variable_scope(tfv1.get_variable_scope(), reuse=True), \
            TowerContext("pred", is_training=False):
        pred = BatchRenorm("rn", x, 3.0, 5.0)
    np.testing.assert_allclose(run(pred, {x: data}), data / np.sqrt(1 + 1e-5), rtol=1e-4)


def test_batch_renorm_old_argument_names_build_the_same_graph():
    def old():
        x = tfv1.placeholder(tf.float32, [None, 3], name="x")
        with TowerContext("", is_training=True):
            BatchRenorm("rn", x, 3.0, 5.0, decay=0.8, use_bias=False, use_scale=False)

    def new():
        x = tfv1.placeholder(tf.float32, [None, 3], name="x")
        with TowerContext("", is_training=True):
            BatchRenorm("rn", x, rmax=3.0, dmax=5.0, momentum=0.8, center=False, scale=False)
    a, b = build_twice(old, new)
    assert a == b


def test_sync_statistics_horovod_without_package_names_it(graph):
    import importlib.util
    if importlib.util.find_spec("horovod") is not None:
        pytest.skip("horovod is installed")
    x = tfv1.placeholder(tf.float32, [None, 3])
    with TowerContext("", is_training=True):
        with pytest.raises(ImportError, match="horovod"):
            BatchNorm("bn", x, sync_statistics="horovod")
