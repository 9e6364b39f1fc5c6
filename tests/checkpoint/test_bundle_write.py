"""write_tf_checkpoint: byte-identical to TF's SaveV2, readable and restorable by TF, atomic."""
import os
import sys

import numpy as np
import pytest

from tensorpack.checkpoint import dtypes as dt_mod
from tensorpack.checkpoint.bundle import TFCheckpointSource
from tensorpack.checkpoint.bundle_writer import write_tf_checkpoint
from tensorpack.checkpoint.source import TensorInfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _sample():
    """The fixture arrays, built without TensorFlow (needs only ml_dtypes)."""
    pytest.importorskip("ml_dtypes")
    import ml_dtypes
    rng = np.random.default_rng(3)
    out = {}
    for dt in ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
               "uint16", "uint32", "uint64", "complex64", "complex128"]:
        out["v_" + dt] = (rng.standard_normal((3, 4)) * 50).astype(dt)
    out["v_bool"] = rng.integers(0, 2, (5,)).astype(bool)
    out["v_bfloat16"] = np.array([[1.5, -2.25], [3.0, 1e-3]], dtype=ml_dtypes.bfloat16)
    out["v_string"] = np.array([b"hello", b"", b"x" * 200, "\u00e9".encode()], dtype=object)
    out["v_string_scalar"] = np.array(b"scalar", dtype=object)
    out["v_string_empty"] = np.zeros((0, 2), dtype=object)
    out["v_empty"] = np.zeros((0, 3), np.float32)
    out["v_scalar"] = np.array(3.5, np.float64)
    out["a/b/c"] = np.arange(1000, dtype=np.float32).reshape(10, 100)
    return out


def _equal(a, b):
    if a.dtype == object or b.dtype == object:
        return a.shape == b.shape and list(a.reshape(-1)) == list(b.reshape(-1))
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def _listing(directory):
    return sorted(os.listdir(directory))


# ---------------------------------------------------------------------------- without TF

def test_roundtrip_every_dtype(tmp_path):
    arrays = _sample()
    prefix = write_tf_checkpoint(str(tmp_path / "sub" / "model-3"), dict(arrays))
    assert prefix == str(tmp_path / "sub" / "model-3")
    assert _listing(tmp_path / "sub") == ["model-3.data-00000-of-00001", "model-3.index"]
    with TFCheckpointSource(prefix) as src:
        assert src.keys() == sorted(arrays)
        for name, arr in arrays.items():
            assert _equal(src.read(name), arr), name
            assert src.infos()[name].shape == arr.shape


def test_pathlike_prefix(tmp_path):
    prefix = write_tf_checkpoint(tmp_path / "p", {"x": np.arange(3)})
    with TFCheckpointSource(tmp_path / "p") as src:
        assert np.array_equal(src.read("x"), np.arange(3))
    assert prefix == str(tmp_path / "p")


def test_str_and_list_strings_are_utf8(tmp_path):
    write_tf_checkpoint(str(tmp_path / "m"), {"s": np.array(["caf\u00e9", "x"]),
                                              "t": np.array(["a", b"b"], dtype=object)})
    with TFCheckpointSource(str(tmp_path / "m")) as src:
        assert list(src.read("s")) == ["caf\u00e9".encode(), b"x"]
        assert list(src.read("t")) == [b"a", b"b"]


def test_bfloat16_from_float32_without_ml_dtypes(tmp_path, monkeypatch):
    monkeypatch.setattr(dt_mod, "_bf16", None)
    x = np.array([1.0, 1.00390625, 1.01171875, -3.5, np.inf, np.nan], np.float32)
    write_tf_checkpoint(str(tmp_path / "m"), {"x": x},
                        infos={"x": TensorInfo("x", (6,), "bfloat16")})
    with TFCheckpointSource(str(tmp_path / "m")) as src:
        assert src.infos()["x"].dtype == "bfloat16"
        got = src.read("x")
    assert got.dtype == np.float32
    # Round to nearest even: 1+2^-8 is a tie and goes down to 1; 1+3*2^-8 goes up.
    assert got[:5].tolist() == [1.0, 1.0, 1.015625, -3.5, np.inf]
    assert np.isnan(got[5])


def test_bfloat16_with_ml_dtypes_roundtrip(tmp_path):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = np.array([0.1, 2.5, -7.0], np.float32)
    write_tf_checkpoint(str(tmp_path / "m"), [("x", x)], infos={"x": "bfloat16"})
    with TFCheckpointSource(str(tmp_path / "m")) as src:
        got = src.read("x")
    assert got.dtype == ml_dtypes.bfloat16
    assert np.array_equal(got, x.astype(ml_dtypes.bfloat16))


def test_out_of_order_input_gives_sorted_index(tmp_path):
    pairs = [("zeta", np.ones(3, np.float32)), ("alpha", np.arange(4, dtype=np.int64)),
             ("mid/x", np.array(2.0))]
    write_tf_checkpoint(str(tmp_path / "m"), iter(pairs))
    with TFCheckpointSource(str(tmp_path / "m")) as src:
        assert src.keys() == ["alpha", "mid/x", "zeta"]
        # Data stays in the order received.
        assert src._entry("zeta").offset == 0
        assert src._entry("alpha").offset == 12
        for name, arr in pairs:
            assert _equal(src.read(name), arr)


@pytest.mark.parametrize("pairs,match", [
    ([("a", np.ones(1)), ("a", np.ones(1))], "twice"),
    ([(3, np.ones(1))], "must be str"),
    ([("", np.ones(1))], "reserved"),
    ([("a", np.array([1, "x"], dtype=object))], "string tensor"),
    ([("a", np.array(["2020-01-01"], dtype="datetime64[D]"))], "cannot be stored"),
])
def test_bad_input_is_value_error_and_leaves_nothing(tmp_path, pairs, match):
    with pytest.raises(ValueError, match=match):
        write_tf_checkpoint(str(tmp_path / "m"), pairs)
    assert _listing(tmp_path) == []


def test_exception_mid_stream_keeps_existing_files(tmp_path):
    prefix = str(tmp_path / "m")
    write_tf_checkpoint(prefix, {"old": np.arange(5, dtype=np.int32)})
    before = {n: (tmp_path / n).read_bytes() for n in _listing(tmp_path)}

    def stream():
        yield "new1", np.ones(10, np.float32)
        yield "new2", np.ones(10, np.float32)
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_tf_checkpoint(prefix, stream())
    assert {n: (tmp_path / n).read_bytes() for n in _listing(tmp_path)} == before
    with TFCheckpointSource(prefix) as src:
        assert src.keys() == ["old"]


def test_streaming_drops_each_tensor(tmp_path):
    """The writer keeps no reference to an array once it is written."""
    import gc
    import weakref
    refs = []

    class Arr(np.ndarray):
        pass

    def stream():
        for i in range(3):
            a = np.full(100, i, np.float32).view(Arr)
            refs.append(weakref.ref(a))
            yield "t%d" % i, a
            del a
            gc.collect()
            assert refs[i]() is None

    write_tf_checkpoint(str(tmp_path / "m"), stream())


# ---------------------------------------------------------------------------- against TF

@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


def _tf_save(tf, prefix, arrays):
    import tf_fixtures as F
    names = sorted(arrays)
    g = tf.Graph()
    with g.as_default():
        consts = {}  # one graph constant per distinct array keeps big graphs cheap
        for n in names:
            if id(arrays[n]) not in consts:
                consts[id(arrays[n])] = F.to_tf_constant(arrays[n])
        op = tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names,
                               shape_and_slices=[""] * len(names),
                               tensors=[consts[id(arrays[n])] for n in names])
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(op)


def test_byte_identical_to_savev2(tf, tmp_path):
    arrays = _sample()
    _tf_save(tf, str(tmp_path / "tf"), arrays)
    write_tf_checkpoint(str(tmp_path / "ours"), [(n, arrays[n]) for n in sorted(arrays)])
    for suffix in (".index", ".data-00000-of-00001"):
        assert (tmp_path / ("ours" + suffix)).read_bytes() == \
            (tmp_path / ("tf" + suffix)).read_bytes(), suffix


def test_byte_identical_with_many_index_blocks(tf, tmp_path):
    shared = np.arange(2, dtype=np.float32)
    arrays = {"a_rather_long_scope_name/layer%05d/%s" % (i, k): shared
              for i in range(5000) for k in ("W", "b", "gamma")}
    arrays["big"] = np.zeros(1000, np.float64)
    _tf_save(tf, str(tmp_path / "tf"), arrays)
    write_tf_checkpoint(str(tmp_path / "ours"), [(n, arrays[n]) for n in sorted(arrays)])
    ours = (tmp_path / "ours.index").read_bytes()
    assert ours == (tmp_path / "tf.index").read_bytes()
    assert len(ours) > 262144  # several data blocks were cut


def test_tf_reads_what_we_write(tf, tmp_path):
    arrays = _sample()
    prefix = write_tf_checkpoint(str(tmp_path / "ours"), arrays)
    reader = tf.train.load_checkpoint(prefix)
    assert sorted(reader.get_variable_to_shape_map()) == sorted(arrays)
    for name, arr in arrays.items():
        got = np.asarray(reader.get_tensor(name))
        if arr.dtype == object:
            assert list(got.reshape(-1)) == list(arr.reshape(-1)), name
        elif arr.dtype.name == "bfloat16":
            assert np.array_equal(got.astype(np.float32), arr.astype(np.float32))
        else:
            assert got.dtype == arr.dtype and np.array_equal(got, arr), name


def test_saver_restores_what_we_write(tf, tmp_path):
    tf1 = tf.compat.v1
    values = {"conv1/W": np.random.default_rng(0).standard_normal((3, 3, 2, 4)).astype("f4"),
              "conv1/b": np.arange(4, dtype=np.float32),
              "fc/W": np.ones((4, 2), np.float64),
              "global_step": np.array(42, np.int64),
              "flag": np.array([True, False]),
              "label": np.array([b"cat", b"dog"], dtype=object)}
    prefix = write_tf_checkpoint(str(tmp_path / "model-42"), values)
    g = tf.Graph()
    with g.as_default():
        variables = {}
        for name, arr in values.items():
            dtype = tf.string if arr.dtype == object else tf.as_dtype(arr.dtype)
            variables[name] = tf1.get_variable(name, shape=arr.shape, dtype=dtype,
                                               initializer=tf1.zeros_initializer())
        saver = tf1.train.Saver(variables)
        with tf1.Session(graph=g) as sess:
            saver.restore(sess, prefix)
            got = sess.run(variables)
    for name, arr in values.items():
        if arr.dtype == object:
            assert list(got[name]) == list(arr)
        else:
            assert np.array_equal(got[name], arr), name


def test_ml_dtypes_bfloat16_read_back_without_ml_dtypes(tmp_path, monkeypatch):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = np.array([0.5, -1.25, 3e38, -0.0], dtype=ml_dtypes.bfloat16)
    write_tf_checkpoint(str(tmp_path / "m"), {"x": x})
    monkeypatch.setattr(dt_mod, "_bf16", None)
    with TFCheckpointSource(str(tmp_path / "m")) as src:
        got = src.read("x")
    assert got.dtype == np.float32
    assert np.array_equal(got, x.astype(np.float32))


def test_infos_from_a_source_are_honoured(tmp_path):
    """Copying one checkpoint through infos keeps every stored dtype (strings included)."""
    arrays = _sample()
    write_tf_checkpoint(str(tmp_path / "a"), [(n, arrays[n]) for n in sorted(arrays)])
    with TFCheckpointSource(str(tmp_path / "a")) as src:
        write_tf_checkpoint(str(tmp_path / "b"), src.items(), infos=src.infos())
    for suffix in (".index", ".data-00000-of-00001"):
        assert (tmp_path / ("a" + suffix)).read_bytes() == \
            (tmp_path / ("b" + suffix)).read_bytes()
    with TFCheckpointSource(str(tmp_path / "b")) as src:
        for name, arr in arrays.items():
            assert _equal(src.read(name), arr), name
        # A source can also be passed directly; its infos are used.
        write_tf_checkpoint(str(tmp_path / "c"), src)
    assert (tmp_path / "c.index").read_bytes() == (tmp_path / "a.index").read_bytes()
    with pytest.raises(ValueError, match="shape"):
        write_tf_checkpoint(str(tmp_path / "c"), {"x": np.ones(3)},
                            infos={"x": TensorInfo("x", (4,), "float64")})
    with pytest.raises(ValueError, match="cannot hold"):
        write_tf_checkpoint(str(tmp_path / "c"), {"x": np.ones(3)}, infos={"x": "resource"})


def test_directory_in_the_way_fails_before_writing(tmp_path):
    (tmp_path / "m.index").mkdir()
    with pytest.raises(IsADirectoryError, match="m.index"):
        write_tf_checkpoint(str(tmp_path / "m"), {"x": np.ones(2)})
    assert _listing(tmp_path) == ["m.index"]
