"""Non-TF formats: dict, npz, legacy npy, safetensors; the dispatcher and the streaming writer."""
import json
import logging
import os
import struct
import sys
import zipfile

import numpy as np
import pytest

from tensorpack.checkpoint.formats import (DictSource, NpzSource,
                                           open_source, save_tensors)
from tensorpack.checkpoint.source import CheckpointSource


def sample_tensors():
    """float32, float16, int64, bool, scalars, empty, text, names with '/' and ':0'."""
    return {
        "conv1/W:0": np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7,
        "conv1/b": np.linspace(-1, 1, 5).astype(np.float16),
        "global_step": np.int64(12345),
        "mask": np.array([[True, False], [False, True]]),
        "scalar_f": np.float32(2.5),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
        "ints": np.array([-3, 0, 2**40], dtype=np.int64),
    }


def assert_same(source, expected):
    assert sorted(source.keys()) == sorted(expected)
    for k, v in expected.items():
        got = source.read(k)
        v = np.asarray(v)
        assert got.shape == v.shape, k
        assert got.dtype == v.dtype, k
        np.testing.assert_array_equal(got, v, err_msg=k)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def logs():
    log = logging.getLogger("tensorpack")
    h = _Records()
    log.addHandler(h)
    yield h.messages
    log.removeHandler(h)


# ------------------------------------------------------------------------ dict
def test_dict_source_lists_and_reads_with_keys_as_given():
    d = sample_tensors()
    src = open_source(d)
    assert isinstance(src, DictSource)
    info = src.infos()
    assert info["conv1/W:0"].shape == (2, 3, 4) and info["conv1/W:0"].dtype == "float32"
    assert info["global_step"].shape == () and info["global_step"].dtype == "int64"
    assert info["mask"].dtype == "bool" and info["empty"].shape == (0, 3)
    assert_same(src, d)


def test_dict_source_python_scalars_and_text():
    src = DictSource({"a": 1.5, "b": 3, "t": "héllo", "tb": [b"x", b"yz"]})
    assert src.infos()["a"].dtype == "float64"
    assert src.infos()["b"].dtype == "int64"
    assert src.infos()["t"].dtype == "string"
    assert src.read("t")[()] == "héllo".encode("utf-8")
    assert list(src.read("tb")) == [b"x", b"yz"]


def test_dict_source_rejects_bad_keys_and_values():
    with pytest.raises(ValueError, match="must be str"):
        DictSource({1: np.zeros(2)})
    with pytest.raises(ValueError, match="'obj'"):
        DictSource({"obj": np.array([object()], dtype=object)})


def test_source_passthrough_and_unknown_object():
    src = DictSource({"a": np.zeros(1)})
    assert open_source(src) is src
    with pytest.raises(ValueError, match="Cannot read tensors from a int"):
        open_source(42)


# ------------------------------------------------------------------------ npz
@pytest.mark.parametrize("saver", [np.savez, np.savez_compressed])
def test_plain_numpy_npz_readable(tmp_path, saver):
    d = sample_tensors()
    path = str(tmp_path / "m.npz")
    saver(path, **d)
    with open_source(path) as src:
        assert isinstance(src, NpzSource)
        assert_same(src, d)


@pytest.mark.parametrize("mmap", [True, False])
def test_npz_read_paths_agree(tmp_path, mmap):
    d = sample_tensors()
    path = str(tmp_path / "m.npz")
    np.savez(path, **d)
    with NpzSource(path, mmap=mmap) as src:
        assert_same(src, d)


def test_npz_listing_reads_no_data(tmp_path, monkeypatch):
    big = np.arange(1 << 20, dtype=np.float32)
    path = str(tmp_path / "big.npz")
    np.savez_compressed(path, big=big, small=np.zeros(3))
    src = NpzSource(path)
    monkeypatch.setattr(src, "_read", lambda name: pytest.fail("infos() read data"))
    # Count the bytes decompressed from the archive while listing.
    read_sizes = []
    orig_read = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):
        out = orig_read(self, n)
        read_sizes.append(len(out))
        return out

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    info = src.infos()
    assert info["big"].shape == (1 << 20,) and info["big"].dtype == "float32"
    assert sum(read_sizes) < 4096
    src.close()


def test_npz_object_member_rejected(tmp_path):
    path = str(tmp_path / "obj.npz")
    np.savez(path, ok=np.zeros(2), bad=np.array([{"x": 1}], dtype=object))
    src = NpzSource(path)
    with pytest.raises(ValueError, match=r"obj\.npz.*'bad'.*pickled"):
        src.infos()


def test_npz_string_member_reads_as_bytes(tmp_path):
    path = str(tmp_path / "s.npz")
    np.savez(path, u=np.array(["ab", "ç"]), b=np.array([b"x", b"yy"]))
    with NpzSource(path) as src:
        assert src.infos()["u"].dtype == "string"
        assert list(src.read("u")) == [b"ab", "ç".encode("utf-8")]
        assert list(src.read("b")) == [b"x", b"yy"]


def test_npz_big_endian_member_returned_native(tmp_path):
    path = str(tmp_path / "be.npz")
    np.savez(path, x=np.arange(4, dtype=">f4"))
    with NpzSource(path) as src:
        x = src.read("x")
    assert x.dtype == np.float32 and x.dtype.isnative
    np.testing.assert_array_equal(x, np.arange(4))


@pytest.mark.parametrize("cut", [10, 200, -30])
def test_truncated_npz_error_names_file(tmp_path, cut):
    path = str(tmp_path / "t.npz")
    np.savez(path, a=np.arange(100, dtype=np.float32), b=np.arange(50))
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[:cut])
    with pytest.raises(ValueError, match="t.npz"):
        with open_source(path) as src:
            for k in src:
                src.read(k)


def test_bitflip_in_npz_data_detected_without_mmap(tmp_path):
    path = str(tmp_path / "flip.npz")
    np.savez(path, a=np.arange(1000, dtype=np.float32))
    data = bytearray(open(path, "rb").read())
    data[2000] ^= 0x10
    open(path, "wb").write(bytes(data))
    with NpzSource(path, mmap=False) as src:
        with pytest.raises(ValueError, match="flip.npz"):
            src.read("a")


# ------------------------------------------------------------------------ dispatch
def test_open_source_missing_file(tmp_path):
    for name in ["nope.npz", "nope.safetensors", "nope.npy"]:
        with pytest.raises(FileNotFoundError, match=name):
            open_source(str(tmp_path / name))


def test_open_source_content_must_match_extension(tmp_path):
    p = tmp_path / "fake.npz"
    p.write_bytes(b"this is plain text, not a zip")
    with pytest.raises(ValueError, match=r"fake\.npz.*extension \.npz"):
        open_source(str(p))
    q = tmp_path / "really_npy.safetensors"
    np.save(str(tmp_path / "arr.npy"), np.zeros(2))
    q.write_bytes((tmp_path / "arr.npy").read_bytes())
    with pytest.raises(ValueError, match="a npy file"):
        open_source(str(q))


def test_open_source_unknown_file_lists_kinds(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.txt.*Supported:.*npz.*safetensors"):
        open_source(str(p))


def test_open_source_sniffs_npz_without_extension(tmp_path, logs):
    p = str(tmp_path / "weights.bin")
    with open(p, "wb") as f:
        np.savez(f, a=np.ones(3))
    with open_source(p) as src:
        np.testing.assert_array_equal(src.read("a"), np.ones(3))
    assert any("weights.bin" in m and "npz" in m for m in logs)


def test_open_source_pathlike(tmp_path):
    p = tmp_path / "m.npz"
    np.savez(str(p), a=np.ones(2))
    with open_source(p) as src:
        assert src.keys() == ["a"]


def test_checkpoint_package_does_not_import_tensorflow(tmp_path):
    import subprocess
    code = ("import numpy as np, sys\n"
            "from tensorpack.checkpoint.formats import open_source, save_tensors\n"
            "save_tensors(sys.argv[1], {'a': np.ones(2)})\n"
            "open_source(sys.argv[1]).read('a')\n"
            "assert 'tensorflow' not in sys.modules\n")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.npz")], check=True, cwd=repo,
                   env=dict(os.environ, PYTHONPATH=repo))


# ------------------------------------------------------------------------ save npz
def test_save_npz_round_trip_loads_with_plain_numpy(tmp_path):
    d = sample_tensors()
    out = save_tensors(str(tmp_path / "o.npz"), d)
    assert out == str(tmp_path / "o.npz")
    with np.load(out, allow_pickle=False) as z:
        assert sorted(z.files) == sorted(d)
        for k, v in d.items():
            np.testing.assert_array_equal(z[k], v)
            assert z[k].dtype == np.asarray(v).dtype
    with open_source(out) as src:
        assert_same(src, d)


def test_save_npz_streams_from_iterable_and_source(tmp_path):
    seen = []

    def gen():
        for i in range(3):
            seen.append(i)
            yield "t{}".format(i), np.full((4,), i, dtype=np.int32)

    out = save_tensors(str(tmp_path / "g.npz"), gen())
    assert seen == [0, 1, 2]
    out2 = save_tensors(str(tmp_path / "g2.npz"), open_source(out))
    with np.load(out2) as z:
        assert [int(z["t{}".format(i)][0]) for i in range(3)] == [0, 1, 2]


def test_save_npz_strings_round_trip(tmp_path):
    d = {"names": np.array([b"a", b"bcd"], dtype=object), "one": b"xyz"}
    out = save_tensors(str(tmp_path / "s.npz"), d)
    with open_source(out) as src:
        assert list(src.read("names")) == [b"a", b"bcd"]
        assert src.read("one")[()] == b"xyz"


def test_save_is_atomic_and_keeps_old_file_on_error(tmp_path):
    path = str(tmp_path / "keep.npz")
    np.savez(path, old=np.ones(2))

    def bad():
        yield "a", np.zeros(2)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        save_tensors(path, bad())
    with np.load(path) as z:
        assert z.files == ["old"]
    assert os.listdir(str(tmp_path)) == ["keep.npz"]


def test_save_refuses_to_overwrite_its_input(tmp_path):
    path = str(tmp_path / "in.npz")
    np.savez(path, a=np.ones(2))
    with pytest.raises(ValueError, match="input"):
        save_tensors(path, open_source(path))
    with np.load(path) as z:
        np.testing.assert_array_equal(z["a"], np.ones(2))


def test_save_overwrite_named_output_is_logged(tmp_path, logs):
    path = str(tmp_path / "out.npz")
    np.savez(path, old=np.ones(2))
    save_tensors(path, {"new": np.zeros(1)})
    with np.load(path) as z:
        assert z.files == ["new"]
    assert any("Overwriting" in m and "out.npz" in m for m in logs)


def test_save_rejects_duplicates_and_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="'a' appears twice"):
        save_tensors(str(tmp_path / "d.npz"), [("a", np.ones(1)), ("a", np.ones(1))])
    with pytest.raises(ValueError, match="Unknown output format"):
        save_tensors(str(tmp_path / "x.npz"), {"a": np.ones(1)}, fmt="hdf5")
    with pytest.raises(ValueError, match="pickle"):
        save_tensors(str(tmp_path / "x.npy"), {"a": np.ones(1)})
