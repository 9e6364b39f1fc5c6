"""Damaged and crafted npz / safetensors files: an error naming the file, never wrong values.

Each case here is a defect that once returned wrong values silently or escaped as an
undocumented exception type; the fuzz tests then mutate valid files at random.
"""
import json
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorpack.checkpoint import NpzSource, SafetensorsSource, open_source

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# What a reader may raise for a bad file; anything else escaping is a defect.
DOCUMENTED = (ValueError, OSError)


def _member_data_offset(path, member):
    """Byte offset in ``path`` where the stored member's bytes begin."""
    with zipfile.ZipFile(path) as zf:
        zinfo = zf.getinfo(member)
    with open(path, "rb") as f:
        f.seek(zinfo.header_offset)
        local = f.read(30)
    nlen, xlen = struct.unpack("<HH", local[26:30])
    return zinfo.header_offset + 30 + nlen + xlen


def _flip_bit(path, offset, bit=3):
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ (1 << bit)]))


def _read_all(path, **kw):
    with open_source(path, **kw) as src:
        return {k: np.array(src.read(k)) for k in src.keys()}


@pytest.fixture
def npz_w(tmp_path):
    path = str(tmp_path / "m.npz")
    w = np.random.RandomState(0).randn(256, 256).astype(np.float32)
    np.savez(path, W=w, b=np.arange(5, dtype=np.int64))
    return path, w


# ----------------------------------------------------------------------------- npz (D1)
@pytest.mark.parametrize("mmap", [True, False])
def test_npz_bit_flip_in_data_is_an_error(npz_w, mmap):
    path, _ = npz_w
    _flip_bit(path, _member_data_offset(path, "W.npy") + 100_000)
    with pytest.raises(zipfile.BadZipFile):
        np.load(path)["W"]  # the reference refuses it ...
    with NpzSource(path, mmap=mmap) as src:
        with pytest.raises(ValueError, match=r"m\.npz.*'W'.*CRC"):  # ... and so do we
            src.read("W")
        assert src.read("b").tolist() == list(range(5))  # intact members still read


def test_ls_checkpoint_check_reports_npz_bit_flip(npz_w):
    path, _ = npz_w
    _flip_bit(path, _member_data_offset(path, "W.npy") + 100_000)
    res = subprocess.run([sys.executable, "scripts/ls-checkpoint.py", path, "--check"],
                         cwd=REPO, capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    assert res.returncode != 0
    assert "CRC" in res.stderr and "m.npz" in res.stderr
    assert "Traceback" not in res.stderr
    assert "intact" not in res.stdout


def test_smartinit_refuses_npz_bit_flip(npz_w):
    tf = pytest.importorskip("tensorflow")
    from tensorpack.tfutils.sessinit import SmartInit
    path, _ = npz_w
    _flip_bit(path, _member_data_offset(path, "W.npy") + 1000)
    with tf.Graph().as_default():
        tf.compat.v1.get_variable("W", [256, 256])
        with tf.compat.v1.Session() as sess:
            with pytest.raises(ValueError, match="CRC"):
                SmartInit(path).init(sess)


def test_npz_unverified_member_mapped_once_verified(npz_w):
    path, w = npz_w
    with NpzSource(path) as src:
        assert isinstance(src.read("W"), np.ndarray)
        np.testing.assert_array_equal(src.read("W"), w)
        np.testing.assert_array_equal(src.read("W"), w)  # verified once, then cached


def test_npz_corrupt_compressed_member_is_value_error(tmp_path):
    path = str(tmp_path / "c.npz")
    np.savez_compressed(path, W=np.random.RandomState(1).randn(64, 64))
    _flip_bit(path, _member_data_offset(path, "W.npy") + 500)
    with pytest.raises(ValueError, match=r"c\.npz"):
        _read_all(path)


def test_npz_duplicate_member_resolves_as_np_load(tmp_path):
    path = str(tmp_path / "dup.npz")
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(path, "w") as zf:
            for value in (1.0, 2.0):
                with zf.open("x.npy", "w") as f:
                    np.lib.format.write_array(f, np.full(3, value))
    expected = np.load(path)["x"]
    assert _read_all(path)["x"].tolist() == expected.tolist() == [2.0] * 3


def test_npz_huge_declared_shape_refused_before_allocating(tmp_path):
    path = str(tmp_path / "huge.npz")
    header = {"descr": "<f4", "fortran_order": False, "shape": (1 << 20, 1 << 20)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("W.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, header)
            f.write(b"\0" * 64)
    for mmap in (True, False):
        with NpzSource(path, mmap=mmap) as src:
            assert src.infos()["W"].shape == (1 << 20, 1 << 20)  # listing is fine
            with pytest.raises(ValueError, match=r"huge\.npz.*declares"):
                src.read("W")


# ----------------------------------------------------------------------- safetensors (D4)
def _safetensors(path, entries, data, header_extra=None):
    header = dict(entries, **(header_extra or {}))
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    return path


LAYOUTS = {
    "gap": ({"a": [0, 8], "b": [12, 20]}, 20),
    "overlap": ({"a": [0, 8], "b": [4, 12]}, 12),
    "alias": ({"a": [0, 8], "b": [0, 8]}, 8),
    "trailing": ({"a": [0, 8], "b": [8, 16]}, 17),
    "leading": ({"a": [4, 12], "b": [12, 20]}, 20),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_safetensors_layout_validated_like_reference(tmp_path, layout):
    offsets, size = LAYOUTS[layout]
    entries = {k: {"dtype": "F32", "shape": [2], "data_offsets": v} for k, v in offsets.items()}
    path = _safetensors(str(tmp_path / "x.safetensors"), entries, bytes(size))
    with pytest.raises(ValueError, match=r"x\.safetensors"):
        SafetensorsSource(path)
    st_numpy = pytest.importorskip("safetensors.numpy")
    with pytest.raises(Exception):
        st_numpy.load_file(path)


def test_safetensors_inserted_byte_is_an_error(tmp_path):
    from tensorpack.checkpoint import save_tensors
    path = save_tensors(str(tmp_path / "s.safetensors"),
                        {"a": np.arange(4, dtype=np.float32), "b": np.ones(3, np.float32)})
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    with open(path, "wb") as f:
        f.write(raw[:8 + n + 5] + b"\x07" + raw[8 + n + 5:])
    with pytest.raises(ValueError, match="not fully covered"):
        SafetensorsSource(path)


@pytest.mark.parametrize("entry", [
    {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]},        # list as dtype
    {"dtype": {"a": 1}, "shape": [1], "data_offsets": [0, 4]},       # dict as dtype
    {"dtype": "F32", "shape": [1 << 40], "data_offsets": [0, 4]},    # huge shape
    {"dtype": "F32", "shape": "1", "data_offsets": [0, 4]},
    ["not", "a", "dict"],
])
def test_safetensors_bad_entries_are_value_errors(tmp_path, entry):
    path = _safetensors(str(tmp_path / "e.safetensors"), {"a": entry}, bytes(4))
    with pytest.raises(ValueError, match=r"e\.safetensors"):
        SafetensorsSource(path)


def test_safetensors_deeply_nested_header_is_value_error(tmp_path):
    text = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    path = str(tmp_path / "deep.safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
    with pytest.raises(ValueError, match=r"deep\.safetensors"):
        SafetensorsSource(path)


def test_ls_checkpoint_lists_float8_safetensors(tmp_path):
    path = _safetensors(str(tmp_path / "f8.safetensors"),
                        {"q": {"dtype": "F8_E4M3", "shape": [2, 2], "data_offsets": [0, 4]}},
                        bytes(4))
    res = subprocess.run([sys.executable, "scripts/ls-checkpoint.py", path], cwd=REPO,
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    assert "float8_e4m3fn" in res.stdout


# --------------------------------------------------------------------------- fuzzing
def _mutate(raw, data):
    """Apply one random mutation: flip bits, overwrite, insert, delete or truncate."""
    kind = data.draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
    pos = data.draw(st.integers(0, len(raw) - 1))
    b = bytearray(raw)
    if kind == "flip":
        b[pos] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "set":
        b[pos] = data.draw(st.integers(0, 255))
    elif kind == "insert":
        b[pos:pos] = bytes([data.draw(st.integers(0, 255))])
    elif kind == "delete":
        del b[pos]
    else:
        del b[pos:]
    return bytes(b), pos


_ORIGINAL = {"W": np.random.RandomState(2).randn(16, 8).astype(np.float32),
             "step": np.array(7, np.int64), "v": np.arange(6, dtype=np.float64)}
_FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    from tensorpack.checkpoint import save_tensors
    d = tmp_path_factory.mktemp("orig")
    out = {}
    np.savez(str(d / "a.npz"), **_ORIGINAL)
    np.savez_compressed(str(d / "c.npz"), **_ORIGINAL)
    save_tensors(str(d / "s.safetensors"), _ORIGINAL)
    save_tensors(str(d / "tf"), dict(_ORIGINAL, names=np.array([b"ab", b"c"], dtype=object)))
    for name in ("tf.index", "tf.data-00000-of-00001"):
        with open(str(d / name), "rb") as f:
            out[name] = f.read()
    for name in ("a.npz", "c.npz", "s.safetensors"):
        with open(str(d / name), "rb") as f:
            out[name] = f.read()
    return out


@pytest.mark.parametrize("name,mmap", [("a.npz", True), ("a.npz", False), ("c.npz", True)])
@_FUZZ
@given(data=st.data())
def test_fuzz_mutated_npz_errors_or_reads_back_equal(tmp_path, originals, name, mmap, data):
    path = str(tmp_path / name)
    with open(path, "wb") as f:
        f.write(_mutate(originals[name], data)[0])
    try:
        with NpzSource(path, mmap=mmap) as src:
            got = {k: np.array(src.read(k)) for k in src.keys()}
    except DOCUMENTED:
        return
    # zip has a CRC per member: whatever reads without an error is exactly what was saved.
    assert sorted(got) == sorted(_ORIGINAL)
    for k, v in _ORIGINAL.items():
        np.testing.assert_array_equal(got[k], v)


@_FUZZ
@given(data=st.data())
def test_fuzz_mutated_safetensors_errors_or_keeps_layout(tmp_path, originals, data):
    raw, pos = _mutate(originals["s.safetensors"], data)
    path = str(tmp_path / "s.safetensors")
    with open(path, "wb") as f:
        f.write(raw)
    try:
        with open_source(path) as src:
            got = {k: np.array(src.read(k)) for k in src.keys()}
    except DOCUMENTED:
        return
    # safetensors has no checksum, so a changed name or data byte cannot be noticed; but a
    # mutation inside the data can never shift, rename or reshape a tensor silently.
    if pos >= 8 + struct.unpack("<Q", originals["s.safetensors"][:8])[0]:
        assert {k: v.shape for k, v in got.items()} == {k: v.shape for k, v in _ORIGINAL.items()}


@pytest.mark.parametrize("part", ["tf.index", "tf.data-00000-of-00001"])
@_FUZZ
@given(data=st.data())
def test_fuzz_mutated_tf_checkpoint_errors_or_reads_back_equal(tmp_path, originals, part, data):
    for name in ("tf.index", "tf.data-00000-of-00001"):
        raw = _mutate(originals[name], data)[0] if name == part else originals[name]
        with open(str(tmp_path / name), "wb") as f:
            f.write(raw)
    try:
        with open_source(str(tmp_path / "tf")) as src:
            got = {k: src.read(k) for k in src.keys()}
    except DOCUMENTED:
        return
    # Every block of the index and every tensor carries a crc32c.
    expected = dict(_ORIGINAL, names=np.array([b"ab", b"c"], dtype=object))
    assert sorted(got) == sorted(expected)
    for k, v in expected.items():
        np.testing.assert_array_equal(got[k], v)
