"""``.npz`` files (read lazily, written streaming) and upstream's legacy ``.npy`` dict.

An ``.npz`` is a zip archive holding one ``.npy`` file per array. Listing parses only
each member's small ``.npy`` header, so no tensor data is read or decompressed.
Reading never unpickles: an object array inside is an error.
"""
import ast
import functools
import io
import math
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npy_format
from numpy.typing import ArrayLike

from tensorpack.checkpoint.formats import (DictSource, as_tensor_array, dtype_info,
                                           refuse_pickle_read)
from tensorpack.checkpoint.source import CheckpointSource
from tensorpack.utils import logger
from tensorpack.utils.fs import atomic_write

__all__ = ["NpzSource", "NpySource", "write_npz", "read_npy_header"]

_NPY_MAGIC = b"\x93NUMPY"
_MAX_HEADER = 1 << 20  # .npy headers are tiny; anything bigger is corrupt
_MAX_DEFLATE_RATIO = 1032  # deflate's largest possible expansion of stored bytes
_CHUNK = 16 << 20
_MMAP_MIN = 1 << 20  # smaller stored members are read outright: a mapping costs more
# What zipfile raises on a damaged member (a bad CRC is BadZipFile; a damaged deflate stream
# zlib.error; an unsupported compression method NotImplementedError).
_ZIP_ERRORS = (zipfile.BadZipFile, EOFError, OSError, RuntimeError, zlib.error,
               NotImplementedError, OverflowError)


def read_npy_header(f: BinaryIO, where: str) -> tuple[np.dtype, tuple[int, ...], bool, int]:
    """Parse a ``.npy`` header from a file object positioned at its start.

    Args:
        f: a readable binary file object.
        where (str): the file (and member) for error messages.

    Returns:
        tuple: ``(dtype, shape, fortran_order, header_bytes)`` where ``header_bytes`` is
        the number of bytes before the data.

    Raises:
        ValueError: if the header is malformed.
    """
    magic = f.read(8)
    if len(magic) < 8 or magic[:6] != _NPY_MAGIC:
        raise ValueError("{} is not a .npy array (bad magic bytes {!r}).".format(where, magic[:6]))
    major = magic[6]
    if major == 1:
        raw, fmt = f.read(2), "<H"
    elif major in (2, 3):
        raw, fmt = f.read(4), "<I"
    else:
        raise ValueError("{} has unsupported .npy version {}.{}.".format(where, major, magic[7]))
    if len(raw) != struct.calcsize(fmt):
        raise ValueError("{} is truncated inside its .npy header.".format(where))
    hlen = struct.unpack(fmt, raw)[0]
    if hlen > _MAX_HEADER:
        raise ValueError("{} has an implausible .npy header length {}.".format(where, hlen))
    text = f.read(hlen)
    if len(text) != hlen:
        raise ValueError("{} is truncated inside its .npy header.".format(where))
    fast = _parse_standard_header(text)
    if fast is not None:
        return fast + (8 + struct.calcsize(fmt) + hlen,)
    try:
        d = ast.literal_eval(text.decode("utf-8" if major == 3 else "latin1"))
        dtype = npy_format.descr_to_dtype(d["descr"])
        shape = tuple(int(x) for x in d["shape"])
        fortran = bool(d["fortran_order"])
        if any(x < 0 for x in shape):
            raise ValueError("negative dimension")
    except Exception as e:  # any parse problem is a corrupt header
        raise ValueError("{} has a malformed .npy header ({}): {!r}".format(
            where, e, text[:200])) from None
    return dtype, shape, fortran, 8 + struct.calcsize(fmt) + hlen


# The header text numpy writes, e.g. "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"
_STANDARD_HEADER = re.compile(
    rb"\{'descr': '([<>|=]?[a-zA-Z][a-zA-Z0-9]*)', 'fortran_order': (True|False), "
    rb"'shape': \(((?:\d+, )*\d*|\d+,)\), \} *\n")


def _parse_standard_header(text):
    """``(dtype, shape, fortran)`` of a header in numpy's own layout, or None for any other
    text (which the general parser then handles): parsing 10,000 headers with ``ast`` showed."""
    m = _STANDARD_HEADER.fullmatch(text)
    if m is None:
        return None
    try:
        dtype = _descr_dtype(m.group(1).decode("ascii"))
    except (TypeError, ValueError):
        return None
    shape = tuple(int(d) for d in m.group(3).replace(b",", b" ").split())
    return dtype, shape, m.group(2) == b"True"


@functools.lru_cache(maxsize=256)
def _descr_dtype(descr):
    return npy_format.descr_to_dtype(descr)


def _info_from_header(name, dtype, shape, where):
    if dtype.hasobject:
        raise ValueError(
            "{} holds a pickled object array; it is not read because unpickling can run "
            "code stored in the file. Re-save it with numeric arrays only.".format(where))
    return dtype_info(name, dtype, shape)


class NpzSource(CheckpointSource):
    """Tensors of an ``.npz`` file (as written by ``np.savez`` / ``np.savez_compressed``).

    Listing reads only the ``.npy`` headers. Every read verifies the member's zip CRC-32
    (as ``np.load`` does), streaming, so memory stays at one tensor: an uncompressed member
    is memory-mapped when ``mmap`` is on and checked in chunks; a compressed one is
    decompressed straight into its array. A member whose declared size the file cannot hold
    is refused before anything is allocated. When a name occurs twice, the last member wins,
    as with ``np.load``.

    Args:
        path (str): the ``.npz`` file.
        mmap (bool): memory-map uncompressed members instead of copying them.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: it is not a valid zip archive (corrupt or truncated).
    """

    def __init__(self, path: str | os.PathLike, mmap: bool = True):
        super().__init__()
        self.path = os.fspath(path)
        self._mmap = mmap
        if not os.path.isfile(self.path):
            raise FileNotFoundError("npz file '{}' does not exist.".format(self.path))
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as e:
            raise ValueError("'{}' is not a readable .npz file ({}); it may be truncated or "
                             "corrupt.".format(self.path, e)) from None
        self._members = {}
        for zinfo in self._zip.infolist():
            if zinfo.is_dir():
                continue
            name = zinfo.filename
            key = name[:-4] if name.endswith(".npy") else name
            self._members.pop(key, None)  # keep insertion order of the last copy
            self._members[key] = zinfo
        self._headers = {}
        self._verified = set()
        self._fd = os.open(self.path, os.O_RDONLY)
        self._size = os.fstat(self._fd).st_size

    def _where(self, key):
        return "'{}' (array '{}')".format(self.path, key)

    def _zipfile(self):
        if self._zip is None:
            raise ValueError("NpzSource('{}') is closed; open it again to read.".format(self.path))
        return self._zip

    def _corrupt(self, key, why):
        return ValueError("Cannot read {}: {}; the file is truncated or corrupt.".format(
            self._where(key), why))

    def _header(self, key):
        """``(dtype, shape, fortran, header_bytes, data_start)`` of a member; ``data_start``
        is the file offset of a stored member's bytes (None for a compressed one)."""
        if key not in self._headers:
            zinfo = self._members[key]
            if zinfo.compress_type == zipfile.ZIP_STORED and not zinfo.flag_bits & 1:
                self._headers[key] = self._stored_header(key, zinfo)
            else:
                try:
                    with self._zipfile().open(zinfo) as f:
                        self._headers[key] = read_npy_header(f, self._where(key)) + (None,)
                except _ZIP_ERRORS as e:
                    raise self._corrupt(key, e) from None
        return self._headers[key]

    def _stored_header(self, key, zinfo):
        # Straight from the local header and the .npy header behind it: one positioned read
        # per member (listing 10,000 members this way is several times faster than zipfile).
        self._zipfile()
        window = self._pread(key, 30 + 4096, zinfo.header_offset)
        if len(window) < 30 or window[:4] != b"PK\x03\x04":
            raise self._corrupt(key, "bad zip local header")
        nlen, xlen = struct.unpack("<HH", window[26:30])
        name = zinfo.orig_filename.encode("utf-8" if zinfo.flag_bits & 0x800 else "cp437")
        if window[30:30 + nlen] != name:
            raise self._corrupt(key, "its local header names {!r}".format(window[30:30 + nlen]))
        start = zinfo.header_offset + 30 + nlen + xlen
        try:
            return read_npy_header(io.BytesIO(window[30 + nlen + xlen:]), self._where(key)) + (
                start,)
        except ValueError:
            if len(window) < 30 + 4096:  # the window held the rest of the file
                raise
        head = self._pread(key, min(zinfo.file_size, _MAX_HEADER + 12), start)  # a huge header
        return read_npy_header(io.BytesIO(head), self._where(key)) + (start,)

    def _pread(self, key, n, offset):
        try:
            return os.pread(self._fd, n, offset)
        except (OSError, OverflowError) as e:
            raise self._corrupt(key, "cannot read {} bytes at offset {} ({})".format(
                n, offset, e)) from None
    def _list(self):
        out = []
        for key in self._members:
            dtype, shape = self._header(key)[:2]
            out.append(_info_from_header(key, dtype, shape, self._where(key)))
        return out

    def _read(self, name):
        self._zipfile()  # fail clearly after close()
        dtype, shape, fortran, hbytes, start = self._header(name)
        zinfo = self._members[name]
        nbytes = math.prod(shape) * dtype.itemsize
        self._check_sizes(name, zinfo, hbytes, nbytes)
        if start is None:
            arr = self._read_zip(zinfo, dtype, shape, fortran, hbytes, nbytes, name)
        elif self._mmap and nbytes >= _MMAP_MIN and dtype.kind not in "SU":
            arr = self._read_mmap(zinfo, dtype, shape, fortran, hbytes, start, name)
        else:
            arr = self._read_stored(zinfo, dtype, shape, fortran, hbytes, start, name)
        if not arr.dtype.isnative and arr.dtype.kind not in "SUO":
            arr = arr.astype(arr.dtype.newbyteorder("="))
        return as_tensor_array(arr, name)

    def _check_sizes(self, name, zinfo, hbytes, nbytes):
        # Sizes come from the file itself, so bound them by what the file can hold before
        # allocating anything: a stored member is as big as its bytes on disk, and deflate
        # cannot expand data more than ~1032 times.
        if zinfo.compress_type == zipfile.ZIP_STORED:
            limit = zinfo.compress_size
        else:
            limit = zinfo.compress_size * _MAX_DEFLATE_RATIO + 1024
        if hbytes + nbytes > zinfo.file_size or zinfo.file_size > limit:
            raise self._corrupt(name, "its header declares {} data bytes but the member holds "
                                "{} ({} stored)".format(nbytes, zinfo.file_size - hbytes,
                                                        zinfo.compress_size))

    def _read_zip(self, zinfo, dtype, shape, fortran, hbytes, nbytes, name):
        order = "F" if fortran else "C"
        try:
            with self._zipfile().open(zinfo) as f:
                f.read(hbytes)
                if nbytes == 0:
                    arr = np.empty(shape, dtype=dtype, order=order)
                else:
                    buf = np.empty(nbytes, dtype=np.uint8)
                    view = memoryview(buf)
                    got = 0
                    while got < nbytes:
                        n = f.readinto(view[got:got + _CHUNK])
                        if not n:
                            break
                        got += n
                    arr = buf.view(dtype).reshape(shape, order=order) if got == nbytes else None
                while f.read(_CHUNK):  # the CRC-32 is checked once the member is read to its end
                    pass
        except _ZIP_ERRORS as e:
            raise self._corrupt(name, e) from None
        if arr is None:
            raise self._corrupt(name, "its data ends after {} of {} bytes".format(got, nbytes))
        return arr

    def _read_stored(self, zinfo, dtype, shape, fortran, hbytes, start, name):
        """A small stored member: one positioned read, CRC-checked, no copy after it."""
        buf = bytearray(zinfo.file_size)
        try:
            got = os.preadv(self._fd, [buf], start)
        except (OSError, OverflowError) as e:
            raise self._corrupt(name, e) from None
        if got != len(buf):
            raise self._corrupt(name, "its data runs past the end of the file")
        if zlib.crc32(buf) != zinfo.CRC:
            raise self._corrupt(name, "Bad CRC-32 (stored {:08x}, computed {:08x})".format(
                zinfo.CRC, zlib.crc32(buf)))
        return np.ndarray(shape, dtype=dtype, buffer=buf, offset=hbytes,
                          order="F" if fortran else "C")

    def _read_mmap(self, zinfo, dtype, shape, fortran, hbytes, start, name):
        if start + zinfo.file_size > self._size:
            raise self._corrupt(name, "its data runs past the end of the file")
        if name not in self._verified:
            self._verify_crc(name, zinfo, start)
            self._verified.add(name)
        return np.memmap(self.path, dtype=dtype, mode="r", offset=start + hbytes, shape=shape,
                         order="F" if fortran else "C")

    def _verify_crc(self, name, zinfo, start):
        crc, pos, end = 0, start, start + zinfo.file_size
        while pos < end:
            chunk = self._pread(name, min(end - pos, _CHUNK), pos)
            if not chunk:
                raise self._corrupt(name, "its data runs past the end of the file")
            crc = zlib.crc32(chunk, crc)
            pos += len(chunk)
        if crc != zinfo.CRC:
            raise self._corrupt(name, "Bad CRC-32 (stored {:08x}, computed {:08x})".format(
                zinfo.CRC, crc))

    def close(self) -> None:
        if getattr(self, "_zip", None) is not None:
            self._zip.close()
            self._zip = None
            os.close(self._fd)


class NpySource(DictSource):
    """Upstream's legacy format: a ``{name: array}`` dict pickled into a ``.npy`` file.

    Loading a pickle can execute code embedded in the file, so it is refused unless
    ``allow_pickle=True`` (``--allow-pickle`` in the scripts). Convert such a file to
    ``.npz`` once, e.g. ``save_tensors('model.npz', NpySource('model.npy', allow_pickle=True))``.

    Args:
        path (str): the ``.npy`` file.
        allow_pickle (bool): opt in to unpickling the file (only for files you trust).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: pickle is needed but not allowed; or the file is not a dict of arrays.
    """

    def __init__(self, path: str | os.PathLike, allow_pickle: bool = False):
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError("npy file '{}' does not exist.".format(path))
        with open(path, "rb") as f:
            dtype, shape, _, _ = read_npy_header(f, "'{}'".format(path))
        if not dtype.hasobject:
            raise ValueError(
                "'{}' holds a single {} array of shape {}, not a dict of named tensors. "
                "Save named tensors with np.savez(...) to a .npz file.".format(path, dtype, shape))
        if not allow_pickle:
            refuse_pickle_read(path)
        try:
            obj = np.load(path, allow_pickle=True, encoding="latin1")
            d = obj.item() if obj.shape == () else None
        except Exception as e:  # unpickling errors come in many types
            raise ValueError("Cannot unpickle '{}': {}; the file may be corrupt.".format(
                path, e)) from None
        if not isinstance(d, dict):
            raise ValueError("'{}' holds a pickled {}, not a dict of name -> array.".format(
                path, type(d).__name__ if d is not None else "object array"))
        logger.info("Loaded the pickled dict in '{}' (allow_pickle=True).".format(path))
        super().__init__(d, path=path)


def _npz_ready(name, arr):
    """The array as it will be stored in an npz that plain ``np.load`` reads."""
    if arr.dtype.kind == "O":
        # Text becomes a fixed-width bytes array (object arrays would need pickle).
        # Fixed-width bytes drop trailing NULs, so refuse values that have them.
        flat = arr.reshape(-1).tolist()
        if any(v.endswith(b"\x00") for v in flat):
            raise ValueError("String tensor '{}' has values ending in NUL bytes, which .npz "
                             "cannot keep (fixed-width bytes drop them); save it to a TF "
                             "checkpoint instead.".format(name))
        return np.array(flat, dtype=bytes).reshape(arr.shape)
    if arr.dtype.name == "bfloat16":
        logger.info("Tensor '{}' is bfloat16, which .npz cannot hold; it is stored as float32 "
                    "(exactly).".format(name))
        return arr.astype(np.float32)
    return arr


def _iter_items(tensors):
    if isinstance(tensors, CheckpointSource):
        return tensors.items()
    if isinstance(tensors, dict):
        return iter(tensors.items())
    return iter(tensors)


def write_npz(path: str,
              tensors: CheckpointSource | dict[str, ArrayLike] | Iterable[tuple[str, ArrayLike]],
              ) -> str:
    """Stream tensors into an uncompressed ``.npz``, atomically.

    Each array becomes its own zip member, written straight into the archive, so peak
    memory is one tensor.

    Args:
        path (str): the output file.
        tensors: a CheckpointSource, a dict, or an iterable of ``(name, array)``.

    Returns:
        str: ``path``.
    """
    seen = set()
    with atomic_write(path, "wb") as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, value in _iter_items(tensors):
                if not isinstance(name, str):
                    raise ValueError("Tensor names must be str, got {!r}.".format(name))
                if name in seen:
                    raise ValueError("Tensor '{}' appears twice; names must be unique.".format(
                        name))
                seen.add(name)
                arr = _npz_ready(name, as_tensor_array(value, name))
                with zf.open(name + ".npy", "w", force_zip64=True) as member:
                    npy_format.write_array(member, np.asanyarray(arr), allow_pickle=False)
    return path
