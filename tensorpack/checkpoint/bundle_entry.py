"""Decode the index entries of a TF checkpoint: BundleEntryProto and its shape and slices.

Listing a checkpoint needs only each entry's dtype and shape, so :func:`dtype_and_shape`
takes a fast path over the protobuf bytes (and shares decoded shapes between entries);
:func:`parse_entry` decodes everything needed to read the tensor.
"""
import struct

from tensorpack.utils.protobuf_wire import WireError, iter_fields, read_varint, signed64

__all__ = ["Entry", "parse_entry", "parse_slice", "dtype_and_shape", "SHAPE_CACHE"]

_U32 = struct.Struct("<I")


class Entry:
    """A decoded ``BundleEntryProto``.

    Attributes:
        dtype (int): DataType number.
        shape (tuple[int]): the tensor's shape.
        shard_id, offset, size (int): where its bytes are.
        crc (int): the masked crc32c of its bytes.
        slices (list[bytes]): serialized TensorSliceProtos, for a partitioned tensor.
    """
    __slots__ = ("dtype", "shape", "shard_id", "offset", "size", "crc", "slices")

    def __init__(self):
        self.dtype = 0
        self.shape = ()
        self.shard_id = self.offset = self.size = self.crc = 0
        self.slices = []


def _parse_shape(buf):
    dims = []
    for number, wtype, value in iter_fields(buf):
        if number == 2 and wtype == 2:
            size = 0
            for n, wt, v in iter_fields(value):
                if n == 1 and wt == 0:
                    size = signed64(v)
            if size < 0:
                raise WireError("negative dimension {} in the shape".format(size))
            dims.append(size)
        elif number == 3 and value:
            raise WireError("the shape has unknown rank")
    return tuple(dims)


SHAPE_CACHE = {}


def dtype_and_shape(value: bytes, _cache: dict[bytes, tuple[int, ...]] = SHAPE_CACHE,
                    ) -> tuple[int, tuple[int, ...]]:
    """Decode only the dtype and shape of a ``BundleEntryProto`` (what listing needs).

    TensorFlow writes ``dtype`` then ``shape`` first; that common layout takes a fast path,
    with decoded shapes cached by their bytes (many tensors share a shape).

    Returns:
        tuple(int, tuple[int]): DataType number and shape.

    Raises:
        WireError: on malformed bytes.
    """
    if len(value) > 3 and value[0] == 0x08 and value[1] < 0x80 and value[2] == 0x12 \
            and value[3] < 0x80:
        raw = value[4:4 + value[3]]
        shape = _cache.get(raw)
        if shape is None:
            if len(raw) != value[3]:
                raise WireError("shape runs past the end of the entry")
            shape = _parse_shape(raw)
            if len(_cache) < 4096:
                _cache[raw] = shape
        return value[1], shape
    e = parse_entry(value)
    return e.dtype, e.shape


def parse_entry(value: bytes, shape: bool = True) -> Entry:
    """Decode a ``BundleEntryProto``.

    Args:
        value (bytes): the serialized proto.
        shape (bool): also decode the shape.

    Returns:
        Entry: the decoded entry.

    Raises:
        WireError: on malformed bytes.
    """
    e = Entry()
    pos, end = 0, len(value)
    try:
        while pos < end:
            tag = value[pos]
            pos += 1
            if tag == 0x12:                       # shape
                n, pos = read_varint(value, pos)
                if pos + n > end:
                    raise WireError("shape runs past the end of the entry")
                if shape:
                    e.shape = _parse_shape(value[pos:pos + n])
                pos += n
            elif tag == 0x35:                     # crc32c, fixed32
                if pos + 4 > end:
                    raise WireError("crc32c runs past the end of the entry")
                e.crc = _U32.unpack_from(value, pos)[0]
                pos += 4
            elif tag in (0x08, 0x18, 0x20, 0x28):  # dtype, shard_id, offset, size
                v, pos = read_varint(value, pos)
                if tag == 0x08:
                    e.dtype = v
                elif tag == 0x18:
                    e.shard_id = v
                elif tag == 0x20:
                    e.offset = v
                else:
                    e.size = v
            elif tag == 0x3A:                     # slices
                n, pos = read_varint(value, pos)
                if pos + n > end:
                    raise WireError("slice runs past the end of the entry")
                e.slices.append(value[pos:pos + n])
                pos += n
            else:
                # An unknown field (or a multi-byte tag): skip it.
                pos = _skip_one(value, pos - 1)
                if pos > end:
                    raise WireError("a field runs past the end of the entry")
    except IndexError:
        raise WireError("truncated entry") from None
    return e


def _skip_one(buf, pos):
    """Position after the one field starting at ``pos``."""
    key, p = read_varint(buf, pos)
    wtype = key & 7
    if wtype == 0:
        return read_varint(buf, p)[1]
    if wtype == 1:
        return p + 8
    if wtype == 5:
        return p + 4
    if wtype == 2:
        n, p = read_varint(buf, p)
        return p + n
    raise WireError("unsupported wire type {}".format(wtype))


def parse_slice(buf: bytes,
                full_shape: tuple[int, ...]) -> tuple[list[int], list[int], list[int]]:
    """Returns (starts, key_lengths, box_lengths) of a serialized TensorSliceProto."""
    starts, key_lengths, lengths = [], [], []
    for number, _, extent in iter_fields(buf):
        if number != 1:
            continue
        start, length = 0, None
        for n, _, v in iter_fields(extent):
            if n == 1:
                start = signed64(v)
            elif n == 2:
                length = signed64(v)
        starts.append(start)
        key_lengths.append(-1 if length is None else length)
    if len(starts) != len(full_shape):
        raise WireError("a slice has rank {} but the tensor has rank {}".format(
            len(starts), len(full_shape)))
    for s, n, dim in zip(starts, key_lengths, full_shape):
        n = dim - s if n == -1 else n
        if s < 0 or n < 0 or s + n > dim:
            raise WireError("a slice [{}, {}) exceeds the dimension {}".format(s, s + n, dim))
        lengths.append(n)
    return starts, key_lengths, lengths
