"""The per-directory ``checkpoint`` state file, read and written without TensorFlow.

TensorFlow keeps, next to its checkpoints, a small text file named ``checkpoint``: a
``CheckpointState`` protobuf in text format naming the latest checkpoint and the ones
still kept. It looks like::

    model_checkpoint_path: "model-5000"
    all_model_checkpoint_paths: "model-4000"
    all_model_checkpoint_paths: "model-5000"
    all_model_checkpoint_timestamps: 1795493887.9071484
    ...

Paths that are not absolute are relative to the directory holding the file.
"""
import dataclasses
import math
import os
import re
from typing import List, Optional, Sequence, Union

from tensorpack.utils import logger
from tensorpack.utils.fs import atomic_write

__all__ = ["CheckpointState", "read_checkpoint_state", "write_checkpoint_state",
           "latest_checkpoint", "STATE_FILENAME"]

STATE_FILENAME = "checkpoint"

_STRING_FIELDS = ("model_checkpoint_path", "all_model_checkpoint_paths")
_FLOAT_FIELDS = ("all_model_checkpoint_timestamps", "last_preserved_timestamp")
_REPEATED = ("all_model_checkpoint_paths", "all_model_checkpoint_timestamps")


@dataclasses.dataclass
class CheckpointState:
    """The content of a ``checkpoint`` state file.

    Attributes:
        model_checkpoint_path (str): the latest checkpoint prefix.
        all_model_checkpoint_paths (list[str]): the kept checkpoints, oldest first.
        all_model_checkpoint_timestamps (list[float]): their save times (seconds since
            the epoch), if the writer recorded them.
        last_preserved_timestamp (float or None): when the last checkpoint kept for good
            (``keep_checkpoint_every_n_hours``) was saved.
    """
    model_checkpoint_path: str = ""
    all_model_checkpoint_paths: List[str] = dataclasses.field(default_factory=list)
    all_model_checkpoint_timestamps: List[float] = dataclasses.field(default_factory=list)
    last_preserved_timestamp: Optional[float] = None


# --------------------------------------------------------------------------- parsing
_SIMPLE_ESCAPES = {ord("n"): b"\n", ord("t"): b"\t", ord("r"): b"\r", ord('"'): b'"',
                   ord("'"): b"'", ord("\\"): b"\\", ord("a"): b"\a", ord("b"): b"\b",
                   ord("f"): b"\f", ord("v"): b"\v", ord("?"): b"?"}
_TOKEN = re.compile(rb"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<colon>:)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:inf(?:inity)?|nan|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[fF]?)
""", re.VERBOSE | re.IGNORECASE)


def _unescape(body, where):
    """Decode the inside of a text-format string literal (C-style escapes) to bytes."""
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != 0x5C:  # not a backslash: raw byte (raw UTF-8 passes through)
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("{}: a string ends with a lone backslash.".format(where))
        e = body[i + 1]
        if e in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[e]
            i += 2
        elif 0x30 <= e <= 0x37:  # \N, \NN or \NNN octal byte
            j = i + 1
            while j < n and j < i + 4 and 0x30 <= body[j] <= 0x37:
                j += 1
            out.append(int(body[i + 1:j], 8) & 0xFF)
            i = j
        elif e in (ord("x"), ord("X")):
            j = i + 2
            while j < n and j < i + 4 and chr(body[j]) in "0123456789abcdefABCDEF":
                j += 1
            if j == i + 2:
                raise ValueError("{}: '\\x' is not followed by hex digits.".format(where))
            out.append(int(body[i + 2:j], 16))
            i = j
        elif e in (ord("u"), ord("U")):
            width = 4 if e == ord("u") else 8
            digits = body[i + 2:i + 2 + width]
            try:
                out += chr(int(digits, 16)).encode("utf-8", "surrogatepass")
            except ValueError:
                raise ValueError("{}: bad unicode escape {!r}.".format(
                    where, bytes(body[i:i + 2 + width]))) from None
            i += 2 + width
        else:
            raise ValueError("{}: unknown escape '\\{}'.".format(where, chr(e)))
    return bytes(out)


def _parse(data, where):
    """Parse text-format ``CheckpointState`` bytes into a dict of field -> value(s)."""
    fields = {}
    pos, n = 0, len(data)

    def token():
        nonlocal pos
        while pos < n:
            m = _TOKEN.match(data, pos)
            if m is None:
                line = data.count(b"\n", 0, pos) + 1
                raise ValueError("{}: unexpected text at line {}: {!r}.".format(
                    where, line, data[pos:pos + 40]))
            pos = m.end()
            if m.lastgroup != "ws":
                return m.lastgroup, m.group()
        return None, None

    while True:
        kind, text = token()
        if kind is None:
            break
        if kind != "ident":
            raise ValueError("{}: expected a field name, got {!r}.".format(where, text))
        field = text.decode("ascii")
        kind, text = token()
        if kind == "colon":
            kind, text = token()
        if kind == "string":
            # Adjacent string literals concatenate, as in C and protobuf text format.
            value = _unescape(text[1:-1], where)
            save = pos
            while True:
                k2, t2 = token()
                if k2 != "string":
                    pos = save
                    break
                value += _unescape(t2[1:-1], where)
                save = pos
            value = os.fsdecode(value)
        elif kind == "number" or kind == "ident" and text.lower() in (b"inf", b"infinity", b"nan"):
            low = text.lower()
            # A trailing 'f' is text format's float suffix ("1.5f"), not part of "inf".
            value = float(low[:-1] if low.endswith(b"f") and not low.endswith(b"inf") else low)
        else:
            raise ValueError("{}: field '{}' has no value.".format(where, field))
        if field in _STRING_FIELDS and not isinstance(value, str) or \
                field in _FLOAT_FIELDS and not isinstance(value, float):
            raise ValueError("{}: field '{}' has a value of the wrong type: {!r}.".format(
                where, field, value))
        if field in _REPEATED:
            fields.setdefault(field, []).append(value)
        elif field in _STRING_FIELDS or field in _FLOAT_FIELDS:
            fields[field] = value
        else:
            logger.debug("{}: ignoring unknown field '{}'.".format(where, field))
    return fields


def _state_file(path):
    path = os.fspath(path)
    return os.path.join(path, STATE_FILENAME) if os.path.isdir(path) else path


def read_checkpoint_state(path: Union[str, os.PathLike]) -> Optional[CheckpointState]:
    """Read a ``checkpoint`` state file.

    Args:
        path (str): a directory containing ``checkpoint``, or the state file itself.

    Returns:
        CheckpointState or None: None if there is no state file. Relative paths are
        joined with the state file's directory.

    Raises:
        ValueError: the file is malformed (the message names it).
    """
    fname = _state_file(path)
    if not os.path.isfile(fname):
        return None
    with open(fname, "rb") as f:
        data = f.read()
    where = "checkpoint state file '{}'".format(fname)
    fields = _parse(data, where)
    dirname = os.path.dirname(fname)

    def full(p):
        return p if os.path.isabs(p) else os.path.join(dirname, p)

    state = CheckpointState(
        model_checkpoint_path=full(fields["model_checkpoint_path"])
        if fields.get("model_checkpoint_path") else "",
        all_model_checkpoint_paths=[full(p) for p in fields.get("all_model_checkpoint_paths", [])],
        all_model_checkpoint_timestamps=fields.get("all_model_checkpoint_timestamps", []),
        last_preserved_timestamp=fields.get("last_preserved_timestamp"))
    return state


# --------------------------------------------------------------------------- writing
def _escape(s):
    """Quote a path for text format; non-ASCII stays raw UTF-8 when the name is valid UTF-8."""
    raw = os.fsencode(s)
    try:
        raw.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    out = []
    for b in raw:
        if b == 0x22:
            out.append('\\"')
        elif b == 0x5C:
            out.append("\\\\")
        elif b == 0x27:
            out.append("\\'")
        elif b == 0x0A:
            out.append("\\n")
        elif b == 0x0D:
            out.append("\\r")
        elif b == 0x09:
            out.append("\\t")
        elif b < 0x20 or b == 0x7F or (b >= 0x80 and not utf8):
            out.append("\\{:03o}".format(b))
        else:
            out.append(chr(b))
    # Non-ASCII bytes were appended one per char; re-join them as the UTF-8 text they form.
    text = "".join(out)
    return '"' + text.encode("latin1").decode("utf-8") + '"' if utf8 else '"' + text + '"'


def _float(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(x)


def _to_stored(p, dirname, relative):
    p = os.fspath(p)
    # A bare name means "in dirname"; any other relative path is relative to the cwd.
    if not os.path.isabs(p):
        p = os.path.join(dirname, p) if os.path.dirname(p) == "" else os.path.abspath(p)
    if relative:
        return os.path.relpath(p, os.path.abspath(dirname))
    return os.path.abspath(p)


def write_checkpoint_state(
        dirname: Union[str, os.PathLike],
        model_checkpoint_path: Union[str, os.PathLike],
        all_model_checkpoint_paths: Optional[Sequence[Union[str, os.PathLike]]] = None,
        all_model_checkpoint_timestamps: Optional[Sequence[float]] = None,
        last_preserved_timestamp: Optional[float] = None,
        relative: bool = True) -> str:
    """Write ``dirname/checkpoint`` atomically (temporary file, then rename).

    Args:
        dirname (str): the checkpoint directory.
        model_checkpoint_path (str): the latest checkpoint prefix. A bare name
            (``"model-5000"``) is taken to be inside ``dirname``; another relative path is
            relative to the current directory, as for any path.
        all_model_checkpoint_paths (list[str]): kept checkpoints, oldest first;
            ``model_checkpoint_path`` is appended if it is not the last one.
        all_model_checkpoint_timestamps (list[float]): one save time per kept checkpoint.
        last_preserved_timestamp (float): see :class:`CheckpointState`.
        relative (bool): store paths relative to ``dirname`` (TF's
            ``save_relative_paths``), so the directory can be moved. False stores absolute paths.

    Returns:
        str: the state file written.

    Raises:
        ValueError: timestamps are given but their number differs from the number of paths.
    """
    dirname = os.fspath(dirname)
    paths = [os.fspath(p) for p in (all_model_checkpoint_paths or [])]
    model_checkpoint_path = os.fspath(model_checkpoint_path)
    stored_model = _to_stored(model_checkpoint_path, dirname, relative)
    stored_all = [_to_stored(p, dirname, relative) for p in paths]
    if not stored_all or stored_all[-1] != stored_model:
        stored_all.append(stored_model)
    stamps = list(all_model_checkpoint_timestamps or [])
    if stamps and len(stamps) != len(stored_all):
        raise ValueError(
            "write_checkpoint_state('{}'): {} timestamps for {} checkpoint paths {}; give one "
            "timestamp per path (the latest checkpoint counts).".format(
                dirname, len(stamps), len(stored_all), stored_all))
    lines = ["model_checkpoint_path: " + _escape(stored_model)]
    lines += ["all_model_checkpoint_paths: " + _escape(p) for p in stored_all]
    lines += ["all_model_checkpoint_timestamps: " + _float(t) for t in stamps]
    if last_preserved_timestamp:
        lines.append("last_preserved_timestamp: " + _float(last_preserved_timestamp))
    fname = os.path.join(dirname, STATE_FILENAME)
    with atomic_write(fname, "wb") as f:
        f.write(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    return fname




def latest_checkpoint(dirname: Union[str, os.PathLike]) -> Optional[str]:
    """The latest checkpoint named by ``dirname/checkpoint``, like ``tf.train.latest_checkpoint``.

    Args:
        dirname (str): the checkpoint directory (or the state file itself).

    Returns:
        str or None: the prefix, or None if there is no state file, it names no
        checkpoint, or that checkpoint's ``.index`` file does not exist.
    """
    state = read_checkpoint_state(dirname)
    if state is None or not state.model_checkpoint_path:
        return None
    prefix = state.model_checkpoint_path
    return prefix if os.path.isfile(prefix + ".index") else None
