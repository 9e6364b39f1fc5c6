"""``scripts/checkpoint-manipulate.py`` run as a user runs it; and the bad-input behaviour
that all three tools share (one line on stderr, non-zero exit, no traceback, no hang)."""
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
TOOLS = ["ls-checkpoint", "checkpoint-manipulate", "dump-model-params"]


def run(tool, *args, stdin=subprocess.DEVNULL, input=None):
    return subprocess.run([sys.executable, "scripts/{}.py".format(tool), *map(str, args)],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120,
                          **({"input": input} if input is not None else {"stdin": stdin}))


def ok(res):
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return res.stdout


def assert_one_line_error(res, tool, *fragments, after_logs=False):
    """Exactly one stderr line, the error. ``after_logs``: info lines logged before the
    failure (such as which checkpoint a directory resolved to) may precede it."""
    assert res.returncode not in (0, None), res.stdout
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    if after_logs:
        assert all(line.startswith("[") for line in lines[:-1]), res.stderr
        lines = lines[-1:]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(tool + ": error: "), lines[0]
    for f in fragments:
        assert f in lines[0], (f, lines[0])


@pytest.fixture(scope="module")
def tf_ckpt(tmp_path_factory):
    """A TF1 Saver checkpoint with a partitioned variable: (prefix, {name: value})."""
    tf = pytest.importorskip("tensorflow")
    v1 = tf.compat.v1
    d = tmp_path_factory.mktemp("manip")
    with tf.Graph().as_default():
        gs = v1.train.get_or_create_global_step()
        w = v1.get_variable("fc/W", [6, 5])
        i = v1.get_variable("fc/count", [3], dtype=tf.int32,
                            initializer=v1.constant_initializer(7))
        p = v1.get_variable("part", [10, 4], partitioner=v1.fixed_size_partitioner(2))
        v1.train.GradientDescentOptimizer(0.1).minimize(
            tf.reduce_sum(w) + tf.reduce_sum(p), global_step=gs)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            prefix = v1.train.Saver().save(sess, str(d / "model"), global_step=2)
    reader = tf.train.load_checkpoint(prefix)
    values = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}
    assert values["fc/count"].tolist() == [7, 7, 7]
    return prefix, values


def _copy_ckpt(prefix, dest):
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(prefix + suffix, str(dest) + suffix)
    return str(dest)


def _equal(a, b):
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        assert np.asarray(a[k]).dtype == np.asarray(b[k]).dtype, k


# ----------------------------------------------------------------------------- summary / dump
def test_summary_lists_every_name(tf_ckpt):
    prefix, values = tf_ckpt
    lines = ok(run("checkpoint-manipulate", prefix)).splitlines()
    assert lines[0].startswith(prefix + ": {} tensors".format(len(values)))
    assert [line.strip() for line in lines[1:]] == sorted(values)


def test_dump_npz(tf_ckpt, tmp_path):
    prefix, values = tf_ckpt
    out = tmp_path / "w.npz"
    res = run("checkpoint-manipulate", prefix, "--dump", out)
    ok(res)
    assert "Wrote {} tensors".format(len(values)) in res.stderr
    with np.load(out, allow_pickle=False) as f:
        _equal(dict(f), values)


def test_dump_safetensors(tf_ckpt, tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    prefix, values = tf_ckpt
    out = tmp_path / "w.safetensors"
    ok(run("checkpoint-manipulate", os.path.dirname(prefix), "--dump", out))
    _equal(st.load_file(str(out)), values)


def test_dump_tf_checkpoint_read_by_tensorflow(tf_ckpt, tmp_path):
    tf = pytest.importorskip("tensorflow")
    prefix, values = tf_ckpt
    npz = tmp_path / "w.npz"
    ok(run("checkpoint-manipulate", prefix, "--dump", npz))
    out = tmp_path / "conv" / "model"   # a new directory is fine
    ok(run("checkpoint-manipulate", npz, "--dump", out))
    reader = tf.train.load_checkpoint(str(out))
    _equal({k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}, values)
    # an .index name for the output means its prefix
    ok(run("checkpoint-manipulate", npz, "--dump", str(tmp_path / "again.index")))
    assert os.path.isfile(tmp_path / "again.index")
    assert os.path.isfile(tmp_path / "again.data-00000-of-00001")


def test_dump_with_filter(tf_ckpt, tmp_path):
    prefix, values = tf_ckpt
    out = tmp_path / "fc.npz"
    ok(run("checkpoint-manipulate", prefix, "--dump", out, "--filter", "fc/*"))
    with np.load(out) as f:
        _equal(dict(f), {k: v for k, v in values.items() if k.startswith("fc/")})


def test_refuses_to_overwrite_the_input(tf_ckpt, tmp_path):
    prefix, _ = tf_ckpt
    ckpt = _copy_ckpt(prefix, tmp_path / "model-2")
    before = {p: open(p, "rb").read() for p in (ckpt + ".index",
                                                 ckpt + ".data-00000-of-00001")}
    for out in (ckpt, ckpt + ".index"):
        res = run("checkpoint-manipulate", ckpt, "--dump", out)
        assert_one_line_error(res, "checkpoint-manipulate", "refusing to write over the input")
    res = run("checkpoint-manipulate", tmp_path, "--dump", os.path.join(tmp_path, "model-2"))
    assert_one_line_error(res, "checkpoint-manipulate", "refusing", after_logs=True)
    for p, data in before.items():
        assert open(p, "rb").read() == data
    np.savez(tmp_path / "in.npz", a=np.ones(3))
    link = tmp_path / "link.npz"
    os.link(tmp_path / "in.npz", link)
    res = run("checkpoint-manipulate", tmp_path / "in.npz", "--dump", link)
    assert_one_line_error(res, "checkpoint-manipulate", "refusing")
    res = run("checkpoint-manipulate", tmp_path / "in.npz", "--dump", tmp_path / "x.npy")
    assert_one_line_error(res, "checkpoint-manipulate", "x.npy", ".npz")


def test_shell_gives_lazy_params(tf_ckpt):
    prefix, values = tf_ckpt
    script = ("print('N', len(keys))\n"
              "print('SUM', float(params['fc/W'].sum()))\n"
              "print('SHAPE', infos['part'].shape)\n"
              "print('LAZY', type(params).__name__)\n")
    out = ok(run("checkpoint-manipulate", prefix, "--shell", input=script))
    assert "N {}".format(len(values)) in out
    assert "SUM {}".format(float(values["fc/W"].sum())) in out
    assert "SHAPE (10, 4)" in out
    assert "LAZY LazyParams" in out


def test_shell_with_closed_stdin_returns(tf_ckpt):
    prefix, _ = tf_ckpt
    ok(run("checkpoint-manipulate", prefix, "--shell"))   # stdin is /dev/null: EOF, exit


# ----------------------------------------------------------------------------- bad input, all tools
def _argv(tool, target, tmp_path):
    """How each tool is pointed at an input that should be rejected."""
    if tool == "ls-checkpoint":
        return [target, "--check"]
    if tool == "checkpoint-manipulate":
        return [target, "--dump", tmp_path / "out.npz"]
    return [target, tmp_path / "out.npz"]


def _flip(path, where):
    with open(path, "r+b") as f:
        f.seek(where)
        byte = f.read(1)
        f.seek(where)
        f.write(bytes([byte[0] ^ 0x10]))


def _truncate(path, keep):
    with open(path, "r+b") as f:
        f.truncate(keep)


def _bad_inputs(prefix, tmp_path):
    """name -> (path given to the tool, text the error line must contain)."""
    cases = {}
    cases["missing file"] = (str(tmp_path / "nope" / "model-1"), "nope")
    txt = tmp_path / "notes.txt"
    txt.write_text("just text\n")
    cases["wrong kind of file"] = (str(txt), "notes.txt")
    fake = tmp_path / "fake.npz"
    fake.write_text("not a zip\n")
    cases["npz that is not a zip"] = (str(fake), "fake.npz")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    cases["directory without checkpoint"] = (str(empty_dir), "empty")
    cases["path through a file"] = (str(txt / "model-1"), "notes.txt")
    for name, damage in [("truncated index", lambda c: _truncate(c + ".index", 100)),
                         ("bit-flipped index", lambda c: _flip(c + ".index", 40)),
                         ("truncated data", lambda c: _truncate(
                             c + ".data-00000-of-00001", 30)),
                         ("bit-flipped data", lambda c: _flip(
                             c + ".data-00000-of-00001", 20)),
                         ("missing data", lambda c: os.remove(c + ".data-00000-of-00001"))]:
        sub = tmp_path / name.replace(" ", "_")
        sub.mkdir()
        ckpt = _copy_ckpt(prefix, sub / "model-2")
        damage(ckpt)
        cases[name] = (ckpt, "model-2")
    return cases


@pytest.mark.parametrize("tool", TOOLS)
def test_bad_input_is_one_clear_line(tool, tf_ckpt, tmp_path):
    prefix, _ = tf_ckpt
    for case, (target, fragment) in _bad_inputs(prefix, tmp_path).items():
        res = run(tool, *_argv(tool, target, tmp_path))
        try:
            assert_one_line_error(res, tool, fragment)
        except AssertionError as e:
            raise AssertionError("{}: {}".format(case, e)) from None
        assert not os.path.exists(tmp_path / "out.npz"), case


@pytest.mark.parametrize("tool", TOOLS)
def test_no_argument_is_one_line(tool):
    res = run(tool)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(tool + ": error: ")
    assert "--help" in lines[0]
    assert "usage" in ok(run(tool, "--help"))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root reads directories whatever their mode")
@pytest.mark.parametrize("tool", TOOLS)
def test_unreadable_directory(tool, tf_ckpt, tmp_path):
    prefix, _ = tf_ckpt
    d = tmp_path / "locked"
    d.mkdir()
    _copy_ckpt(prefix, d / "model-2")
    os.chmod(d, 0)
    try:
        res = run(tool, *_argv(tool, d, tmp_path))
    finally:
        os.chmod(d, 0o755)
    assert_one_line_error(res, tool, "locked")


def test_ctrl_c_exits_130(tmp_path):
    """SIGINT while the tool waits on its input (a FIFO no one writes to)."""
    fifo = str(tmp_path / "slow.npz")
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "scripts/ls-checkpoint.py", fifo], cwd=REPO,
                            env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    writer = None
    try:
        deadline = time.time() + 60
        while writer is None:   # succeeds once the tool has opened the FIFO for reading
            try:
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
                time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if writer is not None:
            os.close(writer)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert err.strip() == "ls-checkpoint: interrupted"


def test_unexpected_error_is_still_one_line():
    code = ("import sys\nfrom tensorpack.tools import _cli\n"
            "def boom(argv):\n    return 1 / 0\n"
            "sys.exit(_cli.run('t', boom, []))\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip().startswith("t: error: ZeroDivisionError")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL, timeout=60,
                         env=dict(os.environ, TENSORPACK_DEBUG="1"))
    assert "Traceback" in res.stderr


def test_no_verify_skips_the_data_checksums(tf_ckpt, tmp_path):
    prefix, values = tf_ckpt
    ckpt = _copy_ckpt(prefix, tmp_path / "model-2")
    _flip(ckpt + ".data-00000-of-00001", 20)
    res = run("checkpoint-manipulate", ckpt, "--dump", tmp_path / "a.npz")
    assert_one_line_error(res, "checkpoint-manipulate", "checksum")
    ok(run("checkpoint-manipulate", ckpt, "--dump", tmp_path / "b.npz", "--no-verify"))
    with np.load(tmp_path / "b.npz") as f:
        assert sorted(f.files) == sorted(values)
