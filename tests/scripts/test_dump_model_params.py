"""``scripts/dump-model-params.py`` run as a user runs it: upstream's keep rule read from
a real TensorFlow metagraph, every output format, and log-directory input."""
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
PROG = "dump-model-params"


def dump(*args):
    return subprocess.run([sys.executable, "scripts/dump-model-params.py", *map(str, args)],
                          cwd=REPO, env=ENV, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def ok(res):
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return res


def one_line_error(res, *fragments):
    assert res.returncode != 0 and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(PROG + ": error: "), res.stderr
    for f in fragments:
        assert f in lines[0]


def _read_tf(tf, prefix):
    reader = tf.train.load_checkpoint(str(prefix))
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}


def _equal(a, b):
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A checkpoint + metagraph with a trainable variable, a non-trainable MODEL variable,
    optimizer slots, global_step, a partitioned variable and a (trainable) local variable.

    Returns (prefix, meta, {name: value} from TF's reader)."""
    tf = pytest.importorskip("tensorflow")
    v1 = tf.compat.v1
    d = tmp_path_factory.mktemp("dump")
    with tf.Graph().as_default():
        gs = v1.train.get_or_create_global_step()
        w = v1.get_variable("fc/W", [3, 4])
        mean = v1.get_variable("bn/mean", [4], trainable=False,
                               initializer=v1.constant_initializer(0.5),
                               collections=[v1.GraphKeys.GLOBAL_VARIABLES,
                                            v1.GraphKeys.MODEL_VARIABLES])
        part = v1.get_variable("part", [8, 2], partitioner=v1.fixed_size_partitioner(2))
        loc = v1.get_variable("loc", [2], collections=[v1.GraphKeys.LOCAL_VARIABLES,
                                                       v1.GraphKeys.TRAINABLE_VARIABLES])
        cost = tf.reduce_sum(w * mean) + tf.reduce_sum(part) + tf.reduce_sum(loc)
        v1.train.AdamOptimizer(0.1).minimize(cost, global_step=gs)
        with v1.Session() as sess:
            sess.run([v1.global_variables_initializer(), v1.local_variables_initializer()])
            prefix = v1.train.Saver().save(sess, str(d / "model"), global_step=4)
    values = _read_tf(tf, prefix)
    assert any("Adam" in k for k in values) and "global_step" in values
    return prefix, prefix + ".meta", values


KEEP = ["bn/mean", "fc/W", "part"]


def test_meta_keeps_trainable_and_model_variables(trained, tmp_path):
    prefix, meta, values = trained
    out = tmp_path / "m.npz"
    res = ok(dump("--meta", meta, prefix, out))
    with np.load(out, allow_pickle=False) as f:
        got = dict(f)
    # upstream's npz files name tensors, with ':0'
    _equal(got, {k + ":0": values[k] for k in KEEP})
    dropped = len(values) - len(KEEP)
    assert "Kept 3 of {} tensors".format(len(values)) in res.stderr
    assert "dropped {}".format(dropped) in res.stderr and "global_step" in res.stderr


def test_op_names_and_other_formats(trained, tmp_path):
    tf = pytest.importorskip("tensorflow")
    prefix, meta, values = trained
    expected = {k: values[k] for k in KEEP}
    ok(dump("--meta", meta, prefix, tmp_path / "o.npz", "--op-names"))
    with np.load(tmp_path / "o.npz") as f:
        _equal(dict(f), expected)
    ok(dump("--meta", meta, prefix, tmp_path / "out" / "model"))
    _equal(_read_tf(tf, tmp_path / "out" / "model"), expected)
    st = pytest.importorskip("safetensors.numpy")
    ok(dump("--meta", meta, prefix, tmp_path / "o.safetensors"))
    _equal(st.load_file(str(tmp_path / "o.safetensors")), expected)


def test_without_meta_keeps_everything(trained, tmp_path):
    tf = pytest.importorskip("tensorflow")
    prefix, _, values = trained
    res = ok(dump(prefix + ".index", tmp_path / "all"))
    _equal(_read_tf(tf, tmp_path / "all"), values)
    assert "kept all {} tensors".format(len(values)) in res.stderr


def test_log_dir_with_saver_meta(trained, tmp_path):
    """A directory where a plain Saver left model-N.meta (no ModelSaver graph-*.meta)."""
    prefix, _, values = trained
    res = ok(dump(os.path.dirname(prefix), tmp_path / "o.npz", "--op-names"))
    with np.load(tmp_path / "o.npz") as f:
        _equal(dict(f), {k: values[k] for k in KEEP})
    assert "model-4.meta (saved with the checkpoint)" in res.stderr


def test_npz_input_with_tensor_names(trained, tmp_path):
    prefix, meta, values = trained
    np.savez(tmp_path / "in.npz", **{k + ":0": v for k, v in values.items()})
    ok(dump("--meta", meta, tmp_path / "in.npz", tmp_path / "o.npz", "--op-names"))
    with np.load(tmp_path / "o.npz") as f:
        _equal(dict(f), {k: values[k] for k in KEEP})
    np.savez(tmp_path / "dup.npz", **{"fc/W": values["fc/W"], "fc/W:0": values["fc/W"]})
    one_line_error(dump(tmp_path / "dup.npz", tmp_path / "d.npz"), "fc/W:0", "same variable")


def test_missing_variables_are_a_warning(trained, tmp_path):
    prefix, meta, values = trained
    np.savez(tmp_path / "partial.npz", **{k: v for k, v in values.items() if k != "bn/mean"})
    res = ok(dump("--meta", meta, tmp_path / "partial.npz", tmp_path / "o.npz"))
    warning = [line for line in res.stderr.splitlines() if "not in" in line]
    assert len(warning) == 1 and "bn/mean" in warning[0]
    with np.load(tmp_path / "o.npz") as f:
        assert sorted(f.files) == ["fc/W:0", "part:0"]


def _save_run(tf, d, names, steps, meta_name):
    """Save checkpoints model-STEP (distinct values per step) and a metagraph with only
    ``names`` trainable. Returns {step: values}."""
    v1 = tf.compat.v1
    saved = {}
    with tf.Graph().as_default():
        variables = [v1.get_variable(n, [2]) for n in names]
        gs = v1.train.get_or_create_global_step()
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            saver = v1.train.Saver()
            for step in steps:
                sess.run([v.assign(tf.fill([2], float(step))) for v in variables])
                sess.run(gs.assign(step))
                saver.save(sess, os.path.join(d, "model"), global_step=step,
                           write_meta_graph=False)
                saved[step] = {n: np.full(2, float(step), np.float32) for n in names}
            v1.train.export_meta_graph(filename=os.path.join(d, meta_name))
    return saved


def test_log_dir_picks_newest_meta_by_mtime_and_checkpoint_by_step(tmp_path):
    tf = pytest.importorskip("tensorflow")
    d = str(tmp_path / "train_log")
    os.makedirs(d)
    # Name order would pick the wrong file in both cases: 'graph-1231...' > 'graph-0101...'
    # and 'model-9' > 'model-10'.
    saved = _save_run(tf, d, ["a/W", "b/W"], [9, 10], "graph-1231-235959.meta")
    with tf.Graph().as_default():
        tf.compat.v1.get_variable("a/W", [2])
        tf.compat.v1.train.export_meta_graph(filename=os.path.join(d, "graph-0101-000000.meta"))
    old = time.time() - 3600
    os.utime(os.path.join(d, "graph-1231-235959.meta"), (old, old))
    res = ok(dump(d, tmp_path / "o.npz", "--op-names"))
    with np.load(tmp_path / "o.npz") as f:
        _equal(dict(f), {"a/W": saved[10]["a/W"]})
    assert "graph-0101-000000.meta" in res.stderr and "model-10" in res.stderr
    # an explicit --meta wins over the guess
    ok(dump("--meta", os.path.join(d, "graph-1231-235959.meta"), d, tmp_path / "p.npz",
            "--op-names"))
    with np.load(tmp_path / "p.npz") as f:
        _equal(dict(f), saved[10])


def test_refusals_and_bad_meta(trained, tmp_path):
    prefix, meta, _ = trained
    index = open(prefix + ".index", "rb").read()
    one_line_error(dump(prefix, prefix), "refusing to write over the input")
    one_line_error(dump("--meta", meta, prefix, prefix + ".index"), "refusing")
    assert open(prefix + ".index", "rb").read() == index
    empty = tmp_path / "run"
    empty.mkdir()
    one_line_error(dump(empty, tmp_path / "o.npz"), "no checkpoint", str(empty))
    shutil.copy(prefix + ".index", empty / "model-4.index")
    shutil.copy(prefix + ".data-00000-of-00001", empty / "model-4.data-00000-of-00001")
    res = dump(empty, tmp_path / "o.npz")
    assert "graph-*.meta" in res.stderr.splitlines()[-1] and "pass --meta" in res.stderr
    assert res.returncode != 0 and "Traceback" not in res.stderr
    bad = tmp_path / "graph-1.meta"
    bad.write_bytes(open(meta, "rb").read()[:200])
    one_line_error(dump("--meta", bad, prefix, tmp_path / "o.npz"), str(bad), "truncated")
    one_line_error(dump("--meta", tmp_path / "none.meta", prefix, tmp_path / "o.npz"),
                   "none.meta")
    assert not os.path.exists(tmp_path / "o.npz")
    # a metagraph of another model: nothing would be kept
    tf = pytest.importorskip("tensorflow")
    with tf.Graph().as_default():
        tf.compat.v1.get_variable("other/W", [1])
        tf.compat.v1.train.export_meta_graph(filename=str(tmp_path / "other.meta"))
    res = dump("--meta", tmp_path / "other.meta", prefix, tmp_path / "o.npz")
    assert res.returncode != 0 and "right metagraph" in res.stderr.splitlines()[-1]
    assert "other/W" in res.stderr   # the warning names what is missing
