"""The typed restore pipeline: who opens and closes a source, how initializers compose, and
SessionUpdate going through the same plan and apply step as every restore."""
import logging
import os

import numpy as np
import psutil
import pytest
import tensorflow as tf

from tensorpack.checkpoint.formats import DictSource, save_tensors
from tensorpack.checkpoint.opener import SourceOpener
from tensorpack.compat import tfv1
from tensorpack.tfutils.sessinit import (ChainInit, DictRestore, SaverRestore, SessionInit,
                                         SmartInit)
from tensorpack.tfutils.varmanip import SessionUpdate

W = np.arange(6, dtype=np.float32).reshape(2, 3)
B = np.arange(3, dtype=np.float32)


def _graph(specs=(("fc/W", (2, 3)), ("fc/b", (3,)))):
    g = tf.Graph()
    with g.as_default():
        vs = {n: tfv1.get_variable(n, shape, initializer=tfv1.zeros_initializer())
              for n, shape in specs}
    return g, vs


def _run(init, specs=(("fc/W", (2, 3)), ("fc/b", (3,)))):
    g, vs = _graph(specs)
    with g.as_default(), tfv1.Session(graph=g) as sess:
        sess.run(tfv1.global_variables_initializer())
        report = init.init(sess)
        return report, {n: sess.run(v) for n, v in vs.items()}


def _open_paths():
    return {os.path.realpath(f.path) for f in psutil.Process().open_files()}


class _Counting(DictSource):
    """A borrowed source that counts how often it is closed."""

    closes = 0

    def close(self):
        type(self).closes += 1


def test_opener_closes_what_it_opened_and_nothing_else(tmp_path):
    path = str(tmp_path / "w.npz")
    save_tensors(path, {"fc/W": W, "fc/b": B})
    init = SmartInit(path)
    assert os.path.realpath(path) in _open_paths()  # checked at construction, handle kept
    report, values = _run(init)
    assert sorted(report.restored) == ["fc/W", "fc/b"]
    assert os.path.realpath(path) not in _open_paths()  # closed by the restore itself
    _run(init)  # a second restore reopens it
    assert os.path.realpath(path) not in _open_paths()

    borrowed = _Counting({"fc/W": W, "fc/b": B})
    init = DictRestore(borrowed)
    _run(init)
    _run(init)
    assert _Counting.closes == 0 and not SourceOpener(borrowed).owned


def test_smartinit_opens_and_lists_a_file_once(tmp_path, monkeypatch):
    from tensorpack.checkpoint import formats
    prefix = save_tensors(str(tmp_path / "model-1"), {"fc/W": W, "fc/b": B})
    calls = []
    real = formats.open_source
    monkeypatch.setattr(formats, "open_source", lambda *a, **k: calls.append(a) or real(*a, **k))
    init = SmartInit(str(tmp_path))
    assert isinstance(init, SaverRestore) and init.path == prefix and len(calls) == 1
    report, values = _run(init)
    assert len(calls) == 1  # the first restore uses the handle the check opened
    np.testing.assert_array_equal(values["fc/W"], W)


def test_a_directory_resolves_once(tmp_path):
    """Reopening reads the checkpoint the plan was made from, not a newer one."""
    save_tensors(str(tmp_path / "model-1"), {"fc/W": W, "fc/b": B})
    _write_state(tmp_path, "model-1")
    init = SaverRestore(str(tmp_path))
    _run(init)
    save_tensors(str(tmp_path / "model-2"), {"fc/W": W * 2, "fc/b": B})
    _write_state(tmp_path, "model-2")
    _, values = _run(init)
    np.testing.assert_array_equal(values["fc/W"], W)
    assert init.path.endswith("model-1")


def _write_state(d, name):
    (d / "checkpoint").write_text('model_checkpoint_path: "{0}"\n'
                                  'all_model_checkpoint_paths: "{0}"\n'.format(name))


def test_a_file_changed_between_plan_and_run_is_an_error(tmp_path):
    path = str(tmp_path / "w.npz")
    save_tensors(path, {"fc/W": W, "fc/b": B})
    init = SmartInit(path)
    _run(init)  # uses and closes the first handle
    save_tensors(path, {"fc/W": np.zeros((3, 2), np.float32), "fc/b": B})
    g, _ = _graph()
    with g.as_default(), tfv1.Session(graph=g) as sess:
        init._setup_graph()  # planned from the listing it had ...
        with pytest.raises(ValueError, match=r"w\.npz.*changed after the restore was planned"):
            init._run_init(sess)  # ... but the file now says otherwise


class _Legacy(SessionInit):
    """An initializer written for upstream: it overrides only _run_init."""

    def _run_init(self, sess):
        self.ran = True
        sess.run(tfv1.assign(tfv1.global_variables()[1], B * 10))


def test_chain_logs_one_table_and_runs_legacy_initializers(caplog):
    legacy = _Legacy()
    chain = ChainInit([DictRestore({"fc/W": W}), legacy, DictRestore({"fc/b": B})])
    with caplog.at_level(logging.INFO, logger="tensorpack"):
        report, values = _run(chain)
    assert legacy.ran
    tables = [r for r in caplog.records if r.getMessage().startswith("Restored ")]
    assert len(tables) == 1 and "Restored 2 variable(s) from dict + dict" in tables[0].getMessage()
    assert report.graph_only == [] and sorted(report.restored) == ["fc/W", "fc/b"]
    assert [len(r.restored) for r in chain.reports] == [1, 1]
    np.testing.assert_array_equal(values["fc/b"], B)  # the later child wins


def test_restore_returns_the_report_without_logging(caplog):
    init = DictRestore({"fc/W": W, "fc/b": B})
    g, _ = _graph()
    with g.as_default(), tfv1.Session(graph=g) as sess, \
            caplog.at_level(logging.INFO, logger="tensorpack"):
        init._setup_graph()
        report = init.restore(sess)
    assert sorted(report.restored) == ["fc/W", "fc/b"] and init.report is report
    assert not any(r.getMessage().startswith("Restored ") for r in caplog.records)


def test_strict_chain_names_the_closest_keys():
    chain = ChainInit([DictRestore({"fc/w": W}), DictRestore({"fc/b": B})], strict=True)
    with pytest.raises(ValueError, match=r"'fc/W' \(closest keys: fc/w\)"):
        _run(chain)


@pytest.mark.parametrize("optimizer", ["Adamax", "Nadam", "Momentum", "Adadelta"])
def test_contrib_and_v1_slot_names_in_ignore_and_report(optimizer):
    stored = {"fc/W": W, "fc/b": B, "fc/W/" + optimizer: W, "fc/W/{}_1".format(optimizer): W,
              "head/W": W, "head/W/" + optimizer: W}
    report, _ = _run(DictRestore(stored, ignore=["head/*"]))
    assert sorted(report.source_only_training) == sorted(
        ["fc/W/" + optimizer, "fc/W/{}_1".format(optimizer)])
    assert sorted(report.source_ignored) == ["head/W", "head/W/" + optimizer]
    assert report.source_only == []


def test_session_update_casts_and_reshapes_by_the_restore_rule():
    g, vs = _graph()
    with g.as_default(), tfv1.Session(graph=g) as sess:
        sess.run(tfv1.global_variables_initializer())
        upd = SessionUpdate(sess, list(vs.values()))
        upd.update({"fc/W:0": W.reshape(6).astype(np.float64), "fc/b": B})
        n = len(g.get_operations())
        upd.update({"fc/W": W * 2, "fc/b": B * 2})
        assert len(g.get_operations()) == n  # the feed ops are cached per graph
        np.testing.assert_array_equal(sess.run(vs["fc/W"]), W * 2)
        with pytest.raises(ValueError, match=r"fc/W.*shape \(4,\)"):
            upd.update({"fc/W": np.zeros(4, np.float32)})
        with pytest.raises(KeyError, match="not one of"):
            upd.update({"fc/other": B})
        assert SessionUpdate(sess, [vs["fc/b"]], ignore_mismatch=True).update(
            {"fc/b": np.zeros(5, np.float32)}) is None
        np.testing.assert_array_equal(sess.run(vs["fc/b"]), B * 2)  # skipped, not loaded


def test_relaxed_value_for_var_uses_the_plan_rule():
    g, vs = _graph()
    with g.as_default():
        v = vs["fc/W"]
        out = SessionUpdate.relaxed_value_for_var(W.reshape(3, 2).astype(np.float16), v)
        assert out.shape == (2, 3) and out.dtype == np.float32
        with pytest.raises(ValueError, match=r"fc/W.*dtype int64"):
            SessionUpdate.relaxed_value_for_var(np.zeros((2, 3), np.int64), v)
        assert SessionUpdate.relaxed_value_for_var(np.zeros(5), v, ignore_mismatch=True) is None


def test_opener_rejects_what_it_cannot_read(tmp_path):
    with pytest.raises(TypeError, match="Cannot read variable values from a int"):
        SourceOpener(3)
    with pytest.raises(FileNotFoundError):
        SourceOpener(str(tmp_path / "missing.npz"))
    with pytest.raises(ValueError, match="allow_pickle"):
        np.save(str(tmp_path / "d.npy"), {"a": 1}, allow_pickle=True)
        SourceOpener(str(tmp_path / "d.npy"))


def test_checkpoint_keys_are_read_by_several_bounded_restore_ops(tmp_path, monkeypatch):
    from tensorpack.tfutils import restore
    monkeypatch.setattr(restore, "RESTORE_OP_KEYS", 2)
    values = {"v%d" % i: np.full((3,), i, np.float32) for i in range(5)}
    prefix = save_tensors(str(tmp_path / "model-1"), values)
    specs = [(n, (3,)) for n in values]
    g, vs = _graph(specs)
    with g.as_default(), tfv1.Session(graph=g) as sess:
        sess.run(tfv1.global_variables_initializer())
        report = SaverRestore(prefix).init(sess)
        got = {n: sess.run(v) for n, v in vs.items()}
    assert sorted(report.restored) == sorted(values)
    # in the graph, or in the body of the one function call that restores (restore_call)
    library = g.as_graph_def().library.function
    reads = [n for f in library for n in f.node_def if n.op == "RestoreV2"]
    reads += [op for op in g.get_operations() if op.type == "RestoreV2"]
    assert len(reads) == 3  # 2 + 2 + 1 keys
    for n, v in values.items():
        np.testing.assert_array_equal(got[n], v)
