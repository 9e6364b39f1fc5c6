"""The checkpoint file-name rule (paths.py) and the output guards (formats.py), each with one
owner that the library and the scripts share."""
import glob
import os

import numpy as np
import pytest

from tensorpack.checkpoint.formats import (check_not_input, open_source, output_format,
                                           refuse_pickle_read, save_tensors, source_files)
from tensorpack.checkpoint.paths import (checkpoint_files, data_file_glob, data_file_name,
                                         data_files, split_checkpoint_file)


# ------------------------------------------------------------------------ file names
def test_data_file_name():
    assert data_file_name("d/model-5", 0, 1) == "d/model-5.data-00000-of-00001"
    assert data_file_name("m", 11, 12) == "m.data-00011-of-00012"
    assert data_file_name("m", 99998, 99999) == "m.data-99998-of-99999"


@pytest.mark.parametrize("shard, num", [(1, 1), (-1, 2), (0, 0), (0, 100000), (0.0, 1),
                                        (True, 2), ("0", 1), (0, None)])
def test_data_file_name_bad_shard(shard, num):
    with pytest.raises(ValueError, match="'pre'"):
        data_file_name("pre", shard, num)


@pytest.mark.parametrize("path, expected", [
    ("d/model-5.index", ("d/model-5", "index")),
    ("d/model-5.meta", ("d/model-5", "meta")),
    ("d/model-5.data-00000-of-00001", ("d/model-5", "data")),
    ("m.x.data-00003-of-00010", ("m.x", "data")),
    ("model.index.data-00000-of-00001", ("model.index", "data")),
])
def test_split_checkpoint_file(path, expected):
    assert split_checkpoint_file(path) == expected
    assert split_checkpoint_file(os.path.join("/abs", path)) == \
        (os.path.join("/abs", expected[0]), expected[1])


@pytest.mark.parametrize("path", [
    "", "model", "model-5", "checkpoint", ".index", "d/.index", "d/.data-00000-of-00001",
    "m.data-0-of-1", "m.data-000000-of-00001", "m.data-00000-of-00001.tempstate123",
    "m.data-00000-of-00001.tmpab12", "m.data-abcde-of-00001", "m.index.bak", "m.INDEX",
    "m.npz", "m.data", "m.data-00000",
])
def test_split_checkpoint_file_rejects(path):
    assert split_checkpoint_file(path) is None


def test_split_round_trips_data_file_name():
    name = data_file_name("run/model-7", 2, 3)
    assert split_checkpoint_file(name) == ("run/model-7", "data")


def _touch(path):
    with open(path, "wb"):
        pass
    return path


def test_data_files_and_glob(tmp_path):
    d = str(tmp_path)
    odd = os.path.join(d, "m[1]")  # glob metacharacters in a prefix are literal
    for shard in (1, 0):
        _touch(data_file_name(odd, shard, 2))
    _touch(odd + ".index")
    _touch(data_file_name(os.path.join(d, "m1"), 0, 1))
    _touch(data_file_name(odd, 0, 1) + ".tempstate5")   # an unfinished write
    os.mkdir(data_file_name(os.path.join(d, "dir"), 0, 1))  # not a file
    assert data_files(odd) == [data_file_name(odd, 0, 2), data_file_name(odd, 1, 2)]
    assert checkpoint_files(odd) == [odd + ".index"] + data_files(odd)
    assert data_files(os.path.join(d, "missing")) == []
    every = sorted(glob.glob(data_file_glob(os.path.join(glob.escape(d), "*"))))
    assert [os.path.basename(f) for f in every] == [
        "dir.data-00000-of-00001", "m1.data-00000-of-00001", "m[1].data-00000-of-00002",
        "m[1].data-00001-of-00002"]


# ------------------------------------------------------------------------ output format
def test_output_format():
    assert output_format("a.npz") == "npz"
    assert output_format("A.NPZ") == "npz"
    assert output_format("a.safetensors") == "safetensors"
    assert output_format("run/model-5") == "tf"
    assert output_format("a.npz", fmt="tf") == "tf"
    assert output_format("x", fmt=".NPZ") == "npz"


@pytest.mark.parametrize("path, fmt", [("w.npy", None), ("W.NPY", None), ("w", "npy")])
def test_output_format_refuses_pickle(path, fmt):
    with pytest.raises(ValueError) as e:
        output_format(path, fmt)
    msg = str(e.value)
    assert "'{}'".format(path) in msg and "pickle" in msg
    assert ".npz" in msg and ".safetensors" in msg  # the fix


def test_output_format_unknown():
    with pytest.raises(ValueError, match="Unknown output format 'hdf5' for 'x'"):
        output_format("x", fmt="hdf5")


def test_every_writer_refuses_npy_the_same_way(tmp_path):
    from tensorpack.tfutils.varmanip import save_checkpoint_vars
    path = str(tmp_path / "w.NPY")
    messages = []
    for write in (lambda: save_tensors(path, {"a": np.ones(1)}),
                  lambda: save_checkpoint_vars({"a": np.ones(1)}, path),
                  lambda: output_format(path)):
        with pytest.raises(ValueError) as e:
            write()
        messages.append(str(e.value))
    assert len(set(messages)) == 1, messages
    assert not os.path.exists(path)


def test_refuse_pickle_read(tmp_path):
    path = str(tmp_path / "old.npy")
    with pytest.raises(ValueError) as e:
        refuse_pickle_read(path)
    msg = str(e.value)
    assert path in msg and "allow_pickle=True" in msg and "--allow-pickle" in msg
    np.save(path, {"a": np.ones(1)}, allow_pickle=True)
    with pytest.raises(ValueError) as e2:
        open_source(path)
    assert str(e2.value) == msg


# ------------------------------------------------------------------------ not the input
def test_check_not_input_npz(tmp_path):
    path = str(tmp_path / "in.npz")
    np.savez(path, a=np.ones(2))
    link = str(tmp_path / "link.npz")
    os.link(path, link)
    sym = str(tmp_path / "sym.npz")
    os.symlink(path, sym)
    with open_source(path) as src:
        assert source_files(src) == [path]
        for out in (path, link, sym):
            with pytest.raises(ValueError) as e:
                check_not_input(out, "npz", src)
            msg = str(e.value)
            assert "'{}'".format(out) in msg and "refusing to write over the input" in msg
            assert path in msg and "another output name" in msg
        check_not_input(str(tmp_path / "new.npz"), "npz", src)
        check_not_input(str(tmp_path / "new"), "tf", src)
    check_not_input(path, "npz", None)  # no source: nothing to protect


def test_check_not_input_checkpoint(tmp_path):
    prefix = save_tensors(str(tmp_path / "model-1"), {"a": np.ones(3, np.float32)})
    index = prefix + ".index"
    with open_source(index) as src:
        for out in (prefix, str(tmp_path / "model-1")):
            with pytest.raises(ValueError, match="refusing to write over the input"):
                check_not_input(out, "tf", src)
        # the input as the user named it counts too
        with pytest.raises(ValueError, match="refusing"):
            check_not_input(index, "npz", src, given=index)
        check_not_input(str(tmp_path / "model-2"), "tf", src)
        with pytest.raises(ValueError, match="refusing"):
            save_tensors(prefix, src)
    with open_source(prefix) as src:
        np.testing.assert_array_equal(src.read("a"), np.ones(3))
