"""The `checkpoint` state file: parsing, escaping, atomic writing, and interop with TensorFlow."""
import json
import os
import subprocess
import sys

import pytest

from tensorpack.checkpoint.state import (CheckpointState, latest_checkpoint,
                                         read_checkpoint_state, write_checkpoint_state)

# Run in a fresh process: TF makes / inspects state files in eager mode, whatever other tests
# did to this process's TF state, and this test module itself never imports TensorFlow.
TF_SCRIPT = r'''
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf

def saver_case(d, **kw):
    os.makedirs(d)
    with tf.Graph().as_default():
        tf.compat.v1.get_variable("w", initializer=tf.constant([1.0, 2.0]))
        saver = tf.compat.v1.train.Saver(max_to_keep=2, **kw)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for step in (1, 2, 3):
                saver.save(sess, os.path.join(d, "model"), global_step=step)

def manager_case(d):
    ck = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0]))
    m = tf.train.CheckpointManager(ck, d, max_to_keep=2, keep_checkpoint_every_n_hours=1.0)
    for _ in range(3):
        m.save()

def view(d):
    st = tf.train.get_checkpoint_state(d)
    out = {"latest": tf.train.latest_checkpoint(d)}
    if st is not None:
        out.update(model_checkpoint_path=st.model_checkpoint_path,
                   all_model_checkpoint_paths=list(st.all_model_checkpoint_paths),
                   all_model_checkpoint_timestamps=list(st.all_model_checkpoint_timestamps),
                   last_preserved_timestamp=st.last_preserved_timestamp)
    return out

mode, root = sys.argv[1], sys.argv[2]
if mode == "make":
    saver_case(os.path.join(root, "abs"))
    saver_case(os.path.join(root, "rel"), save_relative_paths=True)
    saver_case(os.path.join(root, 'we\\ird "dir" é'))
    manager_case(os.path.join(root, "mgr"))
    dirs = ["abs", "rel", 'we\\ird "dir" é', "mgr"] + sys.argv[3:]
else:
    dirs = sys.argv[3:]
print(json.dumps({d: view(os.path.join(root, d)) for d in dirs}))
'''

WEIRD = 'we\\ird "dir" \u00e9'


def run_tf(tmp_dir, *args):
    pytest.importorskip("tensorflow")
    script = os.path.join(str(tmp_dir), "tf_state_script.py")
    with open(script, "w") as f:
        f.write(TF_SCRIPT)
    out = subprocess.run([sys.executable, script] + list(args), check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout
    return json.loads(out.decode().strip().splitlines()[-1])


# Our state files that TF reads back: relative, absolute, and names that need escaping.
OURS = {"ours_rel": True, "ours_abs": False, "ours_" + WEIRD: True,
        "ours_ctl\n\t\x01\x7f \u00fc'": True}


def write_ours(root):
    for name, relative in OURS.items():
        d = os.path.join(root, name)
        os.mkdir(d)
        for step in (10, 20):
            touch_checkpoint(os.path.join(d, "model-{}".format(step)))
        write_checkpoint_state(d, os.path.join(d, "model-20"), [os.path.join(d, "model-10")],
                               all_model_checkpoint_timestamps=[1.5, 1795493887.9071484],
                               last_preserved_timestamp=1795493000.25, relative=relative)


@pytest.fixture(scope="module")
def tf_made(tmp_path_factory):
    """One TF process makes TF's state files and reads ours (TF's import is the slow part)."""
    root = str(tmp_path_factory.mktemp("tfstate"))
    write_ours(root)
    return root, run_tf(root, "make", root, *OURS)


def touch_checkpoint(prefix):
    for suffix in (".index", ".data-00000-of-00001"):
        with open(prefix + suffix, "wb"):
            pass


@pytest.mark.parametrize("case", ["abs", "rel", "mgr", WEIRD])
def test_reads_state_files_written_by_tf(tf_made, case):
    root, views = tf_made
    tf_view = views[case]
    st = read_checkpoint_state(os.path.join(root, case))
    assert isinstance(st, CheckpointState)
    assert st.model_checkpoint_path == tf_view["model_checkpoint_path"]
    assert st.all_model_checkpoint_paths == tf_view["all_model_checkpoint_paths"]
    assert st.all_model_checkpoint_timestamps == tf_view["all_model_checkpoint_timestamps"]
    assert (st.last_preserved_timestamp or 0.0) == tf_view["last_preserved_timestamp"]
    # The state file path itself works as well as its directory.
    assert read_checkpoint_state(os.path.join(root, case, "checkpoint")) == st
    if case != WEIRD:  # TF's own glob fails on the backslash in that name
        assert latest_checkpoint(os.path.join(root, case)) == tf_view["latest"]
    assert latest_checkpoint(os.path.join(root, case)) == st.model_checkpoint_path


def test_manager_state_has_timestamps(tf_made):
    root, _ = tf_made
    st = read_checkpoint_state(os.path.join(root, "mgr"))
    assert len(st.all_model_checkpoint_timestamps) == 2
    assert st.last_preserved_timestamp > 1e9


def test_tf_accepts_our_state_files(tf_made):
    root, views = tf_made
    rel = open(os.path.join(root, "ours_rel", "checkpoint")).read()
    assert rel.splitlines()[0] == 'model_checkpoint_path: "model-20"'
    assert '"/' in open(os.path.join(root, "ours_abs", "checkpoint")).read()
    for name in OURS:
        d = os.path.join(root, name)
        v = views[name]
        assert v["model_checkpoint_path"] == os.path.join(d, "model-20")
        assert v["all_model_checkpoint_paths"] == [os.path.join(d, "model-10"),
                                                   os.path.join(d, "model-20")]
        assert v["all_model_checkpoint_timestamps"] == [1.5, 1795493887.9071484]
        assert v["last_preserved_timestamp"] == 1795493000.25
        if "\\" not in name:  # TF's own glob fails on a backslash in the name
            assert v["latest"] == os.path.join(d, "model-20")
        ours = read_checkpoint_state(d)
        assert ours.model_checkpoint_path == v["model_checkpoint_path"]
        assert ours.all_model_checkpoint_paths == v["all_model_checkpoint_paths"]


@pytest.mark.parametrize("name", ['q"uote', "back\\slash", "new\nline\ttab", "caf\u00e9 \u6f22",
                                  "ctl\x01\x7f", "apos'trophe"])
def test_escapes_round_trip(tmp_path, name):
    d = str(tmp_path)
    write_checkpoint_state(d, name)
    st = read_checkpoint_state(d)
    assert st.model_checkpoint_path == os.path.join(d, name)
    assert st.all_model_checkpoint_paths == [os.path.join(d, name)]
    # One line per field: newlines in names are escaped.
    assert len((tmp_path / "checkpoint").read_bytes().splitlines()) == 2


def test_parses_octal_hex_escapes_comments_and_adjacent_strings(tmp_path):
    (tmp_path / "checkpoint").write_bytes(
        b"# written by hand\n"
        b"model_checkpoint_path: \"caf\\303\\251-\\x41\\101\" \"-5\"\n"
        b"all_model_checkpoint_paths: 'single\\'q'\n"
        b"all_model_checkpoint_paths: \"/abs/path\"  all_model_checkpoint_timestamps: 1e3\n"
        b"last_preserved_timestamp: 2.5 unknown_future_field: \"x\"\n")
    st = read_checkpoint_state(str(tmp_path))
    assert st.model_checkpoint_path == os.path.join(str(tmp_path), "caf\u00e9-AA-5")
    assert st.all_model_checkpoint_paths == [os.path.join(str(tmp_path), "single'q"), "/abs/path"]
    assert st.all_model_checkpoint_timestamps == [1000.0]
    assert st.last_preserved_timestamp == 2.5


@pytest.mark.parametrize("content", [b"model_checkpoint_path: \"unterminated\n",
                                     b"model_checkpoint_path \"a\" }",
                                     b"model_checkpoint_path: 3.0",
                                     b"all_model_checkpoint_timestamps: \"x\"",
                                     b"model_checkpoint_path:",
                                     b"model_checkpoint_path: \"bad\\q\""])
def test_malformed_state_file_names_file(tmp_path, content):
    (tmp_path / "checkpoint").write_bytes(content)
    with pytest.raises(ValueError, match="checkpoint state file.*checkpoint"):
        read_checkpoint_state(str(tmp_path))


def test_missing_state_is_none(tmp_path):
    assert read_checkpoint_state(str(tmp_path)) is None
    assert read_checkpoint_state(str(tmp_path / "checkpoint")) is None
    assert latest_checkpoint(str(tmp_path)) is None


def test_latest_needs_index_file(tmp_path):
    d = str(tmp_path)
    write_checkpoint_state(d, "model-5")
    assert latest_checkpoint(d) is None
    touch_checkpoint(os.path.join(d, "model-5"))
    assert latest_checkpoint(d) == os.path.join(d, "model-5")


def test_latest_path_appended_and_paths_normalised(tmp_path, monkeypatch):
    d = tmp_path / "run"
    d.mkdir()
    monkeypatch.chdir(str(tmp_path))
    # A bare name is inside the directory; other relative paths are relative to the cwd.
    write_checkpoint_state("run", "run/model-3", ["model-1", "run/model-2"])
    lines = (d / "checkpoint").read_text().splitlines()
    assert lines == ['model_checkpoint_path: "model-3"', 'all_model_checkpoint_paths: "model-1"',
                     'all_model_checkpoint_paths: "model-2"',
                     'all_model_checkpoint_paths: "model-3"']
    write_checkpoint_state("run", "model-3", ["model-3"], relative=False)
    st = read_checkpoint_state("run")
    assert st.all_model_checkpoint_paths == [str(d / "model-3")]


def test_timestamps_must_match_paths(tmp_path):
    with pytest.raises(ValueError, match="2 timestamps for 1 checkpoint"):
        write_checkpoint_state(str(tmp_path), "model-1", all_model_checkpoint_timestamps=[1.0, 2.0])
    assert not (tmp_path / "checkpoint").exists()


def test_write_replaces_atomically_and_leaves_no_temp(tmp_path):
    d = str(tmp_path)
    write_checkpoint_state(d, "model-1")
    write_checkpoint_state(d, "model-2", ["model-1"])
    assert os.listdir(d) == ["checkpoint"]
    assert read_checkpoint_state(d).model_checkpoint_path == os.path.join(d, "model-2")


def test_state_file_gets_normal_permissions(tmp_path):
    mask = os.umask(0o027)
    try:
        write_checkpoint_state(str(tmp_path), "model-1")
    finally:
        os.umask(mask)
    assert os.stat(str(tmp_path / "checkpoint")).st_mode & 0o777 == 0o640
