"""The TensorFlow-free ``.meta`` reader against TensorFlow's own collections."""
import os
import subprocess
import sys

import pytest

from tensorpack.checkpoint.metagraph import (
    model_variable_names, read_metagraph_collections, read_metagraph_variable_records,
    read_metagraph_variables)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VAR_COLLECTIONS = ["variables", "trainable_variables", "model_variables", "local_variables",
                   "global_step"]


def _build_graph(tf, use_resource):
    """A graph with every kind of variable the dump rule has to tell apart."""
    v1 = tf.compat.v1
    gs = v1.train.get_or_create_global_step()
    w = v1.get_variable("fc/W", [3, 4], use_resource=use_resource)
    b = v1.get_variable("fc/b", [4], trainable=False, use_resource=use_resource,
                        collections=[v1.GraphKeys.GLOBAL_VARIABLES,
                                     v1.GraphKeys.MODEL_VARIABLES])
    part = v1.get_variable("part", [10, 4], partitioner=v1.fixed_size_partitioner(2),
                           use_resource=use_resource)
    loc = v1.get_variable("loc", [2], collections=[v1.GraphKeys.LOCAL_VARIABLES],
                          use_resource=use_resource)
    x = v1.placeholder(tf.float32, [None, 3])
    cost = (tf.reduce_sum(tf.matmul(x, w) + b) + tf.reduce_sum(part)
            + tf.reduce_sum(loc))
    v1.train.MomentumOptimizer(0.1, 0.9).minimize(cost, global_step=gs)


def _expected(tf):
    v1 = tf.compat.v1
    return {key: [v.op.name for v in v1.get_collection(key)] for key in VAR_COLLECTIONS
            if v1.get_collection(key)}


@pytest.fixture(params=[True, False], ids=["resource", "ref"])
def saved_meta(request, tmp_path):
    """(path of a .meta written by Saver.save, TF's own view of the collections)."""
    tf = pytest.importorskip("tensorflow")
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        _build_graph(tf, request.param)
        expected = _expected(tf)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            prefix = v1.train.Saver().save(sess, str(tmp_path / "model"), global_step=7)
    return prefix + ".meta", expected


def test_collections_match_tensorflow(saved_meta):
    path, expected = saved_meta
    got = read_metagraph_variables(path)
    assert {k: got[k] for k in expected} == expected
    assert "fc/W/Momentum" in got["variables"]
    assert got["global_step"] == ["global_step"]


def test_records_map_partitions_to_the_full_variable(saved_meta):
    path, _ = saved_meta
    records = {r.name: r for r in read_metagraph_variable_records(path)["variables"]}
    assert records["part/part_0"].checkpoint_key == "part"
    assert records["part/part_1"].checkpoint_key == "part"
    assert records["fc/W"].checkpoint_key == "fc/W"
    assert records["fc/W"].trainable is True
    assert not records["fc/b"].trainable


def test_model_variable_names_is_upstreams_rule(saved_meta):
    path, _ = saved_meta
    # global AND (trainable OR model): not the slot, not global_step, not the local variable
    assert model_variable_names(path) == ["fc/W", "part", "fc/b"]


def test_export_meta_graph_and_other_collections(tmp_path):
    tf = pytest.importorskip("tensorflow")
    v1 = tf.compat.v1
    path = str(tmp_path / "graph-1.meta")
    with tf.Graph().as_default():
        v = v1.get_variable("only", [2])
        v1.add_to_collection("my_numbers", 3)
        v1.add_to_collection("my_floats", 0.5)
        v1.add_to_collection("my_nodes", v.op)
        v1.train.export_meta_graph(filename=path)
    assert read_metagraph_variables(path) == {"variables": ["only"],
                                              "trainable_variables": ["only"]}
    colls = read_metagraph_collections(path)
    assert colls["my_numbers"] == ("int64_list", [3])
    assert colls["my_floats"] == ("float_list", [0.5])
    assert colls["my_nodes"] == ("node_list", ["only"])


def test_truncated_file_names_the_file(saved_meta, tmp_path):
    path, _ = saved_meta
    data = open(path, "rb").read()
    for cut in (len(data) // 2, len(data) - 3, len(data) - 1):
        bad = tmp_path / "cut-{}.meta".format(cut)
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="cut-{}.meta".format(cut)):
            read_metagraph_variables(str(bad))


@pytest.mark.parametrize("content,match", [
    (b"", "empty"),
    (b"\xff" * 64, "not a valid MetaGraphDef"),
    (b"meta_info_def {\n  stripped_op_list {\n", "text-format"),
    (bytes([0x22, 0x05, 0x0a, 0x03, 0x61]), "not a valid MetaGraphDef"),
])
def test_garbage_is_a_value_error(tmp_path, content, match):
    bad = tmp_path / "bad.meta"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match=match) as e:
        read_metagraph_variables(str(bad))
    assert str(bad) in str(e.value)


def test_variable_collection_with_wrong_content(tmp_path):
    # collection_def {"variables": node_list {"x:0"}}: valid protobuf, wrong kind
    node_list = b"\x0a\x03x:0"
    cdef = b"\x0a" + bytes([len(node_list)]) + node_list
    entry = b"\x0a\x09variables" + b"\x12" + bytes([len(cdef)]) + cdef
    bad = tmp_path / "odd.meta"
    bad.write_bytes(b"\x22" + bytes([len(entry)]) + entry)
    assert read_metagraph_collections(str(bad)) == {"variables": ("node_list", ["x:0"])}
    with pytest.raises(ValueError, match="variables"):
        read_metagraph_variables(str(bad))


def test_missing_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.meta"):
        read_metagraph_variables(str(tmp_path / "nope.meta"))
    with pytest.raises(IsADirectoryError):
        read_metagraph_variables(str(tmp_path))


def test_does_not_import_tensorflow(saved_meta):
    path, _ = saved_meta
    code = ("import sys\nfrom tensorpack.checkpoint.metagraph import read_metagraph_variables\n"
            "read_metagraph_variables(sys.argv[1])\nprint('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, path], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "False"
