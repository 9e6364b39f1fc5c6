"""``.safetensors`` files, read and written with NumPy alone (the package is not needed).

The format: an 8-byte little-endian header length N, then N bytes of JSON
``{name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}``,
then the raw little-endian tensor bytes; offsets count from the end of the header.
Reading holds one tensor in memory at a time; so does writing.
"""
import json
import math
import os
import shutil
import struct
import tempfile
import threading

import numpy as np

from tensorpack.checkpoint.formats import array_info, as_tensor_array
from tensorpack.checkpoint.source import CheckpointSource, TensorInfo
from tensorpack.utils.fs import atomic_write

__all__ = ["SafetensorsSource", "write_safetensors", "bf16_from_bits", "bf16_to_bits"]

_MAX_HEADER = 100 * 1000 * 1000  # the reference implementation's limit

# safetensors dtype code -> (NumPy storage dtype, TensorInfo dtype name).
_CODES = {
    "BOOL": ("|b1", "bool"), "U8": ("|u1", "uint8"), "I8": ("|i1", "int8"),
    "U16": ("<u2", "uint16"), "I16": ("<i2", "int16"), "F16": ("<f2", "float16"),
    "BF16": ("<u2", "bfloat16"), "U32": ("<u4", "uint32"), "I32": ("<i4", "int32"),
    "F32": ("<f4", "float32"), "U64": ("<u8", "uint64"), "I64": ("<i8", "int64"),
    "F64": ("<f8", "float64"), "C64": ("<c8", "complex64"),
    "F8_E4M3": ("|u1", "float8_e4m3fn"), "F8_E5M2": ("|u1", "float8_e5m2"),
}
_NAME_TO_CODE = {name: code for code, (_, name) in _CODES.items()}


def _ml_dtypes():
    try:
        import ml_dtypes
        return ml_dtypes
    except ImportError:
        return None


def bf16_from_bits(bits):
    """bfloat16 bit patterns (uint16) as ``ml_dtypes.bfloat16`` if installed, else exact float32."""
    ml = _ml_dtypes()
    bits = bits.astype("<u2", copy=False)
    if ml is not None:
        return bits.view(np.uint16).view(ml.bfloat16)
    return (bits.astype(np.uint32) << 16).view(np.float32)


def bf16_to_bits(arr):
    """bfloat16 bit patterns (uint16) of a bfloat16 or float array, rounding to nearest even."""
    if arr.dtype.name == "bfloat16":
        return arr.view(np.uint16)
    f = np.asarray(arr, dtype=np.float32)
    u = f.view(np.uint32)
    bits = ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16))
    bits = bits.astype(np.uint16)
    nan = np.isnan(f)
    if nan.any():  # rounding could turn a NaN into inf: keep it a (quiet) NaN
        bits[nan] = ((u[nan] >> np.uint32(16)).astype(np.uint16) | np.uint16(0x0040))
    return bits


class SafetensorsSource(CheckpointSource):
    """Tensors of a ``.safetensors`` file.

    bfloat16 tensors are listed as ``"bfloat16"`` and read as ``ml_dtypes.bfloat16`` when
    ml_dtypes is installed, otherwise as float32 (exactly). The file's ``__metadata__``
    is available as :attr:`metadata`.

    Args:
        path (str): the file.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the header is malformed, or an offset points outside the file
            (a truncated or corrupt file); the message names the file.
    """

    def __init__(self, path):
        super().__init__()
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError("safetensors file '{}' does not exist.".format(self.path))
        self._lock = threading.Lock()
        self._f = open(self.path, "rb")
        try:
            self._parse_header()
        except BaseException:
            self._f.close()
            raise

    def _bad(self, what):
        return ValueError("'{}' is not a valid .safetensors file: {}. It may be truncated or "
                          "corrupt.".format(self.path, what))

    def _parse_header(self):
        size = os.fstat(self._f.fileno()).st_size
        raw = self._f.read(8)
        if len(raw) < 8:
            raise self._bad("it is shorter than its 8-byte header length")
        n = struct.unpack("<Q", raw)[0]
        if n > _MAX_HEADER or n > size - 8:
            raise self._bad("header length {} exceeds the file size {}".format(n, size))
        text = self._f.read(n)
        try:
            header = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise self._bad("its header is not valid JSON ({})".format(e)) from None
        except RecursionError:
            raise self._bad("its header nests JSON too deeply") from None
        if not isinstance(header, dict):
            raise self._bad("its header is not a JSON object")
        meta = header.pop("__metadata__", None)
        if meta is not None and not (isinstance(meta, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in meta.items())):
            raise self._bad("__metadata__ must map strings to strings")
        self.metadata = meta or {}
        self._data_start = 8 + n
        data_len = size - self._data_start
        self._entries = {}
        for name, e in header.items():
            self._entries[name] = self._check_entry(name, e, data_len)
        self._check_layout(data_len)

    def _check_layout(self, data_len):
        # As strict as the reference package: the tensors tile the data exactly, in offset
        # order, so a gap, an overlap, two names for one range, or trailing bytes (e.g. an
        # inserted byte that shifts every tensor) is a corrupt file, not silently wrong values.
        spans = sorted((begin, begin + self._nbytes(name), name)
                       for name, (_, _, begin) in self._entries.items())
        pos = 0
        for begin, end, name in spans:
            if begin != pos:
                raise self._bad("tensor '{}' starts at data byte {} but the previous tensor "
                                "ends at byte {} (a {} in the data)".format(
                                    name, begin, pos, "gap" if begin > pos else "overlap"))
            pos = end
        if pos != data_len:
            raise self._bad("its tensors cover {} data bytes but the file holds {} (not fully "
                            "covered)".format(pos, data_len))

    def _nbytes(self, name):
        code, shape, _ = self._entries[name]
        return math.prod(shape) * np.dtype(_CODES[code][0]).itemsize

    def _check_entry(self, name, e, data_len):
        if not isinstance(e, dict) or not {"dtype", "shape", "data_offsets"} <= set(e):
            raise self._bad("tensor '{}' needs dtype, shape and data_offsets".format(name))
        code, shape, offs = e["dtype"], e["shape"], e["data_offsets"]
        if not isinstance(code, str) or code not in _CODES:
            raise self._bad("tensor '{}' has unknown dtype {!r} (known: {})".format(
                name, code, ", ".join(_CODES)))
        if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise self._bad("tensor '{}' has an invalid shape {!r}".format(name, shape))
        if not (isinstance(offs, list) and len(offs) == 2 and all(
                isinstance(o, int) and not isinstance(o, bool) for o in offs)):
            raise self._bad("tensor '{}' has invalid data_offsets {!r}".format(name, offs))
        begin, end = offs
        storage = np.dtype(_CODES[code][0])
        nbytes = math.prod(shape) * storage.itemsize  # exact: no int64 overflow
        if not 0 <= begin <= end or end - begin != nbytes:
            raise self._bad("tensor '{}' ({} {}) needs {} bytes but data_offsets {} give "
                            "{}".format(name, code, shape, nbytes, offs, end - begin))
        if end > data_len:
            raise self._bad("tensor '{}' ends at byte {} of the data, past its end ({} "
                            "bytes)".format(name, end, data_len))
        return code, tuple(shape), begin

    def _list(self):
        return [TensorInfo(name, shape, _CODES[code][1])
                for name, (code, shape, _) in self._entries.items()]

    def _read(self, name):
        code, shape, begin = self._entries[name]
        storage = np.dtype(_CODES[code][0])
        arr = np.empty(shape, dtype=storage)
        buf = arr.reshape(-1).view(np.uint8)
        if buf.size:
            with self._lock:
                self._f.seek(self._data_start + begin)
                got = self._f.readinto(buf)
            if got != buf.size:
                raise ValueError("'{}' ended while reading tensor '{}' ({} of {} bytes); the "
                                 "file is truncated.".format(self.path, name, got, buf.size))
        if not storage.isnative:
            arr = arr.astype(storage.newbyteorder("="))
        if code == "BF16":
            return bf16_from_bits(arr)
        if code.startswith("F8_"):
            ml = _ml_dtypes()
            if ml is None:
                raise ValueError("Tensor '{}' in '{}' is {}; reading it needs the ml_dtypes "
                                 "package (pip install ml_dtypes).".format(name, self.path, code))
            return arr.view(getattr(ml, _CODES[code][1]))
        return arr

    def close(self):
        f = getattr(self, "_f", None)
        if f is not None:
            f.close()
            self._f = None


# ------------------------------------------------------------------------------ writing
def _code_for(info):
    if info.dtype == "string":
        raise ValueError("Tensor '{}' holds strings, which .safetensors cannot store; leave it "
                         "out or save to .npz or a TF checkpoint.".format(info.name))
    code = _NAME_TO_CODE.get(info.dtype)
    if code is None:
        raise ValueError("Tensor '{}' has dtype {}, which .safetensors cannot store (supported: "
                         "{}).".format(info.name, info.dtype, ", ".join(sorted(_NAME_TO_CODE))))
    return code


def _tensor_bytes(name, arr, info, code):
    """The little-endian bytes of ``arr`` as the header promised (``info``), C order."""
    if tuple(arr.shape) != tuple(info.shape):
        raise ValueError("Tensor '{}' was listed with shape {} but read with shape {}.".format(
            name, info.shape, arr.shape))
    if code == "BF16":
        if arr.dtype.name != "bfloat16" and arr.dtype.kind != "f":
            raise ValueError("Tensor '{}' was listed as bfloat16 but read as {}.".format(
                name, arr.dtype))
        out = bf16_to_bits(arr).astype("<u2", copy=False)
    else:
        got = array_info(name, arr).dtype
        if got != info.dtype:
            raise ValueError("Tensor '{}' was listed as {} but read as {}.".format(
                name, info.dtype, got))
        if code.startswith("F8_"):
            out = arr.view(np.uint8)
        else:
            out = arr.astype(np.dtype(_CODES[code][0]), copy=False)
    return np.ascontiguousarray(out).reshape(-1).view(np.uint8)


def _header_bytes(entries, metadata):
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for info, code, nbytes in entries:
        header[info.name] = {"dtype": code, "shape": list(info.shape),
                             "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)  # pad so the data starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text


def _storage_nbytes(info, code):
    return info.size * np.dtype(_CODES[code][0]).itemsize


def write_safetensors(path, tensors, metadata=None, infos=None):
    """Stream tensors into a ``.safetensors`` file, atomically.

    The header needs every shape and dtype before any data: they come from a source's
    ``infos()``, a dict's arrays, or ``infos``; a plain iterable without ``infos`` is first
    spooled to a temporary file next to ``path``. Peak memory is one tensor.

    Args:
        path (str): the output file.
        tensors: a CheckpointSource, a dict, or an iterable of ``(name, array)``.
        metadata (dict[str, str]): optional ``__metadata__``.
        infos (dict[str, TensorInfo]): for an iterable, the shape and dtype of every tensor
            it will yield, keyed by the yielded names (any order).

    Returns:
        str: ``path``.

    Raises:
        ValueError: a tensor .safetensors cannot store (strings, complex128, ...), named;
            an iterable that does not yield exactly the tensors of ``infos``.
    """
    if isinstance(tensors, dict):
        from tensorpack.checkpoint.formats import DictSource
        tensors = DictSource(tensors)
    if isinstance(tensors, CheckpointSource):
        infos, items = tensors.infos(), tensors.items()
    elif infos is not None:
        items = iter(tensors)
    else:
        return _write_from_iterable(path, tensors, metadata)
    sized = []
    for name, info in infos.items():
        info = TensorInfo(name, tuple(info.shape), info.dtype)
        code = _code_for(info)
        sized.append((info, code, _storage_nbytes(info, code)))
    slots, offset = {}, 0
    for info, code, nbytes in sized:
        slots[info.name] = (offset, info, code)
        offset += nbytes
    header = _header_bytes(sized, metadata)
    written = set()
    with atomic_write(path, "wb") as f:
        f.write(header)
        for name, value in items:
            if name not in slots:
                raise ValueError("Tensor '{}' was not announced in infos, so the .safetensors "
                                 "header has no room for it.".format(name))
            if name in written:
                raise ValueError("Tensor '{}' appears twice; names must be unique.".format(name))
            written.add(name)
            off, info, code = slots[name]
            data = _tensor_bytes(name, as_tensor_array(value, name), info, code)
            if f.tell() != len(header) + off:  # tensors may arrive in any order
                f.seek(len(header) + off)
            f.write(data)
        missing = [n for n in slots if n not in written]
        if missing:
            raise ValueError("Tensors {} were announced in infos but never given; the "
                             ".safetensors file would have holes.".format(missing[:5]))
    return path


def _write_from_iterable(path, items, metadata):
    dirname = os.path.dirname(os.path.abspath(path))
    sized, seen = [], set()
    with tempfile.TemporaryFile(dir=dirname, prefix=".safetensors-spool") as spool:
        for name, value in items:
            if not isinstance(name, str):
                raise ValueError("Tensor names must be str, got {!r}.".format(name))
            if name in seen:
                raise ValueError("Tensor '{}' appears twice; names must be unique.".format(name))
            seen.add(name)
            arr = as_tensor_array(value, name)
            info = array_info(name, arr)
            code = _code_for(info)
            data = _tensor_bytes(name, arr, info, code)
            spool.write(data)
            sized.append((info, code, data.size))
        spool.seek(0)
        with atomic_write(path, "wb") as f:
            f.write(_header_bytes(sized, metadata))
            shutil.copyfileobj(spool, f, 1 << 20)
    return path
