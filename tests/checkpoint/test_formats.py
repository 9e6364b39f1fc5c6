"""Non-TF formats: dict, npz, legacy npy, safetensors; the dispatcher and the streaming writer."""
import json
import os
import struct
import sys
import zipfile

import numpy as np
import pytest

from tensorpack.checkpoint.formats import (DictSource, NpySource, NpzSource, SafetensorsSource,
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


# ------------------------------------------------------------------------ legacy npy
def _legacy_npy(tmp_path, d):
    path = str(tmp_path / "legacy.npy")
    np.save(path, d, allow_pickle=True)
    return path


def test_legacy_npy_refused_without_opt_in(tmp_path):
    path = _legacy_npy(tmp_path, {"a": np.ones(2)})
    for opener in (lambda: open_source(path), lambda: NpySource(path)):
        with pytest.raises(ValueError) as e:
            opener()
        msg = str(e.value)
        assert "legacy.npy" in msg and "pickle" in msg
        assert "allow_pickle=True" in msg and "--allow-pickle" in msg and "code" in msg


def test_legacy_npy_read_with_opt_in(tmp_path):
    d = sample_tensors()
    path = _legacy_npy(tmp_path, d)
    with open_source(path, allow_pickle=True) as src:
        assert isinstance(src, NpySource)
        assert_same(src, d)


def test_plain_npy_array_is_not_a_dict(tmp_path):
    path = str(tmp_path / "arr.npy")
    np.save(path, np.zeros(3))
    with pytest.raises(ValueError, match=r"arr\.npy.*single"):
        open_source(path)


def test_npy_pickle_not_a_dict(tmp_path):
    path = str(tmp_path / "list.npy")
    np.save(path, np.array([[1], "x"], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"list\.npy.*not a dict"):
        NpySource(path, allow_pickle=True)


# ------------------------------------------------------------------------ safetensors
def test_safetensors_round_trip_and_package_reads_ours(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    from safetensors import safe_open
    d = sample_tensors()
    path = save_tensors(str(tmp_path / "o.safetensors"), d)
    with open_source(path) as src:
        assert isinstance(src, SafetensorsSource)
        assert_same(src, d)
    loaded = st.load_file(path)
    assert sorted(loaded) == sorted(d)
    for k, v in d.items():
        np.testing.assert_array_equal(loaded[k], v)
        assert loaded[k].shape == np.shape(v) and loaded[k].dtype == np.asarray(v).dtype
    with safe_open(path, framework="np") as f:
        np.testing.assert_array_equal(f.get_tensor("conv1/W:0"), d["conv1/W:0"])


def test_safetensors_written_by_package_readable(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    # The package writes raw memory, so give it C-ordered arrays (keeping 0-d shapes).
    d = {k: np.array(v, order="C") for k, v in sample_tensors().items()}
    d["c64"] = np.array([1 + 2j, -3j], dtype=np.complex64)
    path = str(tmp_path / "pkg.safetensors")
    st.save_file(d, path, metadata={"format": "np", "step": "7"})
    with SafetensorsSource(path) as src:
        assert src.metadata == {"format": "np", "step": "7"}
        assert src.infos()["c64"].dtype == "complex64"
        assert_same(src, d)


def test_safetensors_listing_reads_no_data(tmp_path, monkeypatch):
    path = save_tensors(str(tmp_path / "l.safetensors"), {"w": np.ones((64, 64), np.float32)})
    src = SafetensorsSource(path)
    monkeypatch.setattr(src, "_read", lambda name: pytest.fail("infos() read data"))
    assert src.infos()["w"] == ("w", (64, 64), "float32")
    src.close()


def test_safetensors_bfloat16(tmp_path, monkeypatch):
    ml = pytest.importorskip("ml_dtypes")
    from tensorpack.checkpoint import formats_safetensors as fst
    vals = np.array([1.0, -2.5, 3.140625, np.inf, np.nan], dtype=ml.bfloat16)
    path = save_tensors(str(tmp_path / "bf.safetensors"), {"bf": vals})
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    assert json.loads(raw[8:8 + n])["bf"]["dtype"] == "BF16"
    assert raw[8 + n:] == vals.view(np.uint16).astype("<u2").tobytes()
    with SafetensorsSource(path) as src:
        assert src.infos()["bf"].dtype == "bfloat16"
        got = src.read("bf")
        assert got.dtype == ml.bfloat16
        np.testing.assert_array_equal(got.view(np.uint16), vals.view(np.uint16))
    # Without ml_dtypes: an exact float32 upcast, and writing it back gives the same bits.
    monkeypatch.setattr(fst, "_ml_dtypes", lambda: None)
    with SafetensorsSource(path) as src:
        up = src.read("bf")
        assert up.dtype == np.float32
        np.testing.assert_array_equal(up, vals.astype(np.float32))
        path2 = save_tensors(str(tmp_path / "bf2.safetensors"), src)
    assert open(path2, "rb").read() == raw


def test_bf16_rounding_to_nearest_even():
    from tensorpack.checkpoint.formats_safetensors import bf16_to_bits
    # 1 + 2^-8 is halfway between bf16 1.0 and 1+2^-7: ties go to even (1.0).
    x = np.array([1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, np.nan, -np.inf], dtype=np.float32)
    bits = bf16_to_bits(x)
    assert bits[0] == 0x3F80 and bits[1] == 0x3F82 and bits[3] == 0xFF80
    assert (bits[2] & 0x7F80) == 0x7F80 and (bits[2] & 0x7F) != 0


def test_safetensors_rejects_strings_naming_tensor(tmp_path):
    with pytest.raises(ValueError, match="'names'.*strings"):
        save_tensors(str(tmp_path / "s.safetensors"), {"ok": np.ones(1), "names": [b"a"]})
    with pytest.raises(ValueError, match="'names'.*strings"):
        save_tensors(str(tmp_path / "s.safetensors"), iter([("names", np.array(["a"]))]))
    with pytest.raises(ValueError, match="'c'.*complex128"):
        save_tensors(str(tmp_path / "s.safetensors"), {"c": np.ones(1, np.complex128)})
    assert not os.listdir(str(tmp_path))


def test_safetensors_from_iterable_streams(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    items = (("layer{}/W".format(i), np.full((3, i), i, np.float32)) for i in range(4))
    path = save_tensors(str(tmp_path / "it.safetensors"), items)
    loaded = st.load_file(path)
    assert sorted(loaded) == ["layer{}/W".format(i) for i in range(4)]
    assert loaded["layer2/W"].shape == (3, 2) and loaded["layer0/W"].shape == (3, 0)
    assert [f for f in os.listdir(str(tmp_path))] == ["it.safetensors"]


def _corrupt(path, how):
    raw = bytearray(open(path, "rb").read())
    n = struct.unpack("<Q", raw[:8])[0]
    if how == "truncated":
        return bytes(raw[:-5])
    if how == "short":
        return bytes(raw[:5])
    if how == "huge_len":
        return struct.pack("<Q", 1 << 40) + bytes(raw[8:])
    if how == "bad_json":
        raw[9] = ord("#")
        return bytes(raw)
    header = json.loads(raw[8:8 + n])
    if how == "bad_offsets":
        header["a"]["data_offsets"] = [0, 3]
    elif how == "bad_dtype":
        header["a"]["dtype"] = "Q7"
    elif how == "bad_shape":
        header["a"]["shape"] = [-1]
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + bytes(raw[8 + n:])


@pytest.mark.parametrize("how", ["truncated", "short", "huge_len", "bad_json", "bad_offsets",
                                 "bad_dtype", "bad_shape"])
def test_corrupt_safetensors_clear_error(tmp_path, how):
    good = save_tensors(str(tmp_path / "good.safetensors"),
                        {"a": np.arange(10, dtype=np.float32), "b": np.ones(3)})
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(_corrupt(good, how))
    with pytest.raises(ValueError, match=r"bad\.safetensors"):
        with SafetensorsSource(str(bad)) as src:
            for k in src:
                src.read(k)


def test_safetensors_iterable_with_infos_any_order(tmp_path, monkeypatch):
    st = pytest.importorskip("safetensors.numpy")
    import tempfile
    d = {"b": np.arange(5, dtype=np.int32), "a": np.ones((2, 2), np.float64), "c": np.float16(2)}
    infos = DictSource(d).infos()  # sorted a, b, c; we yield c, a, b
    monkeypatch.setattr(tempfile, "TemporaryFile",
                        lambda *a, **k: pytest.fail("spooled although infos were given"))
    path = save_tensors(str(tmp_path / "i.safetensors"),
                        iter([("c", d["c"]), ("a", d["a"]), ("b", d["b"])]), infos=infos)
    loaded = st.load_file(path)
    for k, v in d.items():
        np.testing.assert_array_equal(loaded[k], v)
    # Same bytes as writing the dict directly.
    assert open(path, "rb").read() == open(
        save_tensors(str(tmp_path / "j.safetensors"), d), "rb").read()


def test_safetensors_infos_mismatch_errors(tmp_path):
    infos = DictSource({"a": np.ones(2), "b": np.ones(2)}).infos()
    out = str(tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match="'zz' was not announced"):
        save_tensors(out, iter([("zz", np.ones(2))]), infos=infos)
    with pytest.raises(ValueError, match=r"\['b'\].*never given"):
        save_tensors(out, iter([("a", np.ones(2))]), infos=infos)
    with pytest.raises(ValueError, match="'a' was listed with shape"):
        save_tensors(out, iter([("a", np.ones(3)), ("b", np.ones(2))]), infos=infos)
    assert not os.listdir(str(tmp_path))


def test_open_source_accepts_mapping(tmp_path):
    path = str(tmp_path / "m.npz")
    np.savez(path, a=np.arange(3))
    with np.load(path) as z:
        src = open_source(z)
        assert isinstance(src, DictSource)
        np.testing.assert_array_equal(src.read("a"), np.arange(3))


@pytest.mark.parametrize("name", ["p.npz", "p.safetensors"])
def test_written_files_get_normal_permissions(tmp_path, name):
    mask = os.umask(0o022)
    try:
        path = save_tensors(str(tmp_path / name), {"a": np.ones(2)})
    finally:
        os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o644


def test_npz_read_after_close_is_clear(tmp_path):
    path = str(tmp_path / "c.npz")
    np.savez(path, a=np.ones(3))
    src = NpzSource(path)
    src.infos()
    src.close()
    src.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        src.read("a")
