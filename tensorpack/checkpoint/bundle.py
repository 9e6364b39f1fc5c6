"""Read TensorFlow V2 checkpoints ("tensor bundles") with NumPy alone.

A checkpoint ``PREFIX`` is ``PREFIX.index`` (a sorted table: name -> dtype, shape, shard,
offset, size, crc32c) plus ``PREFIX.data-SSSSS-of-NNNNN`` files holding the raw tensor
bytes. Listing reads only the index; reading a tensor reads exactly its bytes into a
preallocated array, so memory stays bounded by one tensor.

Example::

    with TFCheckpointSource("train_log/model-5000") as src:
        for name, info in src.infos().items():
            print(name, info.shape, info.dtype)
        w = src.read("conv1/W")
"""
import math
import os
import struct
import threading

import numpy as np

from tensorpack.checkpoint import crc32c as _crc
from tensorpack.checkpoint import dtypes as _dt
from tensorpack.checkpoint import objgraph as _og
from tensorpack.checkpoint.bundle_entry import (SHAPE_CACHE, dtype_and_shape,
                                                parse_entry, parse_slice)
from tensorpack.checkpoint.orderedcode import encode_slice_key
from tensorpack.checkpoint.paths import data_file_name
from tensorpack.checkpoint.source import CheckpointSource, TensorInfo
from tensorpack.checkpoint.table import FOOTER_SIZE, MAGIC, TableError, read_table
from tensorpack.utils.protobuf_wire import WireError, iter_fields, read_varint, signed64

__all__ = ["TFCheckpointSource", "CorruptCheckpointError"]

_U32 = struct.Struct("<I")
_SUPPORTED_VERSION = 1
_MAGIC_BYTES = struct.pack("<Q", MAGIC)
_preadv = getattr(os, "preadv", None)


class CorruptCheckpointError(ValueError):
    """A checkpoint file is truncated, corrupt, or not a checkpoint. The message names it."""


class TFCheckpointSource(CheckpointSource):
    """A TensorFlow V2 checkpoint, read without TensorFlow.

    TF2 object-based checkpoints (``tf.train.Checkpoint``) are listed by readable names:
    the key without its ``/.ATTRIBUTES/VARIABLE_VALUE`` suffix; the object-graph key is
    hidden. Partitioned variables are listed once under their full name and assembled on
    read.

    Args:
        prefix (str or os.PathLike): the checkpoint prefix, e.g. ``train_log/model-5000``.
        verify (bool): check crc32c checksums of the index blocks and of tensor data.

    Raises:
        FileNotFoundError: if ``PREFIX.index`` does not exist.
        CorruptCheckpointError: if the index is malformed or a data shard is missing.
    """

    def __init__(self, prefix: str | os.PathLike, verify: bool = True):
        super().__init__()
        prefix = os.fspath(prefix)
        self.prefix = prefix
        self.path = prefix
        self.verify = verify
        self.index_path = prefix + ".index"
        self._files = {}
        self._lock = threading.Lock()
        if not os.path.isfile(self.index_path):
            raise FileNotFoundError(
                "Checkpoint index '{}' does not exist; pass the checkpoint prefix (e.g. "
                "'train_log/model-5000'), whose .index and .data-* files sit next to "
                "each other.".format(self.index_path))
        with open(self.index_path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            if size >= FOOTER_SIZE:
                # Check the magic number first, so a wrong (possibly huge) file is rejected
                # without reading it all.
                f.seek(size - 8)
                if f.read(8) != _MAGIC_BYTES:
                    raise self._corrupt(self.index_path, "bad magic number: not a TensorFlow "
                                        "checkpoint index (or truncated)")
            f.seek(0)
            data = f.read()
        try:
            table = read_table(data, verify=verify)
        except TableError as e:
            raise self._corrupt(self.index_path, str(e)) from None
        if not table or table[0][0] != b"":
            raise self._corrupt(self.index_path, "the first entry is not the bundle header")
        self._parse_header(table[0][1])
        # Slice keys start with 0x00, so they all sit right after the header.
        first = 1
        while first < len(table) and table[first][0][:1] == b"\x00":
            first += 1
        self._slices = dict(table[1:first])  # binary slice key -> BundleEntryProto bytes
        self._entries = {k.decode("utf-8", "surrogateescape"): v for k, v in table[first:]}
        del table
        self._is_tf2 = _og.OBJECT_GRAPH_KEY in self._entries
        if self._is_tf2:
            self._raw_keys = {}  # listed name -> stored key
            for key in self._entries:
                if key == _og.OBJECT_GRAPH_KEY:
                    continue
                name = _og.readable_name(key)
                if name != key and name in self._entries:
                    name = key  # a clash with a real key: keep the stored key
                self._raw_keys[name] = key
            self._stored_to_name = {v: k for k, v in self._raw_keys.items()}
        else:
            self._raw_keys = {k: k for k in self._entries}
            self._stored_to_name = self._raw_keys
        for shard in range(self.num_shards):
            path = data_file_name(prefix, shard, self.num_shards)
            if not os.path.isfile(path):
                raise self._corrupt(path, "this data shard is missing (the index {} lists {} "
                                    "shards)".format(self.index_path, self.num_shards))

    @staticmethod
    def _corrupt(path, problem, name=None):
        what = " (tensor '{}')".format(name) if name is not None else ""
        return CorruptCheckpointError("Corrupt checkpoint file '{}'{}: {}.".format(
            path, what, problem))

    def _parse_header(self, value):
        self.num_shards, endianness, version = 0, 0, b""
        try:
            fields = [(n, wt, v) for n, wt, v in iter_fields(value)]
            for number, wtype, v in fields:
                if (number in (1, 2) and wtype != 0) or (number == 3 and wtype != 2):
                    raise WireError("field {} has the wrong wire type {}".format(number, wtype))
                if number == 1:
                    self.num_shards = v
                elif number == 2:
                    endianness = v
                elif number == 3:
                    version = v
            producer, min_consumer, bad = 0, 0, []
            for number, wtype, v in iter_fields(version):
                if number == 1 and wtype == 0:
                    producer = signed64(v)
                elif number == 2 and wtype == 0:
                    min_consumer = signed64(v)
                elif number == 3 and wtype == 0:
                    bad.append(signed64(v))
                elif number == 3 and wtype == 2:  # packed repeated int32
                    pos = 0
                    while pos < len(v):
                        item, pos = read_varint(v, pos)
                        bad.append(signed64(item))
        except WireError as e:
            raise self._corrupt(self.index_path, "bad bundle header: {}".format(e)) from None
        if not 1 <= self.num_shards <= 99999:
            raise self._corrupt(self.index_path, "bad shard count {}".format(self.num_shards))
        if endianness not in (0, 1):
            raise self._corrupt(self.index_path, "bad endianness {}".format(endianness))
        self._big_endian = endianness == 1
        if producer < 0 or min_consumer > _SUPPORTED_VERSION or _SUPPORTED_VERSION in bad:
            raise self._corrupt(self.index_path, "unsupported bundle version (producer {}, "
                                "min_consumer {})".format(producer, min_consumer))

    # ------------------------------------------------------------------ listing

    def _entry(self, stored_key, shape=True):
        try:
            return parse_entry(self._entries[stored_key], shape=shape)
        except WireError as e:
            raise self._corrupt(self.index_path, "bad entry: {}".format(e), stored_key) from None

    def _list(self):
        entries = self._entries
        dtype_names = {}
        cache = SHAPE_CACHE
        make = TensorInfo._make
        out = []
        for name, key in self._raw_keys.items():
            value = entries[key]
            # Inline fast path of dtype_and_shape: listing 10k keys is a hot loop.
            try:
                if value[0] == 0x08 and value[2] == 0x12 and value[1] < 0x80 \
                        and value[3] < 0x80:
                    enum = value[1]
                    shape = cache.get(value[4:4 + value[3]])
                    if shape is None:
                        enum, shape = dtype_and_shape(value)
                else:
                    enum, shape = dtype_and_shape(value)
                dtype = dtype_names.get(enum)
                if dtype is None:
                    dtype = dtype_names[enum] = _dt.name_of(enum)
            except (ValueError, IndexError) as err:
                raise self._corrupt(self.index_path, "bad entry: {}".format(
                    err or "truncated"), key) from None
            out.append(make((name, shape, dtype)))
        return out

    def raw_key(self, name: str) -> str:
        """The key as stored in the index for a listed ``name``.

        Raises:
            KeyError: if there is no such tensor.
        """
        try:
            return self._raw_keys[name]
        except KeyError:
            raise KeyError("Tensor '{}' is not in {}.".format(name, self.prefix)) from None

    def object_full_names(self) -> dict[str, str]:
        """For TF2 object-based checkpoints: listed name -> the variable's ``full_name``.

        Returns:
            dict[str, str]: empty for checkpoints without an object graph.
        """
        if not self._is_tf2:
            return {}
        graph = self._read_stored(_og.OBJECT_GRAPH_KEY)
        if graph.size != 1:
            raise self._corrupt(self.index_path, "the object graph is not a scalar string",
                                _og.OBJECT_GRAPH_KEY)
        try:
            by_key = _og.checkpoint_key_full_names(graph.reshape(-1)[0])
        except WireError as e:
            raise self._corrupt(data_file_name(self.prefix, 0, self.num_shards),
                                "bad object graph: {}".format(e), _og.OBJECT_GRAPH_KEY) from None
        return {self._stored_to_name[k]: v for k, v in by_key.items()
                if k in self._stored_to_name}

    # ------------------------------------------------------------------ reading

    def read(self, name: str) -> np.ndarray:
        """Read one tensor by its listed name (TF2 checkpoints also accept the stored key).

        Returns:
            np.ndarray: numeric types as NumPy arrays; bfloat16 as ``ml_dtypes.bfloat16``
            (float32 without ml_dtypes); strings as an object array of ``bytes``.

        Raises:
            KeyError: if there is no such tensor.
            CorruptCheckpointError: if its data is truncated or fails the checksum.
        """
        if name not in self._raw_keys and name in self._stored_to_name:
            name = self._stored_to_name[name]
        return super().read(name)

    def _read(self, name):
        return self._read_stored(self._raw_keys[name])

    def _read_stored(self, key):
        e = self._entry(key)
        if e.slices:
            return self._read_sliced(key, e)
        return self._read_entry(key, e)

    def _read_sliced(self, key, e):
        pieces = self._slice_entries(key, e)
        # Allocate the full tensor only once its slices are known to fill it from bytes that
        # exist in the data files: the declared shape alone is not to be trusted.
        if sum(math.prod(se.shape) for _, se in pieces) != math.prod(e.shape):
            raise self._corrupt(self.index_path, "its slices do not add up to its shape {}"
                                .format(list(e.shape)), key)
        for _, se in pieces:
            self._check_range(key, se)
        if e.dtype == _dt.DT_STRING:
            out = np.empty(e.shape, dtype=object)
        else:
            out = np.empty(e.shape, dtype=self._result_dtype(e.dtype))
        for box, se in pieces:
            out[box] = self._read_entry(key, se)
        return out

    def _slice_entries(self, key, e):
        """The ``(box, entry)`` of every stored slice of a partitioned tensor, checked."""
        raw = key.encode("utf-8", "surrogateescape")
        pieces = []
        for sl in e.slices:
            try:
                starts, key_lengths, lengths = parse_slice(sl, e.shape)
            except WireError as err:
                raise self._corrupt(self.index_path, str(err), key) from None
            skey = encode_slice_key(raw, starts, key_lengths)
            if skey not in self._slices:
                raise self._corrupt(self.index_path, "the slice {} is listed but not stored"
                                    .format(list(zip(starts, lengths))), key)
            try:
                se = parse_entry(self._slices[skey])
            except WireError as err:
                raise self._corrupt(self.index_path, "bad slice entry: {}".format(err),
                                    key) from None
            if list(se.shape) != lengths or se.dtype != e.dtype or se.slices:
                raise self._corrupt(self.index_path, "a slice's shape {} or dtype does not "
                                    "match its extent {}".format(se.shape, lengths), key)
            pieces.append((tuple(slice(s, s + n) for s, n in zip(starts, lengths)), se))
        return pieces

    def _result_dtype(self, dtype):
        name = _dt.name_of(dtype)
        return _dt.numpy_dtype(name)

    def _file(self, shard):
        f = self._files.get(shard)
        if f is None:
            with self._lock:
                f = self._files.get(shard)
                if f is None:
                    path = data_file_name(self.prefix, shard, self.num_shards)
                    try:
                        f = open(path, "rb", buffering=0)
                    except FileNotFoundError:
                        raise self._corrupt(path, "this data shard is missing") from None
                    self._files[shard] = f
        return f

    def _check_range(self, key, e):
        """Check the tensor's byte range lies inside its shard, before allocating for it."""
        if e.shard_id >= self.num_shards:
            raise self._corrupt(self.index_path, "shard id {} out of range (the checkpoint "
                                "has {} shards)".format(e.shard_id, self.num_shards), key)
        f = self._file(e.shard_id)
        end = os.fstat(f.fileno()).st_size
        if e.offset + e.size > end:
            path = data_file_name(self.prefix, e.shard_id, self.num_shards)
            raise self._corrupt(path, "the file ends at byte {} but the tensor's data spans "
                                "bytes [{}, {}); the file is truncated".format(
                                    end, e.offset, e.offset + e.size), key)
        return f

    def _read_bytes(self, key, e, out):
        """Fill the uint8 array ``out`` from the tensor's byte range (no intermediate copy)."""
        f = self._file(e.shard_id)
        view = memoryview(out)
        done, total = 0, len(out)
        fd = f.fileno()
        while done < total:
            if _preadv is not None:
                # Positioned read: no shared file offset, so concurrent reads are safe.
                n = _preadv(fd, [view[done:]], e.offset + done)
            else:
                with self._lock:
                    f.seek(e.offset + done)
                    n = f.readinto(view[done:])
            if not n:
                path = data_file_name(self.prefix, e.shard_id, self.num_shards)
                raise self._corrupt(path, "the file ends at byte {} but the tensor's data "
                                    "spans bytes [{}, {}); the file is truncated".format(
                                        e.offset + done, e.offset, e.offset + total), key)
            done += n

    def _check_crc(self, key, e, actual):
        if actual != _crc.unmask(e.crc):
            path = data_file_name(self.prefix, e.shard_id, self.num_shards)
            raise self._corrupt(path, "checksum mismatch in the tensor's data (bytes [{}, {}))"
                                .format(e.offset, e.offset + e.size), key)

    def _read_entry(self, key, e):
        if e.dtype == _dt.DT_STRING:
            return self._read_strings(key, e)
        try:
            _dt.name_of(e.dtype)
        except ValueError as err:
            raise self._corrupt(self.index_path, str(err), key) from None
        try:
            sdt = _dt.storage_dtype(e.dtype)
        except ValueError as err:
            # A real TensorFlow type that has no NumPy counterpart (e.g. qint8, variant).
            raise ValueError("Cannot read tensor '{}' of {}: {}.".format(
                key, self.prefix, err)) from None
        count = math.prod(e.shape)  # exact: a crafted shape must not wrap around
        if e.size != count * sdt.itemsize:
            raise self._corrupt(self.index_path, "the entry says {} bytes but shape {} of "
                                "{} needs {}".format(e.size, e.shape, _dt.name_of(e.dtype),
                                                     count * sdt.itemsize), key)
        self._check_range(key, e)
        arr = np.empty(count, dtype=sdt)
        raw = arr.view(np.uint8)
        self._read_bytes(key, e, raw)
        if self.verify:
            self._check_crc(key, e, _crc.crc32c(raw))
        if self._big_endian:
            arr = arr.byteswap().view(sdt)
        arr = arr.reshape(e.shape)
        if e.dtype == _dt.DT_BFLOAT16:
            bf16 = _dt.bfloat16_type()
            return arr.view(bf16) if bf16 is not None else _dt.bfloat16_to_float32(arr)
        return arr

    def _read_strings(self, key, e):
        count = math.prod(e.shape)  # exact: a crafted shape must not wrap around
        self._check_range(key, e)
        if count > e.size:  # every element needs at least a 1-byte length
            raise self._corrupt(self.index_path, "{} strings cannot fit in {} bytes".format(
                count, e.size), key)
        buf = np.empty(e.size, dtype=np.uint8)
        self._read_bytes(key, e, buf)
        data = buf.tobytes()
        lengths = []
        pos = 0
        try:
            for _ in range(count):
                n, pos = read_varint(data, pos)
                lengths.append(n)
        except WireError:
            raise self._corrupt(data_file_name(self.prefix, e.shard_id, self.num_shards),
                                "bad string lengths", key) from None
        shard_path = data_file_name(self.prefix, e.shard_id, self.num_shards)
        # The lengths are followed by a 4-byte checksum of them (also when there are none,
        # if the entry has room for it).
        has_crc = bool(count) or len(data) >= pos + 4
        total = sum(lengths)
        if pos + 4 * has_crc + total > len(data):
            raise self._corrupt(shard_path, "string data is shorter than its lengths say", key)
        if self.verify:
            crc = 0
            for n in lengths:
                crc = _crc.crc32c(struct.pack("<I" if n <= 0xFFFFFFFF else "<Q", n), crc)
            if has_crc:
                if _U32.unpack_from(data, pos)[0] != _crc.mask(crc):
                    raise self._corrupt(shard_path, "checksum mismatch in the string lengths",
                                        key)
                crc = _crc.crc32c(data[pos:pos + 4 + total], crc)
            self._check_crc(key, e, crc)
        out = np.empty(count, dtype=object)
        pos += 4 * has_crc
        for i, n in enumerate(lengths):
            out[i] = data[pos:pos + n]
            pos += n
        return out.reshape(e.shape)

    def close(self) -> None:
        """Close the data files (they are reopened on the next read)."""
        files, self._files = self._files, {}
        for f in files.values():
            f.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass
