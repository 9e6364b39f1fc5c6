"""varmanip: SessionUpdate, dump / load / save of variables, checkpoint paths, name helpers."""
import os

import numpy as np
import pytest

from tensorpack.compat import tfv1
from tensorpack.tfutils import varmanip
from tensorpack.tfutils.varmanip import (SessionUpdate, dump_session_params, get_all_checkpoints,
                                         get_checkpoint_path, get_savename_from_varname,
                                         is_training_name, load_checkpoint_vars,
                                         load_chkpt_vars, save_checkpoint_vars, save_chkpt_vars)

A = np.arange(6, dtype=np.float32).reshape(2, 3)


@pytest.fixture
def graph_sess():
    graph = tfv1.Graph()
    with graph.as_default():
        a = tfv1.get_variable("a", shape=(2, 3), initializer=tfv1.zeros_initializer())
        i = tfv1.get_variable("i", shape=(2,), dtype=tfv1.int64,
                              initializer=tfv1.zeros_initializer())
        sess = tfv1.Session(graph=graph)
        sess.run(tfv1.global_variables_initializer())
    yield graph, sess, a, i
    sess.close()


def test_public_names_match_upstream():
    assert set(varmanip.__all__) == {
        "SessionUpdate", "dump_session_params", "load_chkpt_vars", "save_chkpt_vars",
        "load_checkpoint_vars", "save_checkpoint_vars", "get_checkpoint_path",
        "get_all_checkpoints"}
    assert load_chkpt_vars is load_checkpoint_vars and save_chkpt_vars is save_checkpoint_vars


def test_session_update_names_reshape_cast(graph_sess):
    graph, sess, a, i = graph_sess
    upd = SessionUpdate(sess, [a, i])
    with graph.as_default():
        upd.update({"a:0": A.reshape(3, 2).astype(np.float64), "i": np.array([3, 4], np.int32)})
    np.testing.assert_array_equal(sess.run(a), A)
    np.testing.assert_array_equal(sess.run(i), [3, 4])
    n = len(graph.get_operations())
    upd.update({"a": A * 2})  # ops are reused: nothing new in the graph
    assert len(graph.get_operations()) == n
    np.testing.assert_array_equal(sess.run(a), A * 2)


def test_session_update_errors(graph_sess):
    graph, sess, a, i = graph_sess
    upd = SessionUpdate(sess, [a])
    with pytest.raises(KeyError, match="'i'"):
        upd.update({"i": np.zeros(2, np.int64)})
    with pytest.raises(ValueError, match="'a'"):
        upd.update({"a": np.zeros(5, np.float32)})
    SessionUpdate(sess, [a], ignore_mismatch=True).update({"a": np.zeros(5, np.float32)})
    with pytest.raises(ValueError, match="int64"):
        SessionUpdate(sess, [i]).update({"i": np.zeros(2, np.float32)})  # float -> int: no


def test_session_update_after_finalize(graph_sess):
    graph, sess, a, _ = graph_sess
    graph.finalize()
    SessionUpdate(sess, [a]).update({"a": A})
    np.testing.assert_array_equal(sess.run(a), A)


def test_relaxed_value_for_var(graph_sess):
    _, _, a, i = graph_sess
    out = SessionUpdate.relaxed_value_for_var(A.reshape(6).astype(np.float16), a)
    assert out.shape == (2, 3) and out.dtype == np.float32
    assert SessionUpdate.relaxed_value_for_var(np.zeros(7), a, ignore_mismatch=True) is None
    with pytest.raises(ValueError, match="shape"):
        SessionUpdate.relaxed_value_for_var(np.zeros(7), a)
    with pytest.raises(ValueError, match="dtype"):
        SessionUpdate.relaxed_value_for_var(np.zeros(2, np.uint64), i)


def _model_graph():
    graph = tfv1.Graph()
    with graph.as_default():
        w = tfv1.get_variable("fc/W", initializer=A)
        m = tfv1.get_variable("bn/mean", initializer=np.ones(3, np.float32), trainable=False,
                              collections=[tfv1.GraphKeys.GLOBAL_VARIABLES,
                                           tfv1.GraphKeys.MODEL_VARIABLES])
        tfv1.get_variable("fc/W/Momentum", initializer=A, trainable=False)  # a slot: skipped
        tfv1.train.get_or_create_global_step()
    return graph, w, m


@pytest.mark.parametrize("ext", [".npz", ".safetensors", ""])
def test_dump_session_params_round_trip(tmp_path, ext):
    graph, w, m = _model_graph()
    path = str(tmp_path / ("params" + ext))
    with graph.as_default():
        sess = tfv1.Session()
        sess.run(tfv1.global_variables_initializer())
        with pytest.raises(RuntimeError, match="default session"):
            dump_session_params(path)
        with sess.as_default():
            dump_session_params(path)
        sess.close()
    loaded = load_checkpoint_vars(path)
    assert sorted(loaded) == ["bn/mean", "fc/W"]
    np.testing.assert_array_equal(loaded["fc/W"], A)
    if ext == ".npz":  # upstream's npz keys keep ':0'
        assert sorted(np.load(path).files) == ["bn/mean:0", "fc/W:0"]
    if ext == "":  # a real TF checkpoint
        assert tfv1.train.load_variable(path, "bn/mean").tolist() == [1, 1, 1]


def test_save_checkpoint_vars_formats(tmp_path):
    d = {"x:0": A, "y": np.arange(3)}
    save_checkpoint_vars(d, str(tmp_path / "a.npz"))
    got = load_checkpoint_vars(str(tmp_path / "a.npz"))
    assert sorted(got) == ["x", "y"]
    prefix = str(tmp_path / "ck" / "model-3")
    os.makedirs(os.path.dirname(prefix))
    save_chkpt_vars(d, prefix)
    reader = tfv1.train.NewCheckpointReader(prefix)
    assert sorted(reader.get_variable_to_shape_map()) == ["x", "y"]
    np.testing.assert_array_equal(reader.get_tensor("x"), A)
    with pytest.raises(ValueError, match=".npy"):
        save_checkpoint_vars(d, str(tmp_path / "a.npy"))


def test_checkpoint_paths(tmp_path):
    for step in (5, 100, 20):
        save_checkpoint_vars({"x": A}, str(tmp_path / "model-{}".format(step)))
    save_checkpoint_vars({"x": A}, str(tmp_path / "other-7"))
    found = get_all_checkpoints(str(tmp_path))
    # upstream's form: the .index file name (scripts strip the suffix), sorted by step
    assert found == [(str(tmp_path / "model-{}.index".format(s)), s) for s in (5, 20, 100)]
    assert get_all_checkpoints(str(tmp_path), prefix="other") == [
        (str(tmp_path / "other-7.index"), 7)]
    assert load_checkpoint_vars(found[0][0])["x"].tolist() == A.tolist()
    p = str(tmp_path / "model-20")
    assert get_checkpoint_path(p + ".index") == p
    assert get_checkpoint_path(p + ".data-00000-of-00001") == p
    with pytest.raises(FileNotFoundError, match="model-99"):
        get_checkpoint_path(str(tmp_path / "model-99"))
    with pytest.raises(FileNotFoundError, match="missing"):
        load_checkpoint_vars(str(tmp_path / "missing"))


def test_name_helpers():
    assert is_training_name("fc/W/Adam:0") and is_training_name("EMA/cost")
    assert not is_training_name("fc/W:0")
    assert get_savename_from_varname("tower0/fc/W", varname_prefix="tower0") == "fc/W"
    assert get_savename_from_varname("fc/W", varname_prefix="tower0") == "fc/W"
    assert get_savename_from_varname("fc/W", savename_prefix="pre") == "pre/fc/W"
    assert get_savename_from_varname("t/x", "t/", "p/") == "p/x"
