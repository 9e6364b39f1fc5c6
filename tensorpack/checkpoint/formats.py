"""Every non-TensorFlow tensor file behind one interface, one opener and one writer.

* :class:`DictSource` wraps an in-memory ``{name: array}`` dict.
* :class:`~tensorpack.checkpoint.formats_npz.NpzSource` / ``NpySource`` read ``.npz``
  and upstream's legacy pickled ``.npy`` dict.
* :class:`~tensorpack.checkpoint.formats_safetensors.SafetensorsSource` reads
  ``.safetensors`` without the ``safetensors`` package.
* :func:`open_source` picks the right source for anything a user may pass
  (a source, a dict, a file of any of these kinds, or a TF checkpoint in any path form).
* :func:`save_tensors` streams any of them into ``.npz``, ``.safetensors`` or a TF checkpoint,
  one tensor in memory at a time, atomically.

The format modules are loaded on first use, so importing this one is cheap.
"""
import os
from collections.abc import Iterable, Mapping

import numpy as np
from numpy.typing import ArrayLike

from tensorpack.checkpoint.source import CheckpointSource, TensorInfo
from tensorpack.utils import logger

__all__ = ["DictSource", "NpzSource", "NpySource", "SafetensorsSource", "open_source",
           "save_tensors", "array_info", "dtype_info", "as_tensor_array", "SUPPORTED_KINDS",
           "output_format", "refuse_pickle_read", "check_not_input", "source_files"]

SUPPORTED_KINDS = ("a TensorFlow checkpoint (prefix, .index, .data-*, the 'checkpoint' file "
                   "or its directory)", ".npz", "legacy .npy dict (needs allow_pickle=True)",
                   ".safetensors", "a dict of arrays")

# Magic bytes, to check that a file is what its extension says.
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")   # a member, or an empty zip's end record
_NPY_MAGIC = b"\x93NUMPY"

_LAZY = {"NpzSource": "formats_npz", "NpySource": "formats_npz",
         "SafetensorsSource": "formats_safetensors"}


def __getattr__(name):
    # Sources of the individual formats live in their own modules (loaded on demand).
    if name in _LAZY:
        import importlib
        mod = importlib.import_module("tensorpack.checkpoint." + _LAZY[name])
        return getattr(mod, name)
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))


# ----------------------------------------------------------------------------- arrays
def as_tensor_array(value: ArrayLike, name: str = "?") -> np.ndarray:
    """Turn a stored value into the array a source returns.

    Numbers become arrays as :func:`numpy.asarray` makes them; text (``str``/``bytes``,
    fixed-width ``S``/``U`` arrays, object arrays of them) becomes an ``object`` array of
    ``bytes`` (UTF-8 for ``str``), which is how TF string tensors come back too.

    Args:
        value: an array, a scalar, a ``str``/``bytes`` or a nested list.
        name (str): the tensor name, for the error message.

    Returns:
        np.ndarray

    Raises:
        ValueError: for an object array that holds something other than text.
    """
    arr = np.asarray(value)
    kind = arr.dtype.kind
    if kind == "S":
        return arr.astype(object)
    if kind == "U":
        out = np.empty(arr.shape, dtype=object)
        out.reshape(-1)[:] = [s.encode("utf-8") for s in arr.reshape(-1).tolist()]
        return out
    if kind == "O":
        flat = arr.reshape(-1)
        out = np.empty(arr.shape, dtype=object)
        items = out.reshape(-1)
        for i, v in enumerate(flat):
            if isinstance(v, str):
                v = v.encode("utf-8")
            elif not isinstance(v, bytes):
                raise ValueError(
                    "Tensor '{}' is an object array holding {} values; only numeric arrays "
                    "and text (str/bytes) can be stored as tensors.".format(name, type(v).__name__))
            items[i] = v
        return out
    return arr


def array_info(name: str, arr: np.ndarray) -> TensorInfo:
    """The :class:`TensorInfo` of an array returned by :func:`as_tensor_array`.

    Raises:
        ValueError: for dtypes that no checkpoint format stores (structured / void).
    """
    return dtype_info(name, arr.dtype, arr.shape)


def dtype_info(name: str, dt: np.dtype, shape: Iterable[int]) -> TensorInfo:
    """The :class:`TensorInfo` for a NumPy dtype and shape (text dtypes are ``"string"``).

    Raises:
        ValueError: for dtypes that no checkpoint format stores (structured / void).
    """
    return TensorInfo(name, tuple(int(d) for d in shape), _dtype_name(dt, name))


def _dtype_name(dt, name):
    # numpy's dtype.name is slow enough to show when listing 10,000 tensors: cache it.
    try:
        return _DTYPE_NAMES[dt]
    except KeyError:
        pass
    if dt.kind in "OSU":
        dtype = "string"
    elif dt.name == "bfloat16":
        dtype = "bfloat16"
    elif dt.kind == "V" or dt.fields is not None:
        raise ValueError("Tensor '{}' has dtype {}, which is not a plain numeric dtype; "
                         "convert it to a numeric array first.".format(name, dt))
    else:
        dtype = dt.newbyteorder("=").name
    _DTYPE_NAMES[dt] = dtype
    return dtype


_DTYPE_NAMES = {}


# ----------------------------------------------------------------------------- dict
class DictSource(CheckpointSource):
    """Tensors from an in-memory ``{name: value}`` dict.

    Args:
        tensors (dict): names (str) to arrays or scalars; names are kept as given
            (``"conv1/W"`` and ``"conv1/W:0"`` both work).
        path (str): where the dict came from, for messages (optional).

    Raises:
        ValueError: if a key is not a ``str``, or a value is not numeric or text.
    """

    def __init__(self, tensors: Mapping[str, ArrayLike], path: str | os.PathLike | None = None):
        super().__init__()
        self.path = None if path is None else os.fspath(path)
        if not hasattr(tensors, "items"):
            raise ValueError("DictSource needs a dict of name -> array, got {}.".format(
                type(tensors).__name__))
        self._arrays = {}
        where = " in {}".format(self.path) if self.path else ""
        for k, v in tensors.items():
            if not isinstance(k, str):
                raise ValueError("Tensor names must be str, got {!r} ({}){}.".format(
                    k, type(k).__name__, where))
            self._arrays[k] = as_tensor_array(v, k)

    def _list(self):
        return [array_info(k, v) for k, v in self._arrays.items()]

    def _read(self, name):
        return self._arrays[name]

    def __repr__(self):
        if self.path:
            return "DictSource({!r})".format(self.path)
        return "DictSource(<{} tensors>)".format(len(self._arrays))


# ----------------------------------------------------------------------------- open
def _sniff(path):
    """The kind of a file judged by its first bytes: 'npz', 'npy', 'safetensors' or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except IsADirectoryError:
        return None
    if head[:4] in _ZIP_MAGICS:
        return "npz"
    if head[:6] == _NPY_MAGIC:
        return "npy"
    if len(head) >= 9:
        n = int.from_bytes(head[:8], "little")
        if 2 <= n < (1 << 32) and head[8:9] == b"{":
            return "safetensors"
    return None


def _kind_from_extension(path):
    low = path.lower()
    for ext in (".npz", ".npy", ".safetensors"):
        if low.endswith(ext):
            return ext[1:]
    return None


def _looks_like_checkpoint_form(path):
    from tensorpack.checkpoint.paths import split_checkpoint_file
    from tensorpack.checkpoint.state import STATE_FILENAME
    return os.path.basename(path) == STATE_FILENAME or split_checkpoint_file(path) is not None


def _open_file_kind(kind, path, allow_pickle):
    if kind == "npz":
        from tensorpack.checkpoint.formats_npz import NpzSource
        return NpzSource(path)
    if kind == "npy":
        from tensorpack.checkpoint.formats_npz import NpySource
        return NpySource(path, allow_pickle=allow_pickle)
    from tensorpack.checkpoint.formats_safetensors import SafetensorsSource
    return SafetensorsSource(path)


def open_source(obj: CheckpointSource | Mapping[str, ArrayLike] | str | os.PathLike,
                allow_pickle: bool = False, verify: bool = True) -> CheckpointSource:
    """Open anything that holds named tensors as a :class:`CheckpointSource`.

    Args:
        obj: a :class:`CheckpointSource` (returned as is); a dict or other mapping (a
            :class:`DictSource`); or a path (str / PathLike) to a ``.npz``, ``.npy``
            (legacy pickled dict) or ``.safetensors`` file, or to a TensorFlow checkpoint
            in any form :func:`~tensorpack.checkpoint.paths.resolve_checkpoint_prefix`
            accepts. A file without a known extension is recognised by its content.
        allow_pickle (bool): allow reading a legacy ``.npy`` dict, which needs pickle
            (pickle can run code stored in the file: only for files you trust).
        verify (bool): verify TF checkpoint checksums while reading.

    Returns:
        CheckpointSource: close it (or use ``with``) when done.

    Raises:
        FileNotFoundError: the path does not exist (the message says what was tried).
        ValueError: the file is none of the supported kinds, its content does not match
            its extension, or it is corrupt.
    """
    if isinstance(obj, CheckpointSource):
        return obj
    if isinstance(obj, Mapping):  # a dict, or e.g. the result of np.load on an npz
        return DictSource(obj)
    if not isinstance(obj, (str, os.PathLike)):
        raise ValueError("Cannot read tensors from a {}: expected {}.".format(
            type(obj).__name__, ", ".join(SUPPORTED_KINDS)))
    path = os.fspath(obj)
    ext_kind = _kind_from_extension(path)
    if ext_kind is not None:
        if not os.path.exists(path):
            raise FileNotFoundError("{} file '{}' does not exist.".format(ext_kind, path))
        if os.path.isdir(path):
            raise ValueError("'{}' is a directory, not a {} file.".format(path, ext_kind))
        content = _sniff(path)
        if content != ext_kind:
            raise ValueError(
                "'{}' has the extension .{} but its content is {}. The file may be corrupt "
                "or misnamed; rename it to match its content.".format(
                    path, ext_kind, "a {} file".format(content) if content
                    else "not a {} file".format(ext_kind)))
        return _open_file_kind(ext_kind, path, allow_pickle)

    if os.path.isfile(path) and not _looks_like_checkpoint_form(path) \
            and not os.path.exists(path + ".index"):
        content = _sniff(path)
        if content is not None:
            logger.info("'{}' has no known extension; its content is {}, reading it as "
                        "such.".format(path, content))
            return _open_file_kind(content, path, allow_pickle)
        raise ValueError("'{}' is not a file this library can read. Supported: {}.".format(
            path, "; ".join(SUPPORTED_KINDS)))

    from tensorpack.checkpoint.paths import resolve_checkpoint_prefix
    prefix = resolve_checkpoint_prefix(path)
    from tensorpack.checkpoint.bundle import TFCheckpointSource
    return TFCheckpointSource(prefix, verify=verify)


# ----------------------------------------------------------------------------- save
def save_tensors(path: str | os.PathLike,
                 tensors: CheckpointSource | Mapping[str, ArrayLike]
                 | Iterable[tuple[str, ArrayLike]],
                 fmt: str | None = None,
                 infos: dict[str, TensorInfo] | None = None) -> str:
    """Write tensors to a file, streaming: at most one tensor is in memory at a time.

    Args:
        path (str): the output. ``.npz`` (loads with plain ``np.load``), ``.safetensors``
            (loads with the ``safetensors`` package), anything else is a TF checkpoint prefix.
        tensors: a :class:`CheckpointSource`, a dict of name -> array, or an iterable of
            ``(name, array)`` pairs.
        fmt (str): ``"npz"``, ``"safetensors"`` or ``"tf"`` to override the guess from ``path``.
        infos (dict[str, TensorInfo]): for an iterable, the shape and stored dtype of each
            tensor it yields (keyed by the yielded name). Optional; it lets ``.safetensors``
            stream without a temporary spool file and keeps stored dtypes such as bfloat16
            read back as float32. A source's own ``infos()`` are used automatically.

    Returns:
        str: the path written (for a TF checkpoint, its prefix).

    Raises:
        ValueError: an unknown ``fmt``; the output would overwrite the input; a tensor the
            format cannot store (the message names it).
    """
    path = os.fspath(path)
    fmt = output_format(path, fmt)
    if isinstance(tensors, Mapping):
        tensors = DictSource(tensors)
    if isinstance(tensors, CheckpointSource):
        check_not_input(path, fmt, tensors)
    outputs = [path] if fmt != "tf" else [path + ".index"]
    if any(os.path.exists(p) for p in outputs):
        logger.info("Overwriting '{}' as asked.".format(path))
    if fmt == "npz":
        from tensorpack.checkpoint.formats_npz import write_npz
        write_npz(path, tensors)
    elif fmt == "safetensors":
        from tensorpack.checkpoint.formats_safetensors import write_safetensors
        write_safetensors(path, tensors, infos=infos)
    else:
        from tensorpack.checkpoint.bundle_writer import write_tf_checkpoint
        if isinstance(tensors, CheckpointSource):
            # The infos keep stored dtypes, e.g. bfloat16 read back as float32 without ml_dtypes.
            write_tf_checkpoint(path, tensors.items(), infos=tensors.infos())
        else:
            write_tf_checkpoint(path, tensors, infos=infos)
    return path


# ----------------------------------------------------------------------------- guards
_WRITABLE = ("npz", "safetensors", "tf")


def _refuse_pickle_write(path):
    stem = path[:-len(".npy")] if path.lower().endswith(".npy") else path
    raise ValueError(
        "'{}' cannot be written: the legacy .npy dict format needs pickle, so it is "
        "read-only here; write .npz, .safetensors or a TF checkpoint prefix instead "
        "(e.g. '{}.npz').".format(path, stem))


def output_format(path: str | os.PathLike, fmt: str | None = None) -> str:
    """The format :func:`save_tensors` writes ``path`` in: ``"npz"``, ``"safetensors"`` or
    ``"tf"`` (a TF checkpoint prefix: any other name).

    Args:
        path: the output name.
        fmt (str or None): a format asked for explicitly (``"npz"``, ``".npz"``, ...);
            None guesses from the extension, case-insensitively.

    Raises:
        ValueError: for a legacy ``.npy`` dict (pickle is never written: the message names
            the file and the formats to use instead) or an unknown ``fmt``.
    """
    path = os.fspath(path)
    kind = _kind_from_extension(path) if fmt is None else fmt.lower().lstrip(".")
    if kind == "npy":
        _refuse_pickle_write(path)
    if kind is None:
        return "tf"
    if kind not in _WRITABLE:
        raise ValueError("Unknown output format {!r} for '{}': use 'npz', 'safetensors' or "
                         "'tf'.".format(fmt, path))
    return kind


def refuse_pickle_read(path: str | os.PathLike) -> None:
    """Refuse to read the legacy pickled ``.npy`` dict at ``path`` without an explicit opt-in.

    Raises:
        ValueError: always; the message names the file, why, and the opt-in.
    """
    raise ValueError(
        "'{}' is a legacy tensorpack .npy file: a pickled Python dict. Reading it needs "
        "pickle, and unpickling can run arbitrary code stored in the file, so it is "
        "off by default. If you trust this file, opt in with allow_pickle=True (or "
        "--allow-pickle on the command line), and consider converting it to .npz "
        "once.".format(os.fspath(path)))


def source_files(source: CheckpointSource | None, given: str | os.PathLike | None = None
                 ) -> list[str]:
    """The files reading ``source`` touches: its file, or a TF checkpoint's ``.index`` and
    data shards; plus ``given``, the input as the user named it (e.g. an ``.index`` file).
    """
    from tensorpack.checkpoint.paths import checkpoint_files
    files = [] if given is None else [os.fspath(given)]
    src_path = getattr(source, "path", None)
    if src_path:
        src_path = os.fspath(src_path)
        files.append(src_path)
        if not os.path.isfile(src_path):  # a TF checkpoint prefix
            files += checkpoint_files(src_path)
    return files


def _output_files(path, fmt):
    """Every file writing ``path`` in ``fmt`` may create or replace."""
    if fmt != "tf":
        return [path]
    from tensorpack.checkpoint.paths import INDEX_SUFFIX, checkpoint_files, data_file_name
    return [path, path + INDEX_SUFFIX, data_file_name(path, 0, 1)] + checkpoint_files(path)


def _same_file(a, b):
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:
        return False


def check_not_input(path: str | os.PathLike, fmt: str, source: CheckpointSource | None,
                    given: str | os.PathLike | None = None) -> None:
    """Refuse to write ``path`` when that would overwrite a file the input is read from
    (the same name, a symlink or a hard link to it).

    Args:
        path: the output, as :func:`save_tensors` takes it.
        fmt (str): its format, from :func:`output_format`.
        source: the input being read (its files are found from its ``path``).
        given: the input as the user named it, if that may differ from ``source.path``.

    Raises:
        ValueError: naming the output, the input file it would replace, and the fix.
    """
    path = os.fspath(path)
    inputs = sorted(source_files(source, given), key=lambda f: not os.path.exists(f))
    for inp in inputs:  # files that exist first: the message names a real file
        for out in _output_files(path, fmt):
            if _same_file(out, inp):
                raise ValueError("'{}': refusing to write over the input ('{}' is being "
                                 "read); choose another output name.".format(path, inp))
