"""Shared variable handles (one ``_VarHandlesOp`` for many variables): used only where every
op lands on one device, and the restored values are right either way."""
import numpy as np
import tensorflow as tf

from tensorpack.checkpoint.formats import save_tensors
from tensorpack.compat import tfv1
from tensorpack.tfutils.sessinit import SmartInit
from tensorpack.tfutils.varmanip import SessionUpdate
from tensorpack.tfutils.var_handles import OneDeviceCheck, shared_handles

VALUES = {"layer{}/{}".format(i, k): np.full((2, 3), 10 * i + j, np.float32)
          for i in range(4) for j, k in enumerate("Wb")}


def _op_types(graph):
    return {op.type for op in graph.get_operations() if op.name.startswith("tensorpack_restore")}


def _restore(g, vs, source, cpus=1):
    init = SmartInit(source)
    with g.as_default():
        init._setup_graph()
    config = tfv1.ConfigProto(device_count={"CPU": cpus})
    with tfv1.Session(graph=g, config=config) as sess:
        sess.run(tfv1.global_variables_initializer())
        init._run_init(sess)
        return {n: sess.run(v) for n, v in vs.items()}


def _assert_restored(values):
    for name, value in values.items():
        np.testing.assert_array_equal(value, VALUES[name], err_msg=name)


def test_checkpoint_on_two_devices_reads_with_plain_ops(tmp_path, variable_graph):
    prefix = str(tmp_path / "model-1")
    save_tensors(prefix, VALUES)  # a TF checkpoint
    g, vs = variable_graph(VALUES, (2, 3), devices=["/cpu:0", "/cpu:1"])
    _assert_restored(_restore(g, vs, prefix, cpus=2))
    types = _op_types(g)
    assert "RestoreV2" in types and "AssignVariableOp" in types
    assert not types & {"_VarHandlesOp", "StatefulPartitionedCall"}


def test_one_device_session_update_shares_handles(variable_graph):
    """SessionUpdate feeds a placeholder per variable (its sets vary, so no function call);
    the assigns still take shared handles."""
    g, vs = variable_graph(VALUES, (2, 3))
    with tfv1.Session(graph=g) as sess:
        sess.run(tfv1.global_variables_initializer())
        SessionUpdate(sess, list(vs.values())).update(VALUES)
        _assert_restored({n: sess.run(v) for n, v in vs.items()})
    types = _op_types(g)
    assert "_VarHandlesOp" in types and "StatefulPartitionedCall" not in types

def test_variables_on_two_devices_keep_their_own_handles(tmp_path, variable_graph):
    path = str(tmp_path / "w.npz")
    save_tensors(path, VALUES)
    g, vs = variable_graph(VALUES, (2, 3), devices=["/cpu:0", "/cpu:1"])
    _assert_restored(_restore(g, vs, path, cpus=2))
    assert "_VarHandlesOp" not in _op_types(g)


def test_reference_variables_keep_their_own_assign(tmp_path, variable_graph):
    path = str(tmp_path / "w.npz")
    save_tensors(path, VALUES)
    g, vs = variable_graph(VALUES, (2, 3), use_resource=False)
    _assert_restored(_restore(g, vs, path))
    assert "_VarHandlesOp" not in _op_types(g)


def test_one_device_check_sees_ops_added_later(variable_graph):
    g, vs = variable_graph(VALUES, (2, 3))
    check = OneDeviceCheck(g)
    assert check()
    with g.as_default(), tf.device("/cpu:1"):
        tf.constant(1.0)
    assert not check()
    with g.as_default():
        handles = shared_handles(g, list(vs.values()), check)
    assert [h.op.type for h in handles] == ["VarHandleOp"] * len(vs)


def test_shared_handles_are_colocated_with_their_variables(variable_graph):
    g, vs = variable_graph(VALUES, (2, 3))
    with g.as_default():
        handles = shared_handles(g, list(vs.values()), OneDeviceCheck(g))
    op = handles[0].op
    assert op.type == "_VarHandlesOp" and len(handles) == len(vs)
    assert set(op.colocation_groups()) == {
        "loc:@{}".format(v.op.name).encode() for v in vs.values()}
