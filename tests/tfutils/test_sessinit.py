"""Session initializers: every front door of the restore pipeline, on tiny graphs."""
import logging
import os

import numpy as np
import pytest

from tensorpack.checkpoint.report import RestoreReport
from tensorpack.compat import tfv1
from tensorpack.tfutils import restore
from tensorpack.tfutils.sessinit import (ChainInit, DictRestore, JustCurrentSession,
                                         SaverRestore, SaverRestoreRelaxed, SessionInit,
                                         SmartInit, get_model_loader)


@pytest.fixture
def logs(caplog):
    """Records of the 'tensorpack' logger (it does not propagate by default)."""
    log = logging.getLogger("tensorpack")
    old = log.propagate
    log.propagate = True
    caplog.set_level(logging.INFO, logger="tensorpack")
    yield caplog
    log.propagate = old


def save_ckpt(prefix, values, use_resource=True):
    """Write ``{name: array}`` as a TF checkpoint with TF's own Saver; returns the prefix."""
    with tfv1.Graph().as_default():
        vs = [tfv1.get_variable(k, initializer=np.asarray(v), use_resource=use_resource)
              for k, v in values.items()]
        with tfv1.Session() as sess:
            sess.run(tfv1.global_variables_initializer())
            tfv1.train.Saver(vs).save(sess, str(prefix), write_meta_graph=False)
    return str(prefix)


def new_session(specs, use_resource=True):
    """A fresh graph with zero-initialized variables ``{name: (shape, dtype)}``."""
    graph = tfv1.Graph()
    with graph.as_default():
        vs = {k: tfv1.get_variable(k, shape=s, dtype=d, initializer=tfv1.zeros_initializer(),
                                   use_resource=use_resource)
              for k, (s, d) in specs.items()}
    sess = tfv1.Session(graph=graph)
    sess.run([v.initializer for v in vs.values()])
    return graph, sess, vs


def init(si, graph, sess):
    with graph.as_default():
        return si.init(sess)


def values(sess, vs):
    return {k: sess.run(v) for k, v in vs.items()}


A = np.arange(6, dtype=np.float32).reshape(2, 3)
B = np.array([7.0, 8.0, 9.0], dtype=np.float32)


@pytest.fixture
def ckpt(tmp_path):
    return save_ckpt(tmp_path / "model-7", {"a": A, "s/b": B})


def test_base_contract_order():
    calls = []

    class Mine(SessionInit):
        def _setup_graph(self):
            calls.append("setup")

        def _run_init(self, sess):
            calls.append("run")
            return 42

    assert Mine().init(None) == 42
    assert calls == ["setup", "run"]
    assert JustCurrentSession().init(None) is None


@pytest.mark.parametrize("use_resource", [True, False])
def test_saver_restore_values_report_and_path(ckpt, use_resource):
    graph, sess, vs = new_session({"a": ((2, 3), "float32"), "s/b": ((3,), "float32"),
                                   "extra": ((1,), "float32")}, use_resource=use_resource)
    si = SaverRestore(ckpt)
    assert si.path == ckpt
    rep = init(si, graph, sess)
    got = values(sess, vs)
    np.testing.assert_array_equal(got["a"], A)
    np.testing.assert_array_equal(got["s/b"], B)
    assert isinstance(rep, RestoreReport) and si.report is rep
    assert sorted(rep.restored) == ["a", "s/b"] and rep.graph_only == ["extra"]
    # the feed path (dict values, cast and reshaped) into the same kind of variables
    init(DictRestore({"a": (A + 1).reshape(3, 2).astype(np.float64)}), graph, sess)
    np.testing.assert_array_equal(sess.run(vs["a"]), A + 1)


def test_relative_prefix_and_pathlike(ckpt, monkeypatch):
    import pathlib
    monkeypatch.chdir(os.path.dirname(ckpt))
    graph, sess, vs = new_session({"a": ((2, 3), "float32"), "s/b": ((3,), "float32")})
    init(SmartInit("model-7"), graph, sess)
    np.testing.assert_array_equal(sess.run(vs["a"]), A)
    sess.run(vs["a"].initializer)
    init(SmartInit(pathlib.Path(ckpt)), graph, sess)
    np.testing.assert_array_equal(sess.run(vs["s/b"]), B)


def test_logged_report_names_both_sides_once(tmp_path, logs):
    path = save_ckpt(tmp_path / "m-1", {"a": A, "old/W": B, "a/Momentum": A})
    graph, sess, _ = new_session({"a": ((2, 3), "float32"), "new/W": ((3,), "float32"),
                                  "new/W/Adam": ((3,), "float32")})
    init(SmartInit(path), graph, sess)
    reports = [r for r in logs.records if r.getMessage().startswith("Restored ")]
    assert len(reports) == 1
    msg = reports[0].getMessage()
    assert reports[0].levelno == logging.WARNING
    assert "graph-only" in msg and "new/W" in msg
    assert "source-only" in msg and "old/W" in msg
    assert "new/W/Adam" not in msg and "a/Momentum" not in msg  # training-only: not noise
    assert path in msg


def test_clean_restore_logs_info(ckpt, logs):
    graph, sess, _ = new_session({"a": ((2, 3), "float32"), "s/b": ((3,), "float32")})
    rep = init(SmartInit(ckpt), graph, sess)
    assert rep.clean
    rec = [r for r in logs.records if r.getMessage().startswith("Restored ")]
    assert [r.levelno for r in rec] == [logging.INFO]


def test_shape_mismatch_raises_naming_var_and_shapes(ckpt):
    graph, sess, _ = new_session({"a": ((3, 2), "float32"), "s/b": ((3,), "float32")})
    with pytest.raises(ValueError) as e:
        init(SaverRestore(ckpt), graph, sess)
    assert "'a'" in str(e.value) and "(2, 3)" in str(e.value) and "(3, 2)" in str(e.value)


def test_relaxed_reshapes_casts_and_skips(tmp_path):
    path = save_ckpt(tmp_path / "m-1", {"a": A, "d": A.astype(np.float64), "s/b": B,
                                        "i": np.array([1, 2], np.int32)})
    graph, sess, vs = new_session({"a": ((3, 2), "float32"), "d": ((2, 3), "float32"),
                                   "s/b": ((4,), "float32"), "i": ((2,), "int64")})
    rep = init(SaverRestoreRelaxed(path), graph, sess)
    got = values(sess, vs)
    np.testing.assert_array_equal(got["a"], A.reshape(3, 2))
    np.testing.assert_array_equal(got["d"], A)
    np.testing.assert_array_equal(got["i"], [1, 2])
    np.testing.assert_array_equal(got["s/b"], np.zeros(4))  # 3 values for 4 slots: skipped
    assert [v for v, _ in rep.skipped] == ["s/b"]
    assert ("a", (2, 3), (3, 2)) in rep.reshaped
    assert sorted(c[0] for c in rep.cast) == ["d", "i"]
    # the same through SmartInit(..., ignore_mismatch=True)
    si = SmartInit(path, ignore_mismatch=True)
    assert isinstance(si, SaverRestoreRelaxed)


def test_prefix(tmp_path):
    path = save_ckpt(tmp_path / "m-1", {"x": A})
    graph, sess, vs = new_session({"tower0/x": ((2, 3), "float32")})
    init(SaverRestore(path, prefix="tower0"), graph, sess)
    np.testing.assert_array_equal(sess.run(vs["tower0/x"]), A)


def test_ignore_globs_and_optimizer_slots(tmp_path):
    path = save_ckpt(tmp_path / "m-1", {"fc/W": A, "fc/W/Momentum": A, "conv/W": A,
                                        "conv/W/Momentum": A})
    graph, sess, vs = new_session({k: ((2, 3), "float32") for k in
                                   ("fc/W", "fc/W/Momentum", "conv/W", "conv/W/Momentum")})
    rep = init(SaverRestore(path, ignore=["fc/W:0"]), graph, sess)
    got = values(sess, vs)
    assert not got["fc/W"].any() and not got["fc/W/Momentum"].any()
    np.testing.assert_array_equal(got["conv/W/Momentum"], A)
    assert sorted(rep.ignored) == ["fc/W", "fc/W/Momentum"]
    graph, sess, vs = new_session({k: ((2, 3), "float32") for k in ("fc/W", "conv/W")})
    rep = init(SmartInit(path, ignore=["c*"]), graph, sess)
    assert rep.restored == ["fc/W"] and rep.ignored == ["conv/W"]


def test_strict(ckpt):
    graph, sess, _ = new_session({"a": ((2, 3), "float32"), "head/W": ((1,), "float32")})
    with pytest.raises(ValueError, match="head/W"):
        init(SaverRestore(ckpt, strict=True), graph, sess)
    with pytest.raises(ValueError, match="head/W"):
        init(SmartInit({"a": A}, strict=True), graph, sess)
    init(SmartInit(ckpt, strict=True, ignore=["head/*"]), graph, sess)  # ignored: fine
    # a chain is strict as a whole: each item may cover only part of the graph
    head = {"head/W": np.ones(1, np.float32)}
    rep = init(SmartInit([ckpt, head], strict=True), graph, sess)
    assert rep.graph_only == []
    with pytest.raises(ValueError, match="any of.*head/W"):
        init(SmartInit([ckpt, {"a": A}], strict=True), graph, sess)


def test_dict_restore_colon_zero_cast_reshape_and_mismatch():
    graph, sess, vs = new_session({"a": ((3, 2), "float32"), "s/b": ((3,), "float32")})
    rep = init(DictRestore({"a:0": A.astype(np.float64), "s/b": B, "zz": B}), graph, sess)
    got = values(sess, vs)
    np.testing.assert_array_equal(got["a"], A.reshape(3, 2))
    np.testing.assert_array_equal(got["s/b"], B)
    assert rep.source_only == ["zz"]
    with pytest.raises(ValueError, match="'s/b'.*\\(4,\\)"):
        init(DictRestore({"s/b": np.zeros(4, np.float32)}), graph, sess)
    rep = init(DictRestore({"s/b": np.zeros(4, np.float32)}, ignore_mismatch=True), graph, sess)
    assert [v for v, _ in rep.skipped] == ["s/b"]
    with pytest.raises(TypeError, match="dict"):
        DictRestore([("a", A)])


def test_chain_logs_one_merged_report(tmp_path, logs):
    path = save_ckpt(tmp_path / "m-1", {"a": A})
    graph, sess, _ = new_session({"a": ((2, 3), "float32"), "head/W": ((1,), "float32")})
    init(SmartInit([path, {"head/W": np.ones(1, np.float32)}]), graph, sess)
    rec = [r for r in logs.records if r.getMessage().startswith("Restored ")]
    assert len(rec) == 1 and rec[0].levelno == logging.INFO  # nothing is missing overall
    assert "Restored 2 variable(s)" in rec[0].getMessage() and path in rec[0].getMessage()


def test_chain_init_later_wins_and_merged_report(tmp_path):
    path = save_ckpt(tmp_path / "m-1", {"a": A, "s/b": B})
    graph, sess, vs = new_session({"a": ((2, 3), "float32"), "s/b": ((3,), "float32"),
                                   "c": ((1,), "float32")})
    chain = SmartInit([path, {"a": A + 100, "c": np.ones(1, np.float32)}])
    assert isinstance(chain, ChainInit)
    rep = init(chain, graph, sess)
    got = values(sess, vs)
    np.testing.assert_array_equal(got["a"], A + 100)
    np.testing.assert_array_equal(got["s/b"], B)
    assert got["c"][0] == 1
    assert len(chain.reports) == 2 and rep.graph_only == []  # c got its value from the dict
    with pytest.raises(ValueError, match="SessionInit"):
        ChainInit(["not an init"])


def test_smartinit_dispatch(tmp_path, ckpt):
    assert isinstance(SmartInit(None), JustCurrentSession)
    assert isinstance(SmartInit(""), JustCurrentSession)
    assert isinstance(SmartInit([]), JustCurrentSession)
    assert isinstance(SmartInit({}), JustCurrentSession)
    mine = DictRestore({"a": A})
    assert SmartInit(mine) is mine
    assert get_model_loader is SmartInit
    assert type(SmartInit(ckpt)) is SaverRestore
    assert isinstance(SmartInit({"a": A}), DictRestore)
    for form in (ckpt + ".index", ckpt + ".data-00000-of-00001", os.path.dirname(ckpt),
                 os.path.join(os.path.dirname(ckpt), "checkpoint")):
        si = SmartInit(form)
        assert type(si) is SaverRestore and si.path == ckpt, form
    with pytest.raises(ValueError, match="SmartInit cannot"):
        SmartInit(12)


def test_smartinit_missing_and_unsupported_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        SmartInit(str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="gone.npz"):
        SmartInit(str(tmp_path / "gone.npz"))
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="notes.txt"):
        SmartInit(str(bad))


def test_corrupt_checkpoint_detected_at_construction(ckpt):
    index = ckpt + ".index"
    data = bytearray(open(index, "rb").read())
    data[-1] ^= 0xFF  # break the footer's magic number
    open(index, "wb").write(bytes(data))
    with pytest.raises(ValueError, match="model-7.index"):
        SmartInit(ckpt)
    with pytest.raises(ValueError, match="model-7.index"):
        SaverRestore(ckpt)


def test_smartinit_files_npz_safetensors_npy(tmp_path):
    npz = str(tmp_path / "w.npz")
    np.savez(npz, **{"a:0": A, "s/b:0": B})
    graph, sess, vs = new_session({"a": ((2, 3), "float32"), "s/b": ((3,), "float32")})
    si = SmartInit(npz)
    assert isinstance(si, DictRestore) and si.path == npz  # as upstream: a dict restore
    rep = init(si, graph, sess)
    np.testing.assert_array_equal(sess.run(vs["a"]), A)
    rep = init(si, graph, sess)  # again: the file is reopened after being closed
    assert sorted(rep.restored) == ["a", "s/b"]

    from tensorpack.checkpoint.formats import save_tensors
    st = save_tensors(str(tmp_path / "w.safetensors"), {"a": A + 1, "s/b": B + 1})
    init(SmartInit(st), graph, sess)
    np.testing.assert_array_equal(sess.run(vs["s/b"]), B + 1)

    npy = str(tmp_path / "old.npy")
    np.save(npy, {"a": A + 2}, allow_pickle=True)
    with pytest.raises(ValueError, match="pickle"):
        SmartInit(npy)
    init(SmartInit(npy, allow_pickle=True), graph, sess)
    np.testing.assert_array_equal(sess.run(vs["a"]), A + 2)


def test_setup_before_finalize_then_run(ckpt):
    """The trainer's order: _setup_graph, finalize the graph, create the session, _run_init."""
    graph = tfv1.Graph()
    with graph.as_default():
        a = tfv1.get_variable("a", shape=(2, 3))
        b = tfv1.get_variable("s/b", shape=(3,))
        si = SmartInit([ckpt, {"s/b": B * 2}])
        si._setup_graph()
    graph.finalize()
    with tfv1.Session(graph=graph) as sess:
        sess.run([a.initializer, b.initializer])
        si._run_init(sess)
        np.testing.assert_array_equal(sess.run(a), A)
        np.testing.assert_array_equal(sess.run(b), B * 2)


@pytest.mark.parametrize("kind", ["dict", "ckpt"])
def test_finalized_graph_without_setup_feeds_initializers(kind, ckpt):
    graph = tfv1.Graph()
    with graph.as_default():
        a = tfv1.get_variable("a", shape=(2, 3))
    graph.finalize()
    with tfv1.Session(graph=graph) as sess:
        sess.run(a.initializer)
        si = DictRestore({"a": A}) if kind == "dict" else SmartInit(ckpt)
        si._run_init(sess)
        np.testing.assert_array_equal(sess.run(a), A)


def test_restore_ops_cached_per_graph(ckpt):
    graph, sess, vs = new_session({"a": ((2, 3), "float32"), "s/b": ((3,), "float32")})
    init(SmartInit(ckpt), graph, sess)
    init(SmartInit({"a": A}), graph, sess)
    n = len(graph.get_operations())
    init(SmartInit(ckpt), graph, sess)
    init(SmartInit({"a": A * 3}), graph, sess)
    assert len(graph.get_operations()) == n
    np.testing.assert_array_equal(sess.run(vs["a"]), A * 3)


def test_chunked_apply_loads_everything(tmp_path):
    vals = {"v%d" % i: np.full((4,), i, np.float32) for i in range(5)}
    path = save_ckpt(tmp_path / "m-1", vals)
    graph, sess, vs = new_session({k: ((4,), "float32") for k in vals})
    from tensorpack.checkpoint.formats import open_source
    from tensorpack.checkpoint.plan import make_plan
    for src in (open_source(path), open_source(vals)):
        variables = restore.graph_variables(graph)
        plan = make_plan([restore.var_spec(v) for v in variables.values()], src.infos())
        prep = restore.prepare(plan, variables, graph, chunk_bytes=32,
                               tf_checkpoint=src.path is not None)
        assert len(prep.steps) == 3  # 16 bytes each, 32 per chunk, at most MAX_RUNS runs
        sess.run([v.initializer for v in vs.values()])
        restore.run(sess, prep, src)
        for k, v in vs.items():
            np.testing.assert_array_equal(sess.run(v), vals[k])


def test_finalized_graph_reuses_cached_restore_ops(ckpt):
    graph, sess, vs = new_session({"a": ((2, 3), "float32"), "s/b": ((3,), "float32")})
    init(SmartInit(ckpt), graph, sess)  # builds and caches the RestoreV2 ops
    sess.run([v.initializer for v in vs.values()])
    graph.finalize()
    rep = SmartInit(ckpt)._run_init(sess)
    assert sorted(rep.restored) == ["a", "s/b"]
    np.testing.assert_array_equal(sess.run(vs["a"]), A)


def test_cached_ops_do_not_keep_graphs_alive(ckpt):
    import gc
    import weakref
    graph, sess, _ = new_session({"a": ((2, 3), "float32"), "s/b": ((3,), "float32")})
    init(SmartInit(ckpt), graph, sess)
    init(SmartInit({"a": A}), graph, sess)
    sess.close()
    ref = weakref.ref(graph)
    del graph, sess, _
    gc.collect()
    assert ref() is None


def test_same_shaped_values_fed_as_one_stack(tmp_path):
    vals = {"l%d/W" % i: np.full((2, 3), i, np.float32) for i in range(4)}
    vals["odd"] = np.arange(5, dtype=np.float32)
    graph, sess, vs = new_session({k: (v.shape, "float32") for k, v in vals.items()})
    before = {op.type for op in graph.get_operations()}
    n = len(graph.get_operations())
    init(SmartInit(vals), graph, sess)
    new = [op for op in graph.get_operations()[n:]]
    assert sum(op.type == "Placeholder" for op in new) == 2  # the stack of 4, and 'odd'
    # split in the graph, or in the body of the one call that assigns the chunk
    library = graph.as_graph_def().library.function
    unpacks = [op for op in new if op.type == "Unpack"]
    unpacks += [n for f in library for n in f.node_def if n.op == "Unpack"]
    assert len(unpacks) == 1 and "Unpack" not in before
    for k, v in vs.items():
        np.testing.assert_array_equal(sess.run(v), vals[k])
    # the trainer's order: set up, finalize, run; the stacked ops are reused
    graph2 = tfv1.Graph()
    with graph2.as_default():
        vs2 = {k: tfv1.get_variable(k, shape=v.shape) for k, v in vals.items()}
        for v in vs2.values():  # so that only the prebuilt ops can load values
            graph2.prevent_feeding(v.initializer.inputs[1])
        si = SmartInit({k: v + 1 for k, v in vals.items()})
        si._setup_graph()
    graph2.finalize()
    with tfv1.Session(graph=graph2) as sess2:
        sess2.run([v.initializer for v in vs2.values()])
        si._run_init(sess2)
        for k, v in vs2.items():
            np.testing.assert_array_equal(sess2.run(v), vals[k] + 1)


def test_big_values_are_not_stacked(monkeypatch):
    # a stacked buffer stays shared by its variables: only small tensors are stacked
    monkeypatch.setattr(restore, "STACK_MAX_BYTES", 16)
    vals = {"l%d/W" % i: np.full((2, 3), i, np.float32) for i in range(3)}
    graph, sess, vs = new_session({k: (v.shape, "float32") for k, v in vals.items()})
    n = len(graph.get_operations())
    init(SmartInit(vals), graph, sess)
    new = graph.get_operations()[n:]
    assert not any(op.type == "Unpack" for op in new)
    assert sum(op.type == "Placeholder" for op in new) == 3
    for k, v in vs.items():
        np.testing.assert_array_equal(sess.run(v), vals[k])
