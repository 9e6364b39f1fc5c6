"""Write TensorFlow V2 checkpoints ("tensor bundles") with NumPy alone.

The output is what ``tf.raw_ops.SaveV2`` writes for the same tensors in the same order
(byte for byte when names are given sorted), and TensorFlow's ``NewCheckpointReader`` and
``tf.compat.v1.train.Saver.restore`` read it.

Files are written like TensorFlow does, so that readers never see a half-written
checkpoint: the data goes to ``PREFIX.data-00000-of-00001.tempstate<N>`` and the index to
``PREFIX.index.tempstate<N>``; once both are complete the data file is renamed into place,
then the index (the index appearing marks the checkpoint complete).
"""
import contextlib
import os
import random
import struct
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from tensorpack.checkpoint import crc32c as _crc
from tensorpack.checkpoint import dtypes as _dt
from tensorpack.checkpoint.paths import data_file_name
from tensorpack.checkpoint.source import CheckpointSource, TensorInfo
from tensorpack.checkpoint.table import TableBuilder
from tensorpack.utils.protobuf_wire import encode_varint, field_bytes, field_fixed32, field_varint
from tensorpack.utils.fs import fsync_dir, mkdir_p

__all__ = ["write_tf_checkpoint", "encode_entry", "HEADER"]

# BundleHeaderProto{num_shards: 1, version{producer: 1}}, as TensorFlow writes it.
HEADER = field_varint(1, 1) + field_bytes(3, field_varint(1, 1))

_WRITE_CHUNK = 64 << 20  # write huge arrays in pieces so the kernel copy stays cache-friendly


def _encode_shape(shape):
    return b"".join(field_bytes(2, field_varint(1, int(d))) for d in shape)


def encode_entry(dtype_enum: int, shape: Sequence[int], shard_id: int = 0, offset: int = 0,
                 size: int = 0, crc: int = 0) -> bytes:
    """Serialize a ``BundleEntryProto`` as TensorFlow does (field order, zeros left out).

    Args:
        dtype_enum (int): DataType number.
        shape (tuple[int]): the tensor's shape.
        shard_id, offset, size (int): where the bytes are.
        crc (int): the masked crc32c.

    Returns:
        bytes: the serialized entry.
    """
    return (field_varint(1, dtype_enum) + field_bytes(2, _encode_shape(shape))
            + field_varint(3, shard_id) + field_varint(4, offset) + field_varint(5, size)
            + field_fixed32(6, crc))


def _as_bytes(x, name):
    if isinstance(x, bytes):
        return x
    if isinstance(x, str):
        return x.encode("utf-8")
    if isinstance(x, (bytearray, memoryview, np.bytes_)):
        return bytes(x)
    raise ValueError("Tensor '{}' is a string tensor but holds a {} ({!r}); only bytes and "
                     "str can be stored".format(name, type(x).__name__, x))


def _prepare(name, value, info):
    """Turn one input value into (dtype enum, shape, array) ready to write."""
    want = None
    if info is not None:
        want = getattr(info, "dtype", info)
        shape = getattr(info, "shape", None)
    arr = np.asarray(value)
    if info is not None and shape is not None and tuple(shape) != arr.shape:
        raise ValueError("Tensor '{}' has shape {} but its info says {}.".format(
            name, arr.shape, tuple(shape)))
    if want is not None and want != "string" and arr.dtype.kind not in "OSU":
        if want == "bfloat16":
            bf16 = _dt.bfloat16_type()
            if arr.dtype.name != "bfloat16":
                if bf16 is not None:
                    arr = arr.astype(bf16)
                else:
                    bits = _dt.float32_to_bfloat16_bits(arr.astype(np.float32))
                    return _dt.DT_BFLOAT16, arr.shape, bits
        else:
            try:
                want_dt = np.dtype(want)
            except TypeError:
                raise ValueError("Tensor '{}': its info asks for dtype {!r}, which TensorFlow "
                                 "checkpoints written here cannot hold.".format(
                                     name, want)) from None
            if want_dt != arr.dtype:
                arr = arr.astype(want_dt)
    try:
        enum = _dt.enum_of(arr.dtype)
    except ValueError as e:
        raise ValueError("Tensor '{}': {}.".format(name, e)) from None
    return enum, arr.shape, arr


def _write_numeric(f, arr):
    flat = np.ascontiguousarray(arr).reshape(-1)
    if flat.dtype.byteorder == ">" or (flat.dtype.byteorder == "=" and
                                       np.little_endian is False):
        flat = flat.astype(flat.dtype.newbyteorder("<"))
    raw = flat.view(np.uint8)
    crc = 0
    for start in range(0, len(raw), _WRITE_CHUNK):
        piece = raw[start:start + _WRITE_CHUNK]
        f.write(piece)
        crc = _crc.crc32c(piece, crc)
    return len(raw), crc


def _write_strings(f, arr, name):
    items = [_as_bytes(x, name) for x in arr.reshape(-1)]
    crc = 0
    lengths = bytearray()
    for b in items:
        n = len(b)
        lengths += encode_varint(n)
        crc = _crc.crc32c(struct.pack("<I" if n <= 0xFFFFFFFF else "<Q", n), crc)
    length_crc = struct.pack("<I", _crc.mask(crc))
    crc = _crc.crc32c(length_crc, crc)
    f.write(bytes(lengths))
    f.write(length_crc)
    size = len(lengths) + 4
    for b in items:
        f.write(b)
        crc = _crc.crc32c(b, crc)
        size += len(b)
    return size, crc


def _iter_pairs(tensors):
    if isinstance(tensors, (Mapping, CheckpointSource)):
        return iter(tensors.items())
    return iter(tensors)


def _temp_name(path):
    return "{}.tempstate{}".format(path, random.getrandbits(63))


def write_tf_checkpoint(prefix: str | os.PathLike,
                        tensors: CheckpointSource | Mapping[str, ArrayLike]
                        | Iterable[tuple[str, ArrayLike]],
                        infos: Mapping[str, TensorInfo | str] | None = None,
                        fsync: bool = False) -> str:
    """Write tensors as a TensorFlow V2 checkpoint.

    Tensors are written to the data file as they arrive and then dropped, so with an
    iterable of pairs memory stays bounded by one tensor. With names in sorted order the
    files are byte-identical to TensorFlow's ``SaveV2``; otherwise the data keeps the order
    received and the index is sorted (still a valid checkpoint).

    Args:
        prefix (str): the checkpoint prefix; ``PREFIX.index`` and
            ``PREFIX.data-00000-of-00001`` are written. The parent directory is created.
        tensors: a dict ``name -> array``, an iterable of ``(name, array)`` pairs, or a
            :class:`~tensorpack.checkpoint.source.CheckpointSource` (copied). Arrays
            may be numeric, bool, complex, ``ml_dtypes.bfloat16``, or object / bytes / str
            arrays for string tensors (str is encoded as UTF-8).
        infos (dict, optional): ``name -> TensorInfo`` (or a dtype name) giving the dtype to
            store, e.g. ``"bfloat16"`` for a float32 array; the array is converted.
            Defaults to the source's own infos when ``tensors`` is a source.
        fsync (bool): flush the files to disk before renaming them into place.

    Returns:
        str: ``prefix``.

    Raises:
        ValueError: a duplicate or non-string name, or an unsupported dtype. On any error
            the temporary files are removed and files at the final names are untouched.
        IsADirectoryError: a directory sits at one of the final file names.
    """
    prefix = os.fspath(prefix)
    if infos is None and isinstance(tensors, CheckpointSource):
        infos = tensors.infos()  # keeps stored dtypes such as bfloat16 and string
    parent = os.path.dirname(os.path.abspath(prefix))
    mkdir_p(parent)
    data_path = data_file_name(prefix, 0, 1)
    index_path = prefix + ".index"
    for path in (data_path, index_path):
        if os.path.isdir(path):
            # Checked up front: failing at the last rename would leave a new data file
            # beside the old index.
            raise IsADirectoryError("Cannot write checkpoint '{}': '{}' is a directory."
                                    .format(prefix, path))
    data_tmp, index_tmp = _temp_name(data_path), _temp_name(index_path)
    created = []
    try:
        entries = {}
        created.append(data_tmp)
        with open(data_tmp, "wb") as f:
            offset = 0
            for name, value in _iter_pairs(tensors):
                if not isinstance(name, str):
                    raise ValueError("Tensor names must be str, got {!r}.".format(name))
                key = name.encode("utf-8", "surrogateescape")
                if key in entries:
                    raise ValueError("Tensor name '{}' is given twice.".format(name))
                if key == b"" or key[:1] == b"\x00":
                    raise ValueError("Tensor name {!r} is reserved in TensorFlow "
                                     "checkpoints.".format(name))
                info = infos.get(name) if infos is not None else None
                enum, shape, arr = _prepare(name, value, info)
                if enum == _dt.DT_STRING:
                    size, crc = _write_strings(f, arr, name)
                else:
                    size, crc = _write_numeric(f, arr)
                entries[key] = encode_entry(enum, shape, 0, offset, size, _crc.mask(crc))
                offset += size
                del value, arr  # streaming: keep no reference to the written tensor
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        table = TableBuilder()
        table.add(b"", HEADER)
        for key in sorted(entries):
            table.add(key, entries[key])
        created.append(index_tmp)
        with open(index_tmp, "wb") as f:
            f.write(table.finish())
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(data_tmp, data_path)
        created.remove(data_tmp)
        os.replace(index_tmp, index_path)
        created.remove(index_tmp)
    except BaseException:
        for path in created:
            with contextlib.suppress(OSError):
                os.remove(path)
        raise
    if fsync:
        fsync_dir(parent)
    return prefix
