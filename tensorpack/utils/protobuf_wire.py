"""The protocol-buffer wire format, without the protobuf library: what TensorFlow's
checkpoint index and metagraph and Caffe's files need.

Decoding works on ``bytes`` and positions; every malformed input raises :class:`WireError`
(a ``ValueError``) rather than ``IndexError``, so callers can name the file in the message.
Encoding writes fields in field-number order and leaves out zero scalars, as protobuf does.
"""
import struct
from collections.abc import Iterator

__all__ = ["WireError", "read_varint", "iter_fields", "parse_message", "encode_varint",
           "field_varint", "field_bytes", "field_fixed32", "signed64"]

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """Malformed protocol-buffer bytes."""


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint.

    Args:
        buf (bytes): the buffer.
        pos (int): where the varint starts.

    Returns:
        tuple(int, int): the value and the position after it.

    Raises:
        WireError: if the varint runs past the end or is longer than 10 bytes.
    """
    try:
        b = buf[pos]
    except IndexError:
        raise WireError("varint runs past the end of the data") from None
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    shift = 7
    end = len(buf)
    pos += 1
    while True:
        if pos >= end:
            raise WireError("varint runs past the end of the data")
        if shift > 63:
            raise WireError("varint longer than 10 bytes")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def signed64(value: int) -> int:
    """Reinterpret a decoded varint as a two's complement int64.

    Raises:
        WireError: if ``value`` is not an int (the field had another wire type).
    """
    if not isinstance(value, int):
        raise WireError("expected an integer field, found a {} value".format(
            type(value).__name__))
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >> 63 else value


def iter_fields(buf: bytes | bytearray | memoryview, start: int = 0,
                end: int | None = None) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield the fields of one serialized message.

    Args:
        buf (bytes): holds the message.
        start (int), end (int): the message's byte range in ``buf``.

    Yields:
        tuple(int, int, object): ``(field_number, wire_type, value)``; the value is an int
        for varint and fixed fields, and ``bytes`` for length-delimited ones.

    Raises:
        WireError: on a truncated field or an unknown wire type.
    """
    if not isinstance(buf, (bytes, bytearray, memoryview)):
        # A field expected to hold a nested message had another wire type.
        raise WireError("expected a nested message, found a {} value".format(
            type(buf).__name__))
    if end is None:
        end = len(buf)
    if end > len(buf):
        raise WireError("message runs past the end of the data")
    pos = start
    while pos < end:
        key, pos = read_varint(buf, pos)
        number, wtype = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wtype == VARINT:
            value, pos = read_varint(buf, pos)
        elif wtype == LEN:
            n, pos = read_varint(buf, pos)
            if pos + n > end:
                raise WireError("length-delimited field runs past the end of its message")
            value = buf[pos:pos + n]
            pos += n
        elif wtype == FIXED32:
            if pos + 4 > end:
                raise WireError("fixed32 field runs past the end of its message")
            value = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        elif wtype == FIXED64:
            if pos + 8 > end:
                raise WireError("fixed64 field runs past the end of its message")
            value = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        else:
            raise WireError("unsupported wire type {}".format(wtype))
        if pos > end:
            raise WireError("field runs past the end of its message")
        yield number, wtype, value


def parse_message(buf: bytes) -> dict[int, list[int | bytes]]:
    """Decode a message into ``{field_number: [values...]}`` (repeated fields keep order)."""
    out = {}
    for number, _, value in iter_fields(buf):
        out.setdefault(number, []).append(value)
    return out


def encode_varint(value: int) -> bytes:
    """Encode a non-negative int (or a negative int64, as 10 bytes) as a varint."""
    if value < 0:
        value &= 0xFFFFFFFFFFFFFFFF
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field_varint(number: int, value: int, keep_zero: bool = False) -> bytes:
    """Encode a varint field; empty when ``value`` is 0 unless ``keep_zero``."""
    if not value and not keep_zero:
        return b""
    return encode_varint(number << 3) + encode_varint(int(value))


def field_bytes(number: int, payload: bytes) -> bytes:
    """Encode a length-delimited field (always written, even when empty)."""
    return encode_varint((number << 3) | LEN) + encode_varint(len(payload)) + bytes(payload)


def field_fixed32(number: int, value: int, keep_zero: bool = False) -> bytes:
    """Encode a fixed32 field; empty when ``value`` is 0 unless ``keep_zero``."""
    if not value and not keep_zero:
        return b""
    return encode_varint((number << 3) | FIXED32) + struct.pack("<I", value)
