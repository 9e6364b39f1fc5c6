"""CRC-32C (Castagnoli), the checksum of TensorFlow's checkpoint files.

Three implementations, picked once at import in this order:

1. ``google_crc32c`` (C, hardware accelerated) if importable;
2. the ``crc32c`` package if importable;
3. a NumPy implementation (about 0.3-1 GB/s), with a plain Python loop for short inputs.

Set the environment variable ``TENSORPACK_CRC32C_BACKEND`` to ``numpy`` (or
``google_crc32c`` / ``crc32c``) before import to force one; :data:`BACKEND` names the one
in use.

How the NumPy version works: the CRC register is a linear function (over GF(2)) of the
input bits once the initial state is folded into the first bytes. Each 16-byte word's
contribution is the XOR of eight 65536-entry table lookups (one per 16-bit piece). The words'
contributions are then merged pairwise in a tree: merging a left and a right block means
"advancing" the left value over as many zero bytes as the right block holds, which is again
linear and costs two lookups per pair. Tables are built on first use (~10 MB).
"""
import os

import numpy as np

# What the crc functions hash: any bytes-like object, or a NumPy array (its raw bytes).
_BytesLike = bytes | bytearray | memoryview | np.ndarray

__all__ = ["crc32c", "mask", "unmask", "BACKEND", "numpy_crc32c", "python_crc32c"]

_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8
_M32 = 0xFFFFFFFF


def mask(crc: int) -> int:
    """Return the masked form of a crc, as TensorFlow stores it."""
    return ((((crc >> 15) | (crc << 17)) & _M32) + _MASK_DELTA) & _M32


def unmask(masked: int) -> int:
    """Inverse of :func:`mask`."""
    rot = (masked - _MASK_DELTA) & _M32
    return ((rot >> 17) | (rot << 15)) & _M32


def _byte_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _byte_table()


def _raw_python(state, data):
    """Advance the raw (un-inverted) register ``state`` over ``data``."""
    t = _TABLE
    for b in data:
        state = t[(state ^ b) & 0xFF] ^ (state >> 8)
    return state


def python_crc32c(data: _BytesLike, crc: int = 0) -> int:
    """Pure-Python crc32c (slow; used for short inputs).

    Args:
        data: a bytes-like object or a uint8 NumPy array.
        crc (int): the crc of the preceding data, to extend.

    Returns:
        int: the crc of everything so far.
    """
    if isinstance(data, np.ndarray):
        data = data.reshape(-1).view(np.uint8).tobytes()
    return _raw_python(crc ^ _M32, bytes(data)) ^ _M32


# ----------------------------------------------------------------------------- NumPy backend

_WORD = 16                      # bytes per word of the table lookup
_PIECES = _WORD // 2            # 16-bit pieces per word
_CHUNK_WORDS = 1 << 14          # 256 KiB per chunk: temporaries stay near the L2 cache
_SMALL = 256                    # below this many bytes the Python loop is faster


def _expand16(basis):
    """Table of all XOR combinations of 16 basis values, indexed by the 16-bit selector."""
    t = np.zeros(1, dtype=np.uint32)
    for b in basis:
        t = np.concatenate([t, t ^ np.uint32(b)])
    return t


class _Tables:
    """Lazily built lookup tables of the NumPy implementation."""

    def __init__(self):
        # word[j][u]: raw crc (from state 0) of a 16-byte word whose 16-bit piece j is u and
        # whose other bytes are zero.
        self.word = []
        for j in range(_PIECES):
            basis = []
            for bit in range(16):
                word = bytearray(_WORD)
                v = 1 << bit
                word[2 * j] = v & 0xFF
                word[2 * j + 1] = v >> 8
                basis.append(_raw_python(0, word))
            self.word.append(_expand16(basis))
        self.word_all = np.concatenate(self.word)
        self.offsets = np.arange(_PIECES, dtype=np.intp) * 65536
        # shift[k] = (low, high): advance a state over 8 * 2**k zero bytes.
        basis = [_raw_python(1 << bit, bytes(8)) for bit in range(32)]
        self.shift = []
        for _ in range(16):
            low, high = _expand16(basis[:16]), _expand16(basis[16:])
            self.shift.append((low, high))
            # basis holds op(e_i); advancing twice as far is op(op(e_i)).
            basis = [int(low[b & 0xFFFF] ^ high[b >> 16]) for b in basis]


_tables = None


def _get_tables():
    global _tables
    if _tables is None:
        _tables = _Tables()
    return _tables


def _raw_words(state, words):
    """Raw register after ``words`` (uint8 array, a positive multiple of 16 bytes)."""
    tb = _get_tables()
    u = words.view("<u2").reshape(-1, _PIECES)
    # One gather from the concatenated 16-bit tables (np.take on intp is the fast path).
    idx = u.astype(np.intp)
    if state:
        # The register's initial state acts like XOR-ing it into the first four data bytes.
        idx[0, 0] ^= state & 0xFFFF
        idx[0, 1] ^= state >> 16
    idx += tb.offsets
    r = np.take(tb.word_all, idx)
    vals = r[:, 0] ^ r[:, 1]
    for j in range(2, _PIECES):
        vals ^= r[:, j]
    level = 1  # shift[k] advances over 8 * 2**k bytes; one word is 16 bytes
    while len(vals) > 1:
        if len(vals) & 1:
            # A leading zero block adds nothing when starting from state 0.
            vals = np.concatenate([np.zeros(1, np.uint32), vals])
        low, high = tb.shift[level]
        left = vals[0::2]
        merged = np.take(low, left & 0xFFFF)
        merged ^= np.take(high, left >> 16)
        merged ^= vals[1::2]
        vals = merged
        level += 1
    return int(vals[0])


def numpy_crc32c(data: _BytesLike, crc: int = 0) -> int:
    """crc32c computed with NumPy tables (no compiled extension needed).

    Args:
        data: a bytes-like object or a NumPy array (its raw bytes are hashed).
        crc (int): the crc of the preceding data, to extend.

    Returns:
        int: the crc of everything so far.
    """
    if isinstance(data, np.ndarray):
        buf = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    else:
        buf = np.frombuffer(data, dtype=np.uint8)
    n = len(buf)
    if n < _SMALL:
        return _raw_python(crc ^ _M32, buf.tobytes()) ^ _M32
    head = n % _WORD
    state = _raw_python(crc ^ _M32, buf[:head].tobytes())
    step = _CHUNK_WORDS * _WORD
    for start in range(head, n, step):
        state = _raw_words(state, buf[start:start + step])
    return state ^ _M32


# ----------------------------------------------------------------------------- selection

def _load_backend():
    forced = os.environ.get("TENSORPACK_CRC32C_BACKEND", "").strip().lower()
    if forced in ("", "google_crc32c", "google-crc32c", "google"):
        try:
            import google_crc32c
            if getattr(google_crc32c, "implementation", "c") == "c" or forced:
                def fn(data, crc=0):
                    if not isinstance(data, (bytes, np.ndarray)):
                        # google_crc32c accepts only read-only bytes or arrays.
                        data = np.frombuffer(data, dtype=np.uint8)
                    elif isinstance(data, np.ndarray) and data.dtype != np.uint8:
                        data = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
                    return google_crc32c.extend(crc, data)
                return "google_crc32c", fn
        except ImportError:
            pass
    if forced in ("", "crc32c", "google_crc32c", "google-crc32c", "google"):
        try:
            import crc32c as _crc32c_pkg

            def fn(data, crc=0):
                if isinstance(data, np.ndarray) and data.dtype != np.uint8:
                    data = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
                return _crc32c_pkg.crc32c(data, crc)
            return "crc32c", fn
        except ImportError:
            pass
    if forced in ("python", "pure"):
        return "python", python_crc32c
    return "numpy", numpy_crc32c


BACKEND, _impl = _load_backend()


def crc32c(data: _BytesLike, crc: int = 0) -> int:
    """Compute or extend a crc32c.

    ``crc32c(b, crc32c(a)) == crc32c(a + b)``.

    Args:
        data: bytes, bytearray, memoryview or a NumPy array (hashed zero-copy).
        crc (int): the crc of the preceding data (0 to start).

    Returns:
        int: the unmasked crc.
    """
    return _impl(data, crc)
