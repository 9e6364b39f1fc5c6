"""TFCheckpointSource reads what TensorFlow writes, exactly as TensorFlow's reader does."""
import os
import shutil
import sys

import numpy as np
import pytest

from tensorpack.checkpoint import crc32c as crc_mod
from tensorpack.checkpoint import dtypes as dt_mod
from tensorpack.checkpoint.bundle import CorruptCheckpointError, TFCheckpointSource
from tensorpack.checkpoint.table import read_table

_HERE = os.path.dirname(os.path.abspath(__file__))


def _tf():
    """TensorFlow, or skip the calling test (the TF-free tests below still run)."""
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def F():
    _tf()
    if _HERE not in sys.path:
        sys.path.insert(0, _HERE)
    import tf_fixtures
    return tf_fixtures


@pytest.fixture(scope="module")
def arrays(F):
    return F.sample_arrays()


@pytest.fixture(scope="module")
def saver_ckpt(tmp_path_factory, arrays, F):
    return F.make_saver_checkpoint(str(tmp_path_factory.mktemp("saver")), arrays)


@pytest.fixture(scope="module")
def partitioned_ckpt(tmp_path_factory, F):
    return F.make_partitioned_checkpoint(str(tmp_path_factory.mktemp("part")))


@pytest.fixture(scope="module")
def sharded_ckpt(tmp_path_factory, F):
    return F.make_sharded_checkpoint(str(tmp_path_factory.mktemp("sharded")))


@pytest.fixture(scope="module")
def tf2_ckpt(tmp_path_factory, F):
    return F.make_tf2_checkpoint(str(tmp_path_factory.mktemp("tf2")))


def _same(ours, theirs, dtype):
    theirs = np.asarray(theirs)
    if ours.shape != theirs.shape:
        return False
    if dtype == "bfloat16":
        return np.array_equal(ours.astype(np.float32), theirs.astype(np.float32))
    if dtype == "string":
        return ours.dtype == object and list(ours.reshape(-1)) == list(theirs.reshape(-1))
    return ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


def _assert_matches_tf(prefix, names=None):
    reader = _tf().train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    with TFCheckpointSource(prefix) as src:
        infos = src.infos()
        assert sorted(infos) == sorted(names or shapes)
        for name, info in infos.items():
            key = src.raw_key(name)
            assert info.shape == tuple(shapes[key]), name
            tf_dtype = dtypes[key].name
            assert info.dtype == tf_dtype, name
            assert _same(src.read(name), reader.get_tensor(key), info.dtype), name


def test_every_dtype_matches_tf_reader(saver_ckpt, arrays):
    _assert_matches_tf(saver_ckpt)
    with TFCheckpointSource(saver_ckpt) as src:
        assert set(src.keys()) == set(arrays)
        for name, arr in arrays.items():
            got = src.read(name)
            assert got.shape == arr.shape, name
            if arr.dtype == object:
                assert got.dtype == object and list(got.reshape(-1)) == list(arr.reshape(-1))
            else:
                assert got.dtype == arr.dtype and np.array_equal(got, arr), name


def test_infos_read_no_data(saver_ckpt, monkeypatch):
    src = TFCheckpointSource(saver_ckpt)
    monkeypatch.setattr(src, "_read_bytes", lambda *a: pytest.fail("listing read data"))
    infos = src.infos()
    assert infos["v_string"].dtype == "string" and infos["v_string"].shape == (4,)
    assert infos["v_scalar"].shape == ()
    assert infos["v_bfloat16"].dtype == "bfloat16"
    assert src._files == {}


def test_bfloat16_without_ml_dtypes_is_exact_float32(saver_ckpt, arrays, monkeypatch):
    monkeypatch.setattr(dt_mod, "_bf16", None)
    with TFCheckpointSource(saver_ckpt) as src:
        got = src.read("v_bfloat16")
        assert src.infos()["v_bfloat16"].dtype == "bfloat16"
    assert got.dtype == np.float32
    assert np.array_equal(got, arrays["v_bfloat16"].astype(np.float32))


def test_numpy_crc_backend_reads_the_same(saver_ckpt, arrays, monkeypatch):
    monkeypatch.setattr(crc_mod, "_impl", crc_mod.numpy_crc32c)
    with TFCheckpointSource(saver_ckpt) as src:
        assert np.array_equal(src.read("scope/inner/W"), arrays["scope/inner/W"])


def test_close_releases_and_reopens(saver_ckpt):
    src = TFCheckpointSource(saver_ckpt)
    src.read("v_float32")
    src.read("v_int64")
    assert len(src._files) == 1  # one handle per shard
    f = next(iter(src._files.values()))
    src.close()
    assert f.closed and src._files == {}
    src.read("v_float32")  # reopened lazily
    src.close()


def test_missing_index_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="model-1.index"):
        TFCheckpointSource(str(tmp_path / "model-1"))


def test_unknown_tensor_is_key_error(saver_ckpt):
    with TFCheckpointSource(saver_ckpt) as src, pytest.raises(KeyError, match="nope"):
        src.read("nope")


def test_partitioned_variable_is_assembled(partitioned_ckpt):
    _assert_matches_tf(partitioned_ckpt)
    with TFCheckpointSource(partitioned_ckpt) as src:
        assert src.keys() == ["part", "plain"]
        assert src.infos()["part"].shape == (10, 4)
        # The binary slice keys exist in the index but are not listed.
        with open(partitioned_ckpt + ".index", "rb") as f:
            keys = [k for k, _ in read_table(f.read())]
        assert sum(k[:1] == b"\x00" for k in keys) == 3


def test_sharded_checkpoint(sharded_ckpt):
    assert os.path.exists(sharded_ckpt + ".data-00001-of-00002")
    _assert_matches_tf(sharded_ckpt)
    with TFCheckpointSource(sharded_ckpt) as src:
        assert src.num_shards == 2
        for i in range(4):
            assert np.array_equal(src.read("s%d" % i),
                                  np.arange(6, dtype=np.float32).reshape(2, 3) + i)
        assert len(src._files) == 2


def test_tf2_object_checkpoint(tf2_ckpt):
    reader = _tf().train.load_checkpoint(tf2_ckpt)
    with TFCheckpointSource(tf2_ckpt) as src:
        names = src.keys()
        assert names == ["model/b", "model/layers/0", "model/w", "optimizer/iterations",
                         "save_counter"]
        assert "_CHECKPOINTABLE_OBJECT_GRAPH" not in src
        assert src.raw_key("model/w") == "model/w/.ATTRIBUTES/VARIABLE_VALUE"
        for name in names:
            assert np.array_equal(src.read(name), reader.get_tensor(src.raw_key(name)))
        # The stored key is accepted too.
        assert np.array_equal(src.read("model/w/.ATTRIBUTES/VARIABLE_VALUE"),
                              np.arange(6, dtype=np.float32).reshape(3, 2))
        assert src.object_full_names() == {
            "model/w": "dense/kernel", "model/b": "dense/bias", "model/layers/0": "extra",
            "optimizer/iterations": "iter", "save_counter": "save_counter"}


def test_tf1_checkpoint_has_no_full_names(saver_ckpt):
    with TFCheckpointSource(saver_ckpt) as src:
        assert src.object_full_names() == {}


# ---------------------------------------------------------------------------- corruption

def _copy(prefix, dst):
    os.makedirs(dst, exist_ok=True)
    base = os.path.basename(prefix)
    for name in os.listdir(os.path.dirname(prefix)):
        if name.startswith(base + "."):
            shutil.copy(os.path.join(os.path.dirname(prefix), name), os.path.join(dst, name))
    return os.path.join(dst, base)


def _flip(path, offset, bit=0x10):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)[0]
        f.seek(offset)
        f.write(bytes((b ^ bit,)))


def _read_all(prefix, verify=True):
    with TFCheckpointSource(prefix, verify=verify) as src:
        for name in src.keys():
            src.read(name)
        src.object_full_names()


def test_flipped_bit_in_index(saver_ckpt, tmp_path):
    p = _copy(saver_ckpt, str(tmp_path))
    _flip(p + ".index", 20)
    with pytest.raises(CorruptCheckpointError, match=r"model-7\.index.*checksum"):
        TFCheckpointSource(p)


def test_flipped_bit_in_data_names_file_and_tensor(saver_ckpt, tmp_path):
    p = _copy(saver_ckpt, str(tmp_path))
    with TFCheckpointSource(saver_ckpt) as src:
        e = src._entry("scope/inner/W")
    _flip(p + ".data-00000-of-00001", e.offset + 3)
    with TFCheckpointSource(p) as src:
        src.read("v_float32")  # other tensors still read
        with pytest.raises(CorruptCheckpointError,
                           match=r"data-00000-of-00001.*scope/inner/W.*checksum"):
            src.read("scope/inner/W")
    with TFCheckpointSource(p, verify=False) as src:
        src.read("scope/inner/W")  # verification can be skipped


def test_flipped_bit_in_string_data(saver_ckpt, tmp_path):
    p = _copy(saver_ckpt, str(tmp_path))
    with TFCheckpointSource(saver_ckpt) as src:
        e = src._entry("v_string")
    _flip(p + ".data-00000-of-00001", e.offset + e.size - 1)
    with TFCheckpointSource(p) as src, pytest.raises(CorruptCheckpointError, match="v_string"):
        src.read("v_string")


@pytest.mark.parametrize("keep", [0, 10, 47, -60, -1])
def test_truncated_index(saver_ckpt, tmp_path, keep):
    p = _copy(saver_ckpt, str(tmp_path))
    with open(p + ".index", "rb") as f:
        data = f.read()
    with open(p + ".index", "wb") as f:
        f.write(data[:keep] if keep >= 0 else data[:len(data) + keep])
    with pytest.raises(CorruptCheckpointError, match=r"model-7\.index"):
        TFCheckpointSource(p)


def test_truncated_data(saver_ckpt, tmp_path):
    p = _copy(saver_ckpt, str(tmp_path))
    data_path = p + ".data-00000-of-00001"
    os.truncate(data_path, os.path.getsize(data_path) - 10)
    with TFCheckpointSource(p) as src:
        last = max(src.keys(), key=lambda n: src._entry(src.raw_key(n)).offset)
        with pytest.raises(CorruptCheckpointError, match=r"data-00000-of-00001.*truncated"):
            src.read(last)


def test_missing_data_shard(sharded_ckpt, tmp_path):
    p = _copy(sharded_ckpt, str(tmp_path))
    os.remove(p + ".data-00001-of-00002")
    with pytest.raises(CorruptCheckpointError, match=r"data-00001-of-00002.*missing"):
        TFCheckpointSource(p)


@pytest.mark.parametrize("content", [b"", b"hello world", os.urandom(300), b"\x00" * 48])
def test_garbage_index(tmp_path, content):
    p = str(tmp_path / "junk")
    with open(p + ".index", "wb") as f:
        f.write(content)
    with pytest.raises(CorruptCheckpointError, match=r"junk\.index"):
        TFCheckpointSource(p)


@pytest.mark.parametrize("verify", [True, False])
def test_every_single_byte_corruption_is_reported_cleanly(partitioned_ckpt, tmp_path, verify):
    """Any flipped byte in the index gives success or CorruptCheckpointError, never a crash."""
    with open(partitioned_ckpt + ".index", "rb") as f:
        good = f.read()
    p = _copy(partitioned_ckpt, str(tmp_path))
    for i in range(len(good)):
        bad = bytearray(good)
        bad[i] ^= 0xFF if i % 2 else 0x01
        with open(p + ".index", "wb") as f:
            f.write(bad)
        try:
            _read_all(p, verify=verify)
        except CorruptCheckpointError:
            pass
        except (KeyError, ValueError) as e:
            # Only a damaged name (a listed key that no longer exists) or an unknown dtype
            # may surface as a plain lookup/type error; never IndexError/struct.error.
            assert verify is False, (i, e)


def test_concurrent_reads_share_one_handle(sharded_ckpt):
    from concurrent.futures import ThreadPoolExecutor
    with TFCheckpointSource(sharded_ckpt) as src:
        names = src.keys() * 20
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(src.read, names))
        assert len(src._files) == 2
    for name, arr in zip(names, results):
        i = int(name[1:])
        assert np.array_equal(arr, np.arange(6, dtype=np.float32).reshape(2, 3) + i)


# ---------------------------------------------------------------------------- TF-free units

from tensorpack.checkpoint import orderedcode as oc  # noqa: E402
from tensorpack.checkpoint import objgraph as og  # noqa: E402
from tensorpack.utils import protobuf_wire as wire  # noqa: E402
from tensorpack.checkpoint.bundle_writer import HEADER, encode_entry  # noqa: E402
from tensorpack.checkpoint.table import TableBuilder, TableError  # noqa: E402


def test_signed_num_increasing_known_bytes_and_roundtrip():
    known = {0: "80", 4: "84", -1: "7f", 100: "c064", 200: "c0c8", 250: "c0fa"}
    for v, hexed in known.items():
        assert oc.encode_signed_num_increasing(v).hex() == hexed
    rng = np.random.default_rng(0)
    values = [0, 63, 64, -64, -65, 2 ** 13, -2 ** 13 - 1, 2 ** 55, 2 ** 56, 2 ** 63 - 1, -2 ** 63]
    values += [int(x) >> int(s) for x, s in zip(rng.integers(-2 ** 63, 2 ** 63 - 1, 2000),
                                                  rng.integers(0, 63, 2000))]
    encoded = [oc.encode_signed_num_increasing(v) for v in values]
    for v, e in zip(values, encoded):
        assert oc.decode_signed_num_increasing(e + b"\x00", 0) == (v, len(e))
    # The encoding preserves order under byte comparison.
    assert sorted(encoded) == [oc.encode_signed_num_increasing(v) for v in sorted(values)]


def test_slice_key_known_bytes_and_escapes():
    assert oc.encode_slice_key("part", [4, 0], [3, 4]).hex() == \
        "00" + b"part".hex() + "0001" + "0102" + "8483" + "8084"
    name = b"a\x00b\xffc"
    assert oc.decode_slice_key(oc.encode_slice_key(name, [0, 7], [-1, 2])) == \
        (name, [0, 7], [-1, 2])


def test_wire_errors_are_value_errors():
    with pytest.raises(wire.WireError):
        wire.read_varint(b"\x80\x80", 0)
    with pytest.raises(wire.WireError):
        wire.read_varint(b"\xff" * 11, 0)
    with pytest.raises(wire.WireError):
        list(wire.iter_fields(b"\x12\x05ab"))
    assert wire.read_varint(wire.encode_varint(2 ** 63 + 5), 0) == (2 ** 63 + 5, 10)
    assert wire.signed64(wire.read_varint(wire.encode_varint(-3), 0)[0]) == -3


def test_table_roundtrip_and_block_structure():
    rng = np.random.default_rng(1)
    keys = sorted({bytes(rng.integers(0, 256, int(rng.integers(1, 40)), dtype=np.uint8))
                   for _ in range(3000)})
    tb = TableBuilder(block_size=4096)
    entries = [(k, bytes(rng.integers(0, 256, int(rng.integers(0, 60)), dtype=np.uint8)))
               for k in keys]
    for k, v in entries:
        tb.add(k, v)
    data = tb.finish()
    assert read_table(data) == entries
    with pytest.raises(ValueError, match="increasing"):
        tb2 = TableBuilder()
        tb2.add(b"b", b"")
        tb2.add(b"a", b"")


def test_table_rejects_compressed_or_bad_magic():
    tb = TableBuilder()
    tb.add(b"", b"x")
    data = bytearray(tb.finish())
    with pytest.raises(TableError, match="magic"):
        read_table(bytes(data[:-1]) + b"\x00")


def _objgraph_bytes():
    """A TrackableObjectGraph like TF's: root -> model -> w, and save_counter."""
    def ref(node, name):
        return wire.field_varint(1, node) + wire.field_bytes(2, name.encode())

    def attr(full, key):
        return (wire.field_bytes(1, b"VARIABLE_VALUE") + wire.field_bytes(2, full.encode())
                + wire.field_bytes(3, key.encode()))
    root = wire.field_bytes(1, ref(1, "model")) + wire.field_bytes(1, ref(2, "save_counter"))
    model = wire.field_bytes(1, ref(3, "w"))
    counter = wire.field_bytes(2, attr("save_counter", "save_counter" + og.VARIABLE_SUFFIX))
    w = wire.field_bytes(2, attr("dense/kernel", "model/w" + og.VARIABLE_SUFFIX))
    return b"".join(wire.field_bytes(1, n) for n in (root, model, counter, w))


def test_objgraph_decodes_children_and_full_names():
    nodes = og.parse_object_graph(_objgraph_bytes())
    assert nodes[0].children == [(1, "model"), (2, "save_counter")]
    assert og.checkpoint_key_full_names(_objgraph_bytes()) == {
        "save_counter/.ATTRIBUTES/VARIABLE_VALUE": "save_counter",
        "model/w/.ATTRIBUTES/VARIABLE_VALUE": "dense/kernel"}


def _write_raw_bundle(prefix, entries, data):
    """Write a bundle from hand-made entries (to build layouts our writer does not make)."""
    tb = TableBuilder()
    tb.add(b"", HEADER)
    for key in sorted(entries):
        tb.add(key, entries[key])
    with open(prefix + ".data-00000-of-00001", "wb") as f:
        f.write(data)
    with open(prefix + ".index", "wb") as f:
        f.write(tb.finish())


def _slice_proto(starts, lengths):
    ext = b""
    for s, n in zip(starts, lengths):
        body = wire.field_varint(1, s) + (wire.field_varint(2, n, keep_zero=True)
                                          if n is not None else b"")
        ext += wire.field_bytes(1, body)
    return wire.field_bytes(7, ext)


def test_hand_built_partitioned_and_tf2_bundle_without_tf(tmp_path):
    full = np.arange(40, dtype=np.float32).reshape(10, 4)
    pieces = [(0, 4), (4, 3), (7, 3)]
    entries, data = {}, b""
    full_entry = encode_entry(1, (10, 4))
    for start, n in pieces:
        chunk = full[start:start + n].tobytes()
        # The second slice omits the column extent's length: "full extent" (-1 in the key).
        lengths = [n, None if start == 4 else 4]
        full_entry += _slice_proto([start, 0], lengths)
        key = oc.encode_slice_key("model/w" + og.VARIABLE_SUFFIX, [start, 0],
                                  [n, -1 if start == 4 else 4])
        entries[key] = encode_entry(1, (n, 4), 0, len(data), len(chunk),
                                    crc_mod.mask(crc_mod.crc32c(chunk)))
        data += chunk
    entries[("model/w" + og.VARIABLE_SUFFIX).encode()] = full_entry
    graph = _objgraph_bytes()
    strings = wire.encode_varint(len(graph))
    lcrc = crc_mod.crc32c(len(graph).to_bytes(4, "little"))
    payload = strings + crc_mod.mask(lcrc).to_bytes(4, "little") + graph
    crc = crc_mod.crc32c(payload[len(strings):], lcrc)
    entries[og.OBJECT_GRAPH_KEY.encode()] = encode_entry(7, (), 0, len(data), len(payload),
                                                         crc_mod.mask(crc))
    data += payload
    prefix = str(tmp_path / "hand")
    _write_raw_bundle(prefix, entries, data)
    with TFCheckpointSource(prefix) as src:
        assert src.keys() == ["model/w"]
        assert src.infos()["model/w"].shape == (10, 4)
        assert np.array_equal(src.read("model/w"), full)
        assert src.object_full_names() == {"model/w": "dense/kernel"}


def test_missing_slice_is_corrupt(tmp_path):
    entries = {b"x": encode_entry(1, (4,)) + _slice_proto([0], [2])}
    prefix = str(tmp_path / "m")
    _write_raw_bundle(prefix, entries, b"")
    with TFCheckpointSource(prefix) as src, pytest.raises(CorruptCheckpointError,
                                                          match="listed but not stored"):
        src.read("x")


def test_size_mismatch_is_corrupt(tmp_path):
    entries = {b"x": encode_entry(1, (4,), 0, 0, 12, 0)}
    prefix = str(tmp_path / "m")
    _write_raw_bundle(prefix, entries, b"\x00" * 16)
    with TFCheckpointSource(prefix) as src, pytest.raises(CorruptCheckpointError,
                                                          match="needs 16"):
        src.read("x")


def test_wrong_big_file_is_rejected_by_its_footer(tmp_path, monkeypatch):
    p = str(tmp_path / "big")
    with open(p + ".index", "wb") as f:
        f.write(b"\x01" * (1 << 20))
    import builtins
    real_open = builtins.open
    sizes = []

    class Spy:
        def __init__(self, f):
            self.f = f

        def read(self, n=-1):
            out = self.f.read(n)
            sizes.append(len(out))
            return out

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

    monkeypatch.setattr(builtins, "open", lambda *a, **k: Spy(real_open(*a, **k)))
    with pytest.raises(CorruptCheckpointError, match="magic"):
        TFCheckpointSource(p)
    assert max(sizes) <= 48


def test_fields_of_the_wrong_wire_type_are_corrupt(tmp_path):
    prefix = str(tmp_path / "m")
    # A slice whose extent is a varint instead of a nested message.
    _write_raw_bundle(prefix, {b"x": encode_entry(1, (4,)) + b"\x3a\x02\x08\x05"}, b"")
    with TFCheckpointSource(prefix) as src, pytest.raises(CorruptCheckpointError,
                                                          match="nested message"):
        src.read("x")
    # A header whose version is a varint instead of a VersionDef.
    tb = TableBuilder()
    tb.add(b"", b"\x08\x01\x18\x01")
    with open(prefix + ".index", "wb") as f:
        f.write(tb.finish())
    with pytest.raises(CorruptCheckpointError, match="bad bundle header"):
        TFCheckpointSource(prefix)


def test_partitioned_entry_with_huge_declared_shape_allocates_nothing(partitioned_ckpt, tmp_path):
    """A crafted index declares the partitioned tensor 1 GiB large; its slices hold 40 floats.
    The reader must refuse before allocating the declared size (it used to allocate it and
    return uninitialised memory around the slices)."""
    import tracemalloc

    from tensorflow.core.protobuf import tensor_bundle_pb2

    from tensorpack.checkpoint.table import TableBuilder
    with open(partitioned_ckpt + ".index", "rb") as f:
        table = read_table(f.read())
    builder = TableBuilder()
    for key, value in table:
        if key == b"part":
            entry = tensor_bundle_pb2.BundleEntryProto.FromString(value)
            entry.shape.dim[1].size = 1 << 26  # [10, 2^26] float32: 2.5 GiB
            value = entry.SerializeToString()
        builder.add(key, value)
    prefix = str(tmp_path / "crafted")
    with open(prefix + ".index", "wb") as f:
        f.write(builder.finish())
    shutil.copyfile(partitioned_ckpt + ".data-00000-of-00001", prefix + ".data-00000-of-00001")
    tracemalloc.start()
    try:
        with TFCheckpointSource(prefix) as src:
            with pytest.raises(CorruptCheckpointError, match="crafted.*part"):
                src.read("part")
            assert src.read("plain").tolist() == [1.0, 1.0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
