"""tensorpack.utils.serialize: what crosses process boundaries, without pickle."""
import collections
import pickle

import numpy as np
import pytest

from tensorpack.utils.serialize import MsgpackSerializer, PickleSerializer, dumps, loads


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64", "uint64",
                                   "float16", "float32", "float64", "complex64", "bool", "S3",
                                   "U4", "datetime64[s]", ">i4"])
def test_array_round_trip_keeps_dtype_shape_values(dtype):
    arr = np.arange(24).reshape(2, 3, 4).astype(dtype)
    out = loads(dumps(arr))
    assert out.dtype == arr.dtype and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)
    assert out.flags.writeable  # in-place augmentation keeps working


def test_non_contiguous_and_empty_and_zero_dim_arrays():
    base = np.arange(30, dtype=np.float32).reshape(5, 6)
    for arr in (base[:, ::2], base.T, np.zeros((0, 3), np.uint8), np.array(7.5)):
        out = loads(dumps(arr))
        assert out.shape == arr.shape and out.dtype == arr.dtype
        np.testing.assert_array_equal(out, arr)


def test_python_and_numpy_scalars_and_containers():
    dp = [None, True, False, 0, -(2 ** 62), 1.25, "héllo", b"\x00\xff", [1, [2]], (1, (2, "x")),
          {"a": 1, 3: "b"}, np.float32(1.5), np.int64(-3), np.bool_(True), np.uint8(200),
          collections.OrderedDict(z=1), bytearray(b"ab")]
    out = loads(dumps(dp))
    assert out[:11] == dp[:11]
    assert type(out[9]) is tuple and type(out[9][1]) is tuple
    for got, want in zip(out[11:15], dp[11:15]):
        assert type(got) is type(want) and got == want
    assert out[15] == {"z": 1} and out[16] == b"ab"


@pytest.mark.parametrize("bad,name", [
    (object(), "builtins.object"),
    ({1, 2}, "builtins.set"),
    (np.array([1, "a"], dtype=object), "dtype 'object'"),
    (np.zeros(2, dtype=[("x", "i4")]), "dtype"),
])
def test_unsupported_types_name_the_type(bad, name):
    with pytest.raises(TypeError, match=name):
        dumps([1, bad])
    assert loads(dumps([1, 2])) == [1, 2]  # the packer is usable after the error


def test_truncated_or_garbage_input_is_a_value_error():
    data = dumps([np.arange(100), "x"])
    for broken in (data[:-7], data[:3], b"\xc1\xc1", pickle.dumps([1, 2])):
        with pytest.raises(ValueError, match="Cannot decode"):
            loads(broken)


def test_array_payload_with_wrong_size_is_rejected():
    data = dumps(np.arange(4, dtype="<i4"))
    good = loads(data)
    np.testing.assert_array_equal(good, np.arange(4))
    # the same message with its last element cut out of the payload (length fields fixed up)
    short = bytearray(data[:-4])
    short[1] -= 4  # ext8 length byte
    with pytest.raises(ValueError, match="Corrupt NumPy payload"):
        loads(bytes(short))


def test_upstream_names():
    assert MsgpackSerializer.loads(MsgpackSerializer.dumps({"k": [1]})) == {"k": [1]}
    assert PickleSerializer.loads(PickleSerializer.dumps({1, 2})) == {1, 2}
