"""OrderedCode: the binary keys under which TensorFlow stores slices of a partitioned tensor.

A slice key is ``NumIncreasing(0) String(name) NumIncreasing(rank)`` followed, per
dimension, by ``SignedNumIncreasing(start) SignedNumIncreasing(length)`` (length -1 means
the full extent). Keys start with byte 0x00, so they sort before every ordinary name.
"""
from collections.abc import Sequence

__all__ = ["encode_slice_key", "decode_slice_key", "encode_num_increasing",
           "encode_signed_num_increasing", "decode_signed_num_increasing", "encode_string"]

# XOR masks for the first two bytes of a SignedNumIncreasing of n bytes (n = 2..10).
_HEADER = {1: (0x80, 0), 2: (0xC0, 0), 3: (0xE0, 0), 4: (0xF0, 0), 5: (0xF8, 0), 6: (0xFC, 0),
           7: (0xFE, 0), 8: (0xFF, 0), 9: (0xFF, 0x80), 10: (0xFF, 0xC0)}


def encode_num_increasing(value: int) -> bytes:
    """A length byte, then ``value`` big-endian without leading zero bytes."""
    if value < 0:
        raise ValueError("NumIncreasing takes a non-negative value, got {}".format(value))
    body = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return bytes((len(body),)) + body


def encode_string(s: bytes) -> bytes:
    """``s`` with 0x00 escaped as 00 ff and 0xff as ff 00, then the terminator 00 01."""
    return _escape(bytes(s)) + b"\x00\x01"


def _escape(s):
    out = bytearray()
    for b in s:
        if b == 0:
            out += b"\x00\xff"
        elif b == 0xFF:
            out += b"\xff\x00"
        else:
            out.append(b)
    return bytes(out)


def encode_signed_num_increasing(value: int) -> bytes:
    """Order-preserving encoding of a signed int64 (1 to 10 bytes)."""
    x = ~value if value < 0 else value
    if x < 64:
        return bytes(((0x80 ^ value) & 0xFF,))
    n = x.bit_length() // 7 + 1
    raw = bytearray((value & ((1 << 80) - 1)).to_bytes(10, "big")[10 - n:])
    m0, m1 = _HEADER[n]
    raw[0] ^= m0
    if n > 1:
        raw[1] ^= m1
    return bytes(raw)


def decode_signed_num_increasing(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode a SignedNumIncreasing.

    Returns:
        tuple(int, int): the value and the position after it.

    Raises:
        ValueError: if the bytes are truncated.
    """
    if pos >= len(buf):
        raise ValueError("truncated signed number")
    first = buf[pos]
    negative = not first & 0x80
    inv = 0xFF if negative else 0
    b0 = first ^ inv
    # Count the leading 1 bits (after the sign bit's polarity is fixed) to get the length.
    n = 1
    bit = 0x40
    while n < 8 and b0 & bit:
        n += 1
        bit >>= 1
    if n == 8:
        # Lengths 9 and 10 continue the header into the second byte.
        if pos + 1 >= len(buf):
            raise ValueError("truncated signed number")
        b1 = buf[pos + 1] ^ inv
        if b1 & 0x80:
            n = 10 if b1 & 0x40 else 9
    if pos + n > len(buf):
        raise ValueError("truncated signed number")
    bits = 8 * n
    m0, m1 = _HEADER[n]
    hmask = ((m0 << 8 | m1) << (bits - 16)) if n > 1 else m0
    value = int.from_bytes(buf[pos:pos + n], "big") ^ hmask
    if negative:
        value -= 1 << bits
    return value, pos + n


def encode_slice_key(name: str | bytes, starts: Sequence[int], lengths: Sequence[int]) -> bytes:
    """The key of one stored slice.

    Args:
        name (str or bytes): the full tensor's name.
        starts, lengths (sequence of int): per dimension; a length of -1 means full extent.

    Returns:
        bytes: the key.
    """
    if isinstance(name, str):
        name = name.encode("utf-8")
    parts = [encode_num_increasing(0), encode_string(name), encode_num_increasing(len(starts))]
    for s, n in zip(starts, lengths):
        parts.append(encode_signed_num_increasing(int(s)))
        parts.append(encode_signed_num_increasing(int(n)))
    return b"".join(parts)


def _decode_num_increasing(buf, pos):
    n = buf[pos]
    return int.from_bytes(buf[pos + 1:pos + 1 + n], "big"), pos + 1 + n


def _decode_string(buf, pos):
    out = bytearray()
    while True:
        b = buf[pos]
        if b == 0:
            nxt = buf[pos + 1]
            if nxt == 1:
                return bytes(out), pos + 2
            out.append(0)
        elif b == 0xFF:
            out.append(0xFF)
        else:
            out.append(b)
            pos += 1
            continue
        pos += 2


def decode_slice_key(key: bytes) -> tuple[bytes, list[int], list[int]]:
    """Inverse of :func:`encode_slice_key`.

    Returns:
        tuple(bytes, list[int], list[int]): name, starts, lengths.

    Raises:
        ValueError: if ``key`` is not a slice key.
    """
    try:
        zero, pos = _decode_num_increasing(key, 0)
        if zero != 0:
            raise ValueError("not a slice key")
        name, pos = _decode_string(key, pos)
        rank, pos = _decode_num_increasing(key, pos)
        starts, lengths = [], []
        for _ in range(rank):
            s, pos = decode_signed_num_increasing(key, pos)
            n, pos = decode_signed_num_increasing(key, pos)
            starts.append(s)
            lengths.append(n)
    except IndexError:
        raise ValueError("truncated slice key {!r}".format(key)) from None
    return name, starts, lengths
