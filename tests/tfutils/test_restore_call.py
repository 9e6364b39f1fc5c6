"""A checkpoint chunk restored by one function call (``restore_call``): where it is used, what
the call carries so that the session's optimizer leaves its body alone, and that the values
are right, including after the graph travels through a meta graph."""
import numpy as np
import tensorflow as tf

from tensorpack.checkpoint.formats import save_tensors
from tensorpack.compat import tfv1
from tensorpack.tfutils.restore_call import is_restore_function
from tensorpack.tfutils.sessinit import SaverRestore, SmartInit

VALUES = {"layer{}/{}".format(i, k): np.arange(6, dtype=np.float32).reshape(2, 3) + 10 * i + j
          for i in range(3) for j, k in enumerate("Wb")}


def _restore(g, vs, source, cpus=1):
    init = SmartInit(source)
    with g.as_default():
        init._setup_graph()
    with tfv1.Session(graph=g, config=tfv1.ConfigProto(device_count={"CPU": cpus})) as sess:
        sess.run(tfv1.global_variables_initializer())
        init._run_init(sess)
        got = {n: sess.run(v) for n, v in vs.items()}
    for name, value in got.items():
        np.testing.assert_array_equal(value, VALUES[name], err_msg=name)


def _calls(g):
    return [op for op in g.get_operations() if op.type == "StatefulPartitionedCall"
            and is_restore_function(op.get_attr("f").name)]


def _library(g):
    return {f.signature.name: f for f in g.as_graph_def().library.function}


def test_one_device_checkpoint_restore_is_one_call(tmp_path, variable_graph):
    prefix = save_tensors(str(tmp_path / "model-1"), VALUES)
    g, vs = variable_graph(VALUES, (2, 3))
    _restore(g, vs, prefix)
    calls = _calls(g)
    assert len(calls) == 1
    # no assign of the restore outside the function
    assert not [op for op in g.get_operations() if op.type == "AssignVariableOp"
                and op.name.startswith("tensorpack_restore")]
    body = _library(g)[calls[0].get_attr("f").name]
    assert sum(n.op == "AssignVariableOp" for n in body.node_def) == len(VALUES)
    assert {n.op for n in body.node_def} == {"Const", "RestoreV2", "_VarHandlesOp",
                                             "AssignVariableOp"}
    # every assign is a control output: the function runtime may not prune any
    assert len(body.control_ret) == len(VALUES)


def test_one_device_fed_restore_is_one_call(tmp_path, variable_graph):
    """From an npz: the stacked values of the chunk go into one call, split in its body."""
    path = str(tmp_path / "w.npz")
    save_tensors(path, VALUES)
    g, vs = variable_graph(VALUES, (2, 3))
    _restore(g, vs, path)
    calls = _calls(g)
    assert len(calls) == 1 and [t.op.type for t in calls[0].inputs] == ["Placeholder"]
    body = _library(g)[calls[0].get_attr("f").name]
    assert {n.op for n in body.node_def} == {"Unpack", "_VarHandlesOp", "AssignVariableOp"}
    assert len(body.control_ret) == len(VALUES)


def test_call_is_kept_from_the_sessions_optimizer(tmp_path, variable_graph):
    prefix = save_tensors(str(tmp_path / "model-1"), VALUES)
    g, vs = variable_graph(VALUES, (2, 3))
    _restore(g, vs, prefix)
    call = _calls(g)[0]
    body = _library(g)[call.get_attr("f").name]
    # not inlined into the graph, and skipped by the session-wide function optimization
    assert body.attr["_noinline"].b and body.attr["_tf_data_function"].b
    config = tfv1.ConfigProto.FromString(call.get_attr("config_proto"))
    assert config.graph_options.rewrite_options.disable_meta_optimizer
    assert set(call.colocation_groups()) == {
        "loc:@{}".format(v.op.name).encode() for v in vs.values()}


def test_variables_on_two_devices_get_no_call(tmp_path, variable_graph):
    prefix = save_tensors(str(tmp_path / "model-1"), VALUES)
    g, vs = variable_graph(VALUES, (2, 3), devices=["/cpu:0", "/cpu:1"])
    _restore(g, vs, prefix, cpus=2)
    assert not _calls(g)


def test_reference_variables_get_no_call(tmp_path, variable_graph):
    prefix = save_tensors(str(tmp_path / "model-1"), VALUES)
    g, vs = variable_graph(VALUES, (2, 3), use_resource=False)
    _restore(g, vs, prefix)
    assert not _calls(g)


def test_same_restore_in_two_graphs_has_one_definition_name(tmp_path, variable_graph):
    prefix = save_tensors(str(tmp_path / "model-1"), VALUES)
    g1, vs1 = variable_graph(VALUES, (2, 3))
    _restore(g1, vs1, prefix)
    g2, vs2 = variable_graph(VALUES, (2, 3))
    _restore(g2, vs2, prefix)
    assert _calls(g1)[0].get_attr("f").name == _calls(g2)[0].get_attr("f").name


def test_restore_after_importing_a_meta_graph_that_holds_the_call(tmp_path, variable_graph):
    """A meta graph exported after a restore carries the function; importing it and
    restoring again (same variables, same keys) reuses the definition, no clash."""
    prefix = save_tensors(str(tmp_path / "model-1"), VALUES)
    g, vs = variable_graph(VALUES, (2, 3))
    _restore(g, vs, prefix)
    with g.as_default():
        meta = tfv1.train.export_meta_graph()
    g2 = tf.Graph()
    with g2.as_default():
        tfv1.train.import_meta_graph(meta)
        vs2 = {v.op.name: v for v in tfv1.global_variables()}
    _restore(g2, vs2, prefix)
    assert len(_calls(g2)) == 2  # the imported one and the new one, one definition
    assert len([n for n in _library(g2) if is_restore_function(n)]) == 1


def test_second_restore_reuses_the_call_and_loads_new_values(tmp_path, variable_graph):
    prefix = save_tensors(str(tmp_path / "model-1"), VALUES)
    other = {k: v + 100 for k, v in VALUES.items()}
    prefix2 = save_tensors(str(tmp_path / "model-2"), other)
    g, vs = variable_graph(VALUES, (2, 3))
    with tfv1.Session(graph=g) as sess:
        with g.as_default():
            sess.run(tfv1.global_variables_initializer())
            SaverRestore(prefix).init(sess)
            SaverRestore(prefix2).init(sess)
        got = {n: sess.run(v) for n, v in vs.items()}
    assert len(_calls(g)) == 1
    for name, value in got.items():
        np.testing.assert_array_equal(value, other[name])


def test_call_runs_with_one_inter_op_thread(tmp_path, variable_graph):
    """The call's kernel waits for the function it runs: with a single inter-op thread the
    two must not wait for each other."""
    prefix = save_tensors(str(tmp_path / "model-1"), VALUES)
    g, vs = variable_graph(VALUES, (2, 3))
    init = SmartInit(prefix)
    with g.as_default():
        init._setup_graph()
    config = tfv1.ConfigProto(inter_op_parallelism_threads=1, intra_op_parallelism_threads=1,
                              use_per_session_threads=True)
    with tfv1.Session(graph=g, config=config) as sess:
        sess.run(tfv1.global_variables_initializer())
        init._run_init(sess)
        got = {n: sess.run(v) for n, v in vs.items()}
    assert len(_calls(g)) == 1
    for name, value in got.items():
        np.testing.assert_array_equal(value, VALUES[name])


def test_tensorflow_refusing_the_function_falls_back_to_plain_ops(tmp_path, variable_graph,
                                                                  monkeypatch):
    from tensorpack.tfutils import restore_call
    monkeypatch.setattr(restore_call, "_add_function", lambda graph, fdef: False)
    prefix = save_tensors(str(tmp_path / "model-1"), VALUES)
    path = str(tmp_path / "w.npz")
    save_tensors(path, VALUES)
    for source in (prefix, path):
        g, vs = variable_graph(VALUES, (2, 3))
        _restore(g, vs, source)
        assert not _calls(g)
        assert any(op.type == "AssignVariableOp" and op.name.startswith("tensorpack_restore")
                   for op in g.get_operations())
