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

tf = pytest.importorskip("tensorflow")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tf_fixtures as F  # noqa: E402


@pytest.fixture(scope="module")
def arrays():
    return F.sample_arrays()


@pytest.fixture(scope="module")
def saver_ckpt(tmp_path_factory, arrays):
    return F.make_saver_checkpoint(str(tmp_path_factory.mktemp("saver")), arrays)


@pytest.fixture(scope="module")
def partitioned_ckpt(tmp_path_factory):
    return F.make_partitioned_checkpoint(str(tmp_path_factory.mktemp("part")))


@pytest.fixture(scope="module")
def sharded_ckpt(tmp_path_factory):
    return F.make_sharded_checkpoint(str(tmp_path_factory.mktemp("sharded")))


@pytest.fixture(scope="module")
def tf2_ckpt(tmp_path_factory):
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
    reader = tf.train.load_checkpoint(prefix)
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
    reader = tf.train.load_checkpoint(tf2_ckpt)
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
