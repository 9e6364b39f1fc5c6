"""LevelDB-style sorted tables, the container of a checkpoint's ``.index`` file.

Only what TensorFlow writes is supported: uncompressed blocks, no filter blocks, an empty
metaindex block. The writer reproduces TensorFlow's block cutting and index-key
shortening, so the same entries give the same bytes.

Layout: ``[data block, trailer]+ [metaindex block, trailer] [index block, trailer] footer``.
A block is a run of prefix-compressed entries, then uint32 restart offsets and their count;
its 5-byte trailer is a type byte (0 = uncompressed) and the masked crc32c of block + type.
The 48-byte footer holds the metaindex and index block handles and a magic number.
"""
import struct

from tensorpack.checkpoint import crc32c as _crc
from tensorpack.utils.protobuf_wire import WireError, encode_varint, read_varint

__all__ = ["TableError", "read_table", "TableBuilder", "MAGIC", "FOOTER_SIZE"]

MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
TRAILER_SIZE = 5
BLOCK_SIZE = 262144
RESTART_INTERVAL = 16
_U32 = struct.Struct("<I")


class TableError(ValueError):
    """A malformed table (the message says what is wrong, not which file)."""


def _read_handle(buf, pos):
    offset, pos = read_varint(buf, pos)
    size, pos = read_varint(buf, pos)
    return offset, size, pos


def _block(data, offset, size, verify, what):
    """Return the contents of the block at ``offset`` after checking its bounds and crc."""
    end = offset + size
    if end + TRAILER_SIZE > len(data) - FOOTER_SIZE:
        raise TableError("{} (size {}) runs past the end of the file ({} bytes); the file "
                         "is truncated".format(what, size, len(data)))
    contents = data[offset:end]
    ctype = data[end]
    if verify:
        stored = _crc.unmask(_U32.unpack_from(data, end + 1)[0])
        actual = _crc.crc32c(data[end:end + 1], _crc.crc32c(contents))
        if stored != actual:
            raise TableError("checksum mismatch in {}".format(what))
    if ctype != 0:
        raise TableError("{} is compressed (type {}); only uncompressed tables are "
                         "supported".format(what, ctype))
    return contents


def decode_block(block: bytes, what: str = "block") -> list[tuple[bytes, bytes]]:
    """Decode all entries of one block.

    Args:
        block (bytes): block contents without the trailer.
        what (str): the block's description, for error messages.

    Returns:
        list[tuple(bytes, bytes)]: ``(key, value)`` pairs in stored order.

    Raises:
        TableError: if the block is malformed.
    """
    n = len(block)
    if n < 4:
        raise TableError("{} is too short ({} bytes)".format(what, n))
    num_restarts = _U32.unpack_from(block, n - 4)[0]
    limit = n - 4 - 4 * num_restarts
    if limit < 0:
        raise TableError("{} has a bad restart count {}".format(what, num_restarts))
    out = []
    append = out.append
    key = b""
    pos = 0
    try:
        while pos < limit:
            shared = block[pos]
            non_shared = block[pos + 1]
            vlen = block[pos + 2]
            if shared | non_shared | vlen < 0x80:
                pos += 3
            else:
                shared, pos = read_varint(block, pos)
                non_shared, pos = read_varint(block, pos)
                vlen, pos = read_varint(block, pos)
            kend = pos + non_shared
            vend = kend + vlen
            if shared > len(key) or vend > limit:
                raise TableError("{} has a corrupt entry at offset {}".format(what, pos))
            key = key[:shared] + block[pos:kend] if shared else block[pos:kend]
            append((key, block[kend:vend]))
            pos = vend
    except (IndexError, WireError):
        raise TableError("{} has a truncated entry at offset {}".format(what, pos)) from None
    return out


def read_table(data: bytes, verify: bool = True) -> list[tuple[bytes, bytes]]:
    """Read every entry of a table held in memory.

    Args:
        data (bytes): the whole file.
        verify (bool): check every block's crc32c.

    Returns:
        list[tuple(bytes, bytes)]: ``(key, value)`` pairs in key order.

    Raises:
        TableError: bad magic, truncation, checksum mismatch or a malformed block.
    """
    if len(data) < FOOTER_SIZE:
        raise TableError("file is {} bytes, shorter than a table footer ({} bytes); it is "
                         "truncated or not a checkpoint index".format(len(data), FOOTER_SIZE))
    foot = len(data) - FOOTER_SIZE
    lo, hi = struct.unpack_from("<II", data, foot + 40)
    if (hi << 32) | lo != MAGIC:
        raise TableError("bad magic number: not a TensorFlow checkpoint index (or truncated)")
    try:
        _, _, pos = _read_handle(data, foot)
        ioff, isize, _ = _read_handle(data, pos)
    except WireError as e:
        raise TableError("bad footer: {}".format(e)) from None
    what = "index block at offset {}".format(ioff)
    index = decode_block(_block(data, ioff, isize, verify, what), what)
    entries = []
    last = None
    for _, handle in index:
        try:
            off, size, _ = _read_handle(handle, 0)
        except WireError as e:
            raise TableError("bad block handle in the index block: {}".format(e)) from None
        what = "data block at offset {}".format(off)
        for kv in decode_block(_block(data, off, size, verify, what), what):
            if last is not None and kv[0] <= last:
                raise TableError("keys out of order in {}".format(what))
            last = kv[0]
            entries.append(kv)
    return entries


# ----------------------------------------------------------------------------- writing

def _shortest_separator(start, limit):
    """A short key k with start <= k < limit (TensorFlow's bytewise rule)."""
    n = min(len(start), len(limit))
    i = 0
    while i < n and start[i] == limit[i]:
        i += 1
    if i < n:
        d = start[i]
        if d < 0xFF and d + 1 < limit[i]:
            return start[:i] + bytes((d + 1,))
    return start


def _short_successor(key):
    """A short key k >= key: bump the first byte that is not 0xff and cut after it."""
    for i, b in enumerate(key):
        if b != 0xFF:
            return key[:i] + bytes((b + 1,))
    return key


class _BlockBuilder:
    def __init__(self, restart_interval):
        self.interval = restart_interval
        self.reset()

    def reset(self):
        self.buf = bytearray()
        self.restarts = [0]
        self.counter = 0
        self.last = b""

    def add(self, key, value):
        shared = 0
        if self.counter < self.interval:
            last = self.last
            n = min(len(last), len(key))
            while shared < n and last[shared] == key[shared]:
                shared += 1
        else:
            self.restarts.append(len(self.buf))
            self.counter = 0
        self.buf += encode_varint(shared)
        self.buf += encode_varint(len(key) - shared)
        self.buf += encode_varint(len(value))
        self.buf += key[shared:]
        self.buf += value
        self.last = key
        self.counter += 1

    def size_estimate(self):
        return len(self.buf) + 4 * len(self.restarts) + 4

    def empty(self):
        return not self.buf

    def finish(self):
        out = self.buf
        for r in self.restarts:
            out += _U32.pack(r)
        out += _U32.pack(len(self.restarts))
        return bytes(out)


class TableBuilder:
    """Build a table in memory from entries added in strictly increasing key order.

    Example::

        tb = TableBuilder()
        tb.add(b"", header)
        tb.add(b"w", entry)
        data = tb.finish()
    """

    def __init__(self, block_size: int = BLOCK_SIZE):
        self.block_size = block_size
        self.out = bytearray()
        self.data = _BlockBuilder(RESTART_INTERVAL)
        self.index = _BlockBuilder(1)
        self.last_key = None
        self.pending = None  # handle of the last flushed block, awaiting its index key

    def _write_block(self, contents):
        offset = len(self.out)
        self.out += contents
        trailer_type = b"\x00"
        crc = _crc.crc32c(trailer_type, _crc.crc32c(contents))
        self.out += trailer_type + _U32.pack(_crc.mask(crc))
        return encode_varint(offset) + encode_varint(len(contents))

    def _flush(self):
        if self.data.empty():
            return
        self.pending = self._write_block(self.data.finish())
        self.data.reset()

    def add(self, key: bytes, value: bytes) -> None:
        """Append one entry.

        Args:
            key (bytes): greater than every key added before.
            value (bytes): the value.

        Raises:
            ValueError: if ``key`` is not greater than the previous key.
        """
        key = bytes(key)
        if self.last_key is not None and key <= self.last_key:
            raise ValueError("table keys must be added in strictly increasing order: "
                             "{!r} after {!r}".format(key, self.last_key))
        if len(key) + len(value) >= 2 * self.block_size and not self.data.empty():
            self._flush()
        if self.pending is not None:
            self.index.add(_shortest_separator(self.last_key, key), self.pending)
            self.pending = None
        self.last_key = key
        self.data.add(key, value)
        if self.data.size_estimate() >= self.block_size:
            self._flush()

    def finish(self) -> bytes:
        """Returns: bytes: the complete table file."""
        self._flush()
        meta_handle = self._write_block(_BlockBuilder(RESTART_INTERVAL).finish())
        if self.pending is not None:
            self.index.add(_short_successor(self.last_key), self.pending)
            self.pending = None
        index_handle = self._write_block(self.index.finish())
        footer = (meta_handle + index_handle).ljust(40, b"\x00")
        footer += struct.pack("<II", MAGIC & 0xFFFFFFFF, MAGIC >> 32)
        self.out += footer
        return bytes(self.out)
