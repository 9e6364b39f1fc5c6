"""Turn datapoints into bytes and back, safely: msgpack plus a few extension types.

What can travel: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, lists, tuples,
dicts, NumPy arrays of plain dtypes (numbers, bools, fixed-width strings, datetimes) and
NumPy scalars. Arrays are sent as dtype, shape and raw bytes; tuples stay tuples and NumPy
scalars keep their dtype. Decoding never runs code (no pickle), so it is safe on bytes that
arrived from another process or machine. Anything else is a ``TypeError`` naming its type.

``loads`` returns writable arrays (a copy of the received bytes), so in-place augmentation
keeps working as it did with upstream's pickle.

Upstream's names are kept: :func:`dumps` / :func:`loads`, ``dumps_once`` / ``loads_once``
and the ``MsgpackSerializer`` / ``PickleSerializer`` classes (pickle only by explicit choice).
"""
import math
import pickle
import struct

import numpy as np

__all__ = ["dumps", "loads", "dumps_once", "loads_once", "MsgpackSerializer",
           "PickleSerializer"]

# Extension type codes (private to this format).
_EXT_NDARRAY = 1
_EXT_SCALAR = 2
_EXT_TUPLE = 3

# dtype kinds that are fixed-size raw data; "O" (objects) and "V" (records) are refused.
_PLAIN_KINDS = frozenset("biufcSUmM")

_msgpack = None


def _lib():
    global _msgpack
    if _msgpack is None:
        try:
            import msgpack
        except ImportError as e:
            raise ImportError("tensorpack's serializer needs msgpack: pip install msgpack "
                              "(it is a requirement of tensorpack).") from e
        _msgpack = msgpack
    return _msgpack


def _check_dtype(dtype):
    if dtype.kind not in _PLAIN_KINDS or dtype.hasobject:
        raise TypeError("Cannot serialize a NumPy array of dtype {!r}: only plain numeric, bool, "
                        "fixed-width string and datetime dtypes can be sent between processes "
                        "(object and record arrays cannot). Convert it, e.g. to a list or to "
                        "separate arrays.".format(str(dtype)))


_PACKED_HEADERS = {}


def _pack_header(dtype_str, shape):
    header = _PACKED_HEADERS.get((dtype_str, shape))
    if header is None:
        code = dtype_str.encode("ascii")
        header = (struct.pack("<B", len(code)) + code
                  + struct.pack("<B%dq" % len(shape), len(shape), *shape))
        if len(_PACKED_HEADERS) < 4096:
            _PACKED_HEADERS[(dtype_str, shape)] = header
    return header


def _encode_array(arr):
    _check_dtype(arr.dtype)
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return _lib().ExtType(_EXT_NDARRAY, _pack_header(arr.dtype.str, arr.shape) + arr.tobytes())


def _default(obj):
    # With strict_types, tuples and subclasses of the basic types land here.
    if isinstance(obj, np.ndarray):
        return _encode_array(obj)
    if isinstance(obj, np.generic):
        _check_dtype(obj.dtype)
        return _lib().ExtType(_EXT_SCALAR, _pack_header(obj.dtype.str, ()) + obj.tobytes())
    if isinstance(obj, tuple):
        # a fresh packer: the shared one is busy with the enclosing object
        return _lib().ExtType(_EXT_TUPLE, _lib().packb(list(obj), **_PACK_OPTIONS))
    for base in (bool, int, float, str, bytes, list, dict):
        if isinstance(obj, base):  # e.g. IntEnum, OrderedDict, defaultdict
            return base(obj)
    if isinstance(obj, (bytearray, memoryview)):
        return bytes(obj)
    raise TypeError("Cannot serialize an object of type {}.{} in a datapoint: only None, bool, "
                    "int, float, str, bytes, list, tuple, dict, NumPy arrays and NumPy scalars "
                    "can be sent between processes. Convert it (e.g. to a NumPy array or a "
                    "dict) before it leaves the worker.".format(type(obj).__module__,
                                                                 type(obj).__qualname__))


_HEADERS = {}  # header bytes -> (dtype, shape): a pipeline sends few distinct headers


def _read_header(data):
    n = data[0]
    end = 2 + n + 8 * data[1 + n]
    key = bytes(data[:end])
    parsed = _HEADERS.get(key)
    if parsed is None:
        dtype = np.dtype(key[1:1 + n].decode("ascii"))
        _check_dtype(dtype)
        shape = struct.unpack_from("<%dq" % key[1 + n], key, 2 + n)
        if any(d < 0 for d in shape):
            raise ValueError("negative dimension in shape {}".format(shape))
        parsed = (dtype, shape, math.prod(shape) * dtype.itemsize)
        if len(_HEADERS) < 4096:
            _HEADERS[key] = parsed
    return parsed, end


def _ext_hook(code, data):
    if code == _EXT_TUPLE:
        return tuple(_unpackb(data))
    if code in (_EXT_NDARRAY, _EXT_SCALAR):
        try:
            (dtype, shape, nbytes), offset = _read_header(data)
            if len(data) - offset != nbytes:
                raise ValueError("{} bytes of data for shape {} and dtype {}".format(
                    len(data) - offset, shape, dtype))
        except (ValueError, TypeError, IndexError, UnicodeDecodeError, struct.error) as e:
            raise ValueError("Corrupt NumPy payload in serialized data: {}".format(e)) from e
        # a bytearray copy makes the result writable, like an unpickled array
        arr = np.frombuffer(bytearray(memoryview(data)[offset:]), dtype=dtype)
        return arr.reshape(shape) if code == _EXT_NDARRAY else arr[0]
    raise ValueError("Unknown extension type {} in serialized data: it was not written by "
                     "tensorpack.utils.serialize.dumps.".format(code))


_PACK_OPTIONS = dict(default=_default, use_bin_type=True, strict_types=True)
_packer_obj = None


def _packer():
    global _packer_obj
    if _packer_obj is None:
        _packer_obj = _lib().Packer(autoreset=True, **_PACK_OPTIONS)
    return _packer_obj


def _unpackb(buf):
    return _lib().unpackb(buf, raw=False, ext_hook=_ext_hook, strict_map_key=False,
                          use_list=True)


def dumps(obj):
    """Serialize a datapoint (or any nesting of the supported types) to bytes.

    Args:
        obj: the object.

    Returns:
        bytes

    Raises:
        TypeError: for an object of an unsupported type (named in the message).
    """
    try:
        return _packer().pack(obj)
    except BaseException:
        # A failed pack leaves partial data in the shared packer; start clean next time.
        global _packer_obj
        _packer_obj = None
        raise


def loads(buf):
    """Inverse of :func:`dumps`. Never executes code from ``buf``.

    Args:
        buf (bytes-like): what :func:`dumps` returned (also a ``zmq.Frame`` or memoryview).

    Returns:
        the object; arrays are writable copies.

    Raises:
        ValueError: if ``buf`` is not valid output of :func:`dumps` (truncated or corrupt).
    """
    if hasattr(buf, "buffer"):  # zmq.Frame
        buf = buf.buffer
    msgpack = _lib()
    try:
        return _unpackb(buf)
    except (msgpack.exceptions.ExtraData, msgpack.exceptions.FormatError,
            msgpack.exceptions.StackError, ValueError) as e:
        raise ValueError("Cannot decode serialized data ({} bytes): {}. The data is truncated, "
                         "corrupt, or was not written by tensorpack.utils.serialize.dumps "
                         "(upstream's default was pickle).".format(len(buf), e)) from e


class MsgpackSerializer:
    """The safe default: :func:`dumps` / :func:`loads`."""

    dumps = staticmethod(dumps)
    loads = staticmethod(loads)


class PickleSerializer:
    """Pickle, for your own trusted files only: ``loads`` can run arbitrary code.

    tensorpack never uses it for data received from another process or over a socket.
    """

    @staticmethod
    def dumps(obj):
        return pickle.dumps(obj, protocol=-1)

    @staticmethod
    def loads(buf):
        return pickle.loads(buf)


# Upstream distinguished a "serialize once" pair for inter-process traffic; both are the
# safe format here.
dumps_once = dumps
loads_once = loads
