"""Serializers and file-format readers: round trips, upstream's layout, clear errors on bad
files, and no unpickling unless asked."""
import os
import pickle

import numpy as np
import pytest

from tensorpack.dataflow import (CaffeLMDB, DataFromList, HDF5Data, HDF5Serializer, LMDBData,
                                 LMDBDataDecoder, LMDBSerializer, NumpySerializer, SVMLightData,
                                 TFRecordSerializer)
from tensorpack.utils.serialize import dumps, loads

lmdb = pytest.importorskip("lmdb")
h5py = pytest.importorskip("h5py")


def points(n=12):
    return [[np.full((2, 3), i, np.uint8), i, "name{}".format(i)] for i in range(n)]


def source(n=12):
    return DataFromList(points(n), shuffle=False)


def collect(df):
    df.reset_state()
    return [dp for dp in df]  # list() would ask for a length first


def assert_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g[0], w[0])
        assert g[1:] == w[1:]


def by_label(dps):
    return sorted(dps, key=lambda dp: dp[1])


# ----------------------------------------------------------------------------- LMDB
@pytest.mark.parametrize("as_dir", [False, True])
def test_lmdb_round_trip(tmp_path, as_dir):
    path = str(tmp_path / ("db" if as_dir else "db.lmdb"))
    if as_dir:
        os.mkdir(path)
    LMDBSerializer.save(source(), path)
    assert not [n for n in os.listdir(tmp_path) if "incomplete" in n]
    assert_same(collect(LMDBSerializer.load(path, shuffle=False)), points())
    shuffled = collect(LMDBSerializer.load(path, shuffle=True))
    assert_same(by_label(shuffled), points())


def test_lmdb_layout_matches_upstream(tmp_path):
    path = str(tmp_path / "db.lmdb")
    LMDBSerializer.save(source(3), path, write_frequency=2)
    env = lmdb.open(path, subdir=False, readonly=True, lock=False)
    with env.begin() as txn:
        keys = [k for k, _ in txn.cursor()]
        assert keys == [b"00000000", b"00000001", b"00000002", b"__keys__"]
        assert loads(txn.get(b"__keys__")) == [b"00000000", b"00000001", b"00000002"]
        assert loads(txn.get(b"00000001"))[1] == 1
    env.close()
    data = LMDBData(path, shuffle=True)
    assert len(data) == 3
    decoded = LMDBDataDecoder(data, lambda k, v: [k, loads(v)[1]])
    assert sorted(collect(decoded)) == [[b"00000000", 0], [b"00000001", 1], [b"00000002", 2]]


def test_lmdb_refuses_to_overwrite(tmp_path):
    path = str(tmp_path / "db.lmdb")
    LMDBSerializer.save(source(2), path)
    with pytest.raises(FileExistsError, match="db.lmdb"):
        LMDBSerializer.save(source(2), path)


def write_upstream_style_pickle_lmdb(path):
    env = lmdb.open(path, subdir=False, map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(b"00000000", pickle.dumps([np.arange(3), 7], protocol=-1))
        txn.put(b"__keys__", pickle.dumps([b"00000000"], protocol=-1))
    env.close()


def test_lmdb_with_pickled_values_needs_explicit_opt_in(tmp_path):
    path = str(tmp_path / "upstream.lmdb")
    write_upstream_style_pickle_lmdb(path)
    with pytest.raises(ValueError, match="allow_pickle=True"):
        collect(LMDBSerializer.load(path, shuffle=False))
    got = collect(LMDBSerializer.load(path, shuffle=True, allow_pickle=True))
    assert got[0][1] == 7


def test_lmdb_missing_and_corrupt(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere"):
        LMDBSerializer.load(str(tmp_path / "nothere.lmdb"))
    bad = tmp_path / "bad.lmdb"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ValueError, match="bad.lmdb"):
        LMDBSerializer.load(str(bad))


def test_lmdb_corrupt_value_is_a_clear_error(tmp_path):
    path = str(tmp_path / "db.lmdb")
    LMDBSerializer.save(source(2), path)
    env = lmdb.open(path, subdir=False, map_size=1 << 30)
    with env.begin(write=True) as txn:
        txn.put(b"00000001", txn.get(b"00000001")[:-4])  # truncate one value
    env.close()
    with pytest.raises(ValueError, match="db.lmdb"):
        collect(LMDBSerializer.load(path, shuffle=False))


def varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def caffe_datum(img_chw, label):
    """A caffe.Datum in protobuf wire format: fields 1-3 varints, 4 bytes, 5 varint."""
    c, h, w = img_chw.shape
    data = img_chw.tobytes()
    return (b"\x08" + varint(c) + b"\x10" + varint(h) + b"\x18" + varint(w)
            + b"\x22" + varint(len(data)) + data + b"\x28" + varint(label)
            + b"\x35\x00\x00\x80\x3f")  # a float_data entry, ignored


def test_caffe_lmdb(tmp_path):
    path = str(tmp_path / "caffe.lmdb")
    env = lmdb.open(path, subdir=False, map_size=1 << 24)
    imgs = [np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5) + k for k in range(3)]
    with env.begin(write=True) as txn:
        for k, img in enumerate(imgs):
            txn.put("{:0>8d}".format(k).encode(), caffe_datum(img, 300 + k))
        txn.put(b"00000003", caffe_datum(imgs[0], 1)[:-30])  # truncated: skipped
    env.close()
    got = collect(CaffeLMDB(path, shuffle=False))
    assert [dp[1] for dp in got] == [300, 301, 302]
    np.testing.assert_array_equal(got[1][0], imgs[1].transpose(1, 2, 0))
    assert len(collect(CaffeLMDB(path, shuffle=True, keys="{:0>8d}"))) == 4 - 1


# ---------------------------------------------------------------------------- NumPy
def test_numpy_round_trip_without_pickle(tmp_path):
    path = str(tmp_path / "data.npz")
    NumpySerializer.save(source(), path)
    with np.load(path, allow_pickle=False) as f:  # plain arrays only
        assert set(f.files) == {"dp_bytes", "dp_ends"}
    assert_same(collect(NumpySerializer.load(path, shuffle=False)), points())
    assert_same(by_label(collect(NumpySerializer.load(path))), points())


def test_numpy_upstream_object_file_needs_opt_in(tmp_path):
    path = str(tmp_path / "upstream.npz")
    buf = np.empty(2, dtype=object)
    buf[0], buf[1] = [np.zeros(2), 0], [np.ones(2), 1]
    np.savez_compressed(path, buffer=buf)
    with pytest.raises(ValueError, match="allow_pickle=True"):
        NumpySerializer.load(path)
    got = collect(NumpySerializer.load(path, shuffle=False, allow_pickle=True))
    assert [dp[1] for dp in got] == [0, 1]


def test_numpy_truncated_file(tmp_path):
    path = tmp_path / "data.npz"
    NumpySerializer.save(source(), str(path))
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(ValueError, match="data.npz"):
        NumpySerializer.load(str(path))


# ----------------------------------------------------------------------------- HDF5
def test_hdf5_round_trip_and_errors(tmp_path):
    path = str(tmp_path / "data.h5")
    HDF5Serializer.save(DataFromList([[np.full(3, i, np.float32), i] for i in range(5)],
                                     shuffle=False), path, ["x", "y"])
    got = collect(HDF5Serializer.load(path, ["x", "y"], shuffle=False))
    assert [int(dp[1]) for dp in got] == list(range(5))
    np.testing.assert_array_equal(got[3][0], np.full(3, 3, np.float32))
    with pytest.raises(KeyError, match="'z'"):
        HDF5Data(path, ["x", "z"])
    with h5py.File(str(tmp_path / "uneven.h5"), "w") as f:
        f["a"], f["b"] = np.zeros(3), np.zeros(4)
    with pytest.raises(ValueError, match="different lengths"):
        HDF5Data(str(tmp_path / "uneven.h5"), ["a", "b"])
    truncated = tmp_path / "cut.h5"
    truncated.write_bytes(open(path, "rb").read()[:200])
    with pytest.raises(ValueError, match="cut.h5"):
        HDF5Data(str(truncated), ["x"])
    with pytest.raises(ValueError, match="components"):
        HDF5Serializer.save(source(2), str(tmp_path / "other.h5"), ["only_one"])


# ------------------------------------------------------------------------- TFRecord
def test_tfrecord_round_trip_and_truncation(tmp_path):
    pytest.importorskip("tensorflow")
    path = str(tmp_path / "data.tfrecord")
    TFRecordSerializer.save(source(), path)
    df = TFRecordSerializer.load(path, size=12)
    assert len(df) == 12
    assert_same(collect(df), points())
    assert_same(collect(TFRecordSerializer.load(path)), points())
    cut = tmp_path / "cut.tfrecord"
    cut.write_bytes(open(path, "rb").read()[:-10])
    with pytest.raises(ValueError, match="cut.tfrecord"):
        collect(TFRecordSerializer.load(str(cut)))


# -------------------------------------------------------------------------- SVMlight
def test_svmlight(tmp_path):
    path = tmp_path / "data.svm"
    path.write_text("1 1:0.5 3:2\n# a comment line\n-1 qid:3 2:1.5 # trailing\n0 3:-1\n")
    df = SVMLightData(str(path), shuffle=False)
    got = collect(df)
    assert len(df) == 3
    np.testing.assert_array_equal(np.stack([dp[0] for dp in got]),
                                  [[0.5, 0, 2], [0, 1.5, 0], [0, 0, -1]])
    assert [dp[1] for dp in got] == [1.0, -1.0, 0.0]
    path.write_text("1 1:0.5 oops\n")
    with pytest.raises(ValueError, match="data.svm:1"):
        SVMLightData(str(path))


def test_svmlight_matches_scikit_learn(tmp_path):
    datasets = pytest.importorskip("sklearn.datasets")
    path = str(tmp_path / "data.svm")
    rng = np.random.RandomState(0)
    X = rng.rand(6, 4) * (rng.rand(6, 4) > 0.5)
    datasets.dump_svmlight_file(X, np.arange(6), path)
    ref_X, ref_y = datasets.load_svmlight_file(path)
    got = collect(SVMLightData(path, shuffle=False))
    np.testing.assert_allclose(np.stack([dp[0] for dp in got]), ref_X.toarray())
    np.testing.assert_array_equal([dp[1] for dp in got], ref_y)


def test_missing_extra_names_it(monkeypatch, tmp_path):
    monkeypatch.setitem(__import__("sys").modules, "lmdb", None)  # "not installed"
    with pytest.raises(ImportError, match=r"tensorpack\[dataflow\]"):
        LMDBSerializer.save(source(2), str(tmp_path / "x.lmdb"))


def test_serialized_bytes_are_msgpack_not_pickle():
    assert loads(dumps([1, "a"])) == [1, "a"]
    assert not dumps([1]).startswith(b"\x80")
