"""``scripts/ls-checkpoint.py`` run as a user runs it, on checkpoints made by TensorFlow,
by our writer, and on npz / npy / safetensors files."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def ls(*args, extra=()):
    return subprocess.run([sys.executable, *extra, "scripts/ls-checkpoint.py", *map(str, args)],
                          cwd=REPO, env=ENV, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def ok(res):
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return res.stdout


def table_rows(stdout):
    """{name: (shape, dtype, size)} from the table, plus the totals line."""
    lines = stdout.strip().splitlines()
    assert lines[0].split() == ["name", "shape", "dtype", "size"]
    rows = {}
    for line in lines[2:-1]:
        name, rest = line.split(None, 1)
        shape, rest = rest.split("]", 1)
        dtype, size = rest.split(None, 1)
        rows[name] = (shape.strip() + "]", dtype, size.strip())
    return rows, lines[-1]


@pytest.fixture(scope="module")
def tf_ckpt(tmp_path_factory):
    """A TF1 Saver checkpoint: (prefix, {name: shape}, {name: numpy dtype name})."""
    tf = pytest.importorskip("tensorflow")
    v1 = tf.compat.v1
    d = tmp_path_factory.mktemp("tfckpt")
    with tf.Graph().as_default():
        gs = v1.train.get_or_create_global_step()
        w = v1.get_variable("conv1/W", [3, 3, 2, 4])
        b = v1.get_variable("conv1/b", [4], dtype=tf.float64)
        h = v1.get_variable("head/h", [5], dtype=tf.float16)
        cost = tf.reduce_sum(w) + tf.cast(tf.reduce_sum(b), tf.float32) + \
            tf.cast(tf.reduce_sum(h), tf.float32)
        v1.train.MomentumOptimizer(0.1, 0.9).minimize(cost, global_step=gs)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            prefix = v1.train.Saver().save(sess, str(d / "model"), global_step=3)
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = {k: v.as_numpy_dtype().dtype.name
              for k, v in reader.get_variable_to_dtype_map().items()}
    return prefix, shapes, dtypes


def _size(shape, dtype):
    return int(np.prod(shape)) * np.dtype(dtype).itemsize


def test_table_matches_tensorflow(tf_ckpt):
    prefix, shapes, dtypes = tf_ckpt
    rows, total = table_rows(ok(ls(prefix)))
    assert list(rows) == sorted(shapes)
    for name, (shape, dtype, size) in rows.items():
        assert shape == "[" + ", ".join(str(d) for d in shapes[name]) + "]"
        assert dtype == dtypes[name]
    params = sum(int(np.prod(s)) for s in shapes.values())
    nbytes = sum(_size(shapes[k], dtypes[k]) for k in shapes)
    assert total.startswith("{} tensors, {:,} parameters, {:,} bytes".format(
        len(shapes), params, nbytes))
    assert rows["conv1/W"][2] == "288 B" and rows["global_step"] == ("[]", "int64", "8 B")


def test_every_path_form_gives_the_same_listing(tf_ckpt):
    prefix, _, _ = tf_ckpt
    d = os.path.dirname(prefix)
    expected = ok(ls(prefix))
    for form in (prefix + ".index", prefix + ".data-00000-of-00001", prefix + ".meta",
                 os.path.join(d, "checkpoint"), d, d + "/"):
        res = ls(form)
        assert ok(res) == expected, form
        assert "resolved to" in res.stderr   # the correction is logged, on stderr
    rel = os.path.relpath(prefix, REPO)
    assert ok(ls(rel)) == expected


def test_json(tf_ckpt):
    prefix, shapes, dtypes = tf_ckpt
    doc = json.loads(ok(ls(prefix, "--json")))
    assert [t["name"] for t in doc["tensors"]] == sorted(shapes)
    for t in doc["tensors"]:
        assert t["shape"] == list(shapes[t["name"]])
        assert t["dtype"] == dtypes[t["name"]]
        assert t["nbytes"] == _size(shapes[t["name"]], dtypes[t["name"]])
    assert doc["totals"] == {"tensors": len(shapes),
                             "parameters": sum(int(np.prod(s)) for s in shapes.values()),
                             "bytes": sum(t["nbytes"] for t in doc["tensors"])}
    assert doc["path"] == prefix


def test_glob_and_regex_filters(tf_ckpt):
    prefix, shapes, _ = tf_ckpt
    rows, total = table_rows(ok(ls(prefix, "--filter", "conv1/*")))
    assert list(rows) == ["conv1/W", "conv1/W/Momentum", "conv1/b", "conv1/b/Momentum"]
    assert total.startswith("4 tensors")
    # a glob matches the whole name; a regex is searched anywhere
    rows, _ = table_rows(ok(ls(prefix, "--filter", "*/W")))
    assert list(rows) == ["conv1/W"]
    rows, _ = table_rows(ok(ls(prefix, "--regex", "Momentum$", "--filter", "global*")))
    assert list(rows) == sorted([k for k in shapes if k.endswith("Momentum")]
                                + ["global_step"])
    res = ls(prefix, "--filter", "nothing*")
    assert "0 tensors" in ok(res) and "no tensor matches" in res.stderr
    bad = ls(prefix, "--regex", "(")
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1


def test_sort_by_size(tf_ckpt):
    prefix, _, _ = tf_ckpt
    rows, _ = table_rows(ok(ls(prefix, "--sort", "size")))
    assert list(rows)[:2] == ["conv1/W", "conv1/W/Momentum"]


def test_npz_npy_safetensors(tmp_path):
    tensors = {"a/W": np.ones((2, 3), np.float32), "a/b:0": np.zeros(3, np.int32),
               "s": np.array([b"xy", b"z"])}
    np.savez(tmp_path / "p.npz", **tensors)
    rows, total = table_rows(ok(ls(tmp_path / "p.npz")))
    assert rows == {"a/W": ("[2, 3]", "float32", "24 B"), "a/b:0": ("[3]", "int32", "12 B"),
                    "s": ("[2]", "string", "?")}
    assert total.startswith("3 tensors, 11 parameters, 36 bytes")
    assert "1 string tensor" in total

    np.save(tmp_path / "p.npy", {"a/W": tensors["a/W"]}, allow_pickle=True)
    res = ls(tmp_path / "p.npy")
    assert res.returncode != 0 and "allow" in res.stderr and "Traceback" not in res.stderr
    rows, _ = table_rows(ok(ls(tmp_path / "p.npy", "--allow-pickle")))
    assert rows == {"a/W": ("[2, 3]", "float32", "24 B")}

    st = pytest.importorskip("safetensors.numpy")
    st.save_file({"a/W": tensors["a/W"], "b": np.arange(4, dtype=np.int64)},
                 str(tmp_path / "p.safetensors"))
    doc = json.loads(ok(ls(tmp_path / "p.safetensors", "--json")))
    assert doc["tensors"] == [
        {"name": "a/W", "shape": [2, 3], "dtype": "float32", "nbytes": 24},
        {"name": "b", "shape": [4], "dtype": "int64", "nbytes": 32}]


def test_checkpoint_from_our_writer(tmp_path):
    from tensorpack.checkpoint.formats import save_tensors
    save_tensors(str(tmp_path / "ours"), {"x/y": np.zeros((4, 5), np.float32),
                                          "step": np.int64(1)})
    rows, total = table_rows(ok(ls(tmp_path / "ours")))
    assert rows == {"step": ("[]", "int64", "8 B"), "x/y": ("[4, 5]", "float32", "80 B")}
    assert total.startswith("2 tensors, 21 parameters, 88 bytes")


def test_reads_only_the_index(tf_ckpt, tmp_path):
    prefix, _, _ = tf_ckpt
    copy = tmp_path / "c"
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(prefix + suffix, str(copy) + suffix)
    data = str(copy) + ".data-00000-of-00001"
    with open(data, "r+b") as f:  # garbage of the same size: only a data read notices
        f.write(b"\xa5" * os.path.getsize(data))
    assert table_rows(ok(ls(copy)))[0] == table_rows(ok(ls(prefix)))[0]


def test_does_not_import_tensorflow(tf_ckpt, tmp_path):
    prefix, _, _ = tf_ckpt
    np.savez(tmp_path / "p.npz", a=np.zeros(2))
    for target in (prefix, tmp_path / "p.npz"):
        res = ls(target, extra=["-X", "importtime"])
        assert res.returncode == 0
        imported = {line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines()
                    if line.startswith("import time:")}
        assert "numpy" in imported and "tensorpack.tools._cli" in imported  # the check works
        assert not {m for m in imported if m.split(".")[0] in ("tensorflow", "keras")}


def test_table_layout_is_tabulates():
    from tabulate import tabulate

    from tensorpack.tools.ls_checkpoint import format_table
    rows = [("conv1/W", "[3, 3, 2, 4]", "float32", "288 B"), ("b", "[]", "int64", "8 B"),
            ("a_long_name/with/scopes", "[1024, 1024]", "bfloat16", "2.0 MiB")]
    for table in (rows, rows[:1], [("ünïcode", "[2]", "float32", "8 B")] + rows):
        assert format_table(table) == tabulate(
            table, headers=["name", "shape", "dtype", "size"],
            colalign=("left", "left", "left", "right"), disable_numparse=True)


def test_check_reads_and_verifies_the_data(tf_ckpt, tmp_path):
    prefix, shapes, _ = tf_ckpt
    out = ok(ls(prefix, "--check"))
    assert out.strip().endswith("read back intact.")
    assert json.loads(ok(ls(prefix, "--check", "--json")))["totals"]["checked"] is True
    copy = tmp_path / "c"
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(prefix + suffix, str(copy) + suffix)
    with open(str(copy) + ".data-00000-of-00001", "r+b") as f:
        f.seek(5)
        byte = f.read(1)
        f.seek(5)
        f.write(bytes([byte[0] ^ 1]))
    ok(ls(copy))                           # the index alone is fine
    res = ls(copy, "--check")
    assert res.returncode == 1 and "checksum" in res.stderr and "Traceback" not in res.stderr


def test_closed_pipe_is_not_an_error(tmp_path):
    from tensorpack.checkpoint.formats import save_tensors
    save_tensors(str(tmp_path / "many"),
                 {"v{:05d}".format(i): np.zeros(1, np.float32) for i in range(20000)})
    proc = subprocess.Popen([sys.executable, "scripts/ls-checkpoint.py", str(tmp_path / "many")],
                            cwd=REPO, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.readline()          # like `| head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err and "Error" not in err


@pytest.mark.parametrize("command", ["ls-checkpoint", "checkpoint-manipulate",
                                     "dump-model-params"])
def test_installed_console_command(command, tmp_path):
    """The console scripts setup.py declares (present once the project is pip-installed)."""
    exe = os.path.join(os.path.dirname(sys.executable), command)
    if not os.path.isfile(exe):
        pytest.skip("tensorpack is not installed in this environment")
    np.savez(tmp_path / "p.npz", a=np.zeros(2))
    args = {"ls-checkpoint": [tmp_path / "p.npz"],
            "checkpoint-manipulate": [tmp_path / "p.npz", "--dump", tmp_path / "q.npz"],
            "dump-model-params": [tmp_path / "p.npz", tmp_path / "r.npz"]}[command]
    res = subprocess.run([exe, *map(str, args)], env=ENV, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=120)
    assert res.returncode == 0, res.stderr
    bad = subprocess.run([exe, str(tmp_path / "missing.npz")], env=ENV, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert bad.returncode != 0 and bad.stderr.startswith(command + ": error: ")
