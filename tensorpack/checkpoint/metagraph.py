"""Read the variable collections of a ``.meta`` file (a serialized MetaGraphDef) without TensorFlow.

``ModelSaver`` writes one ``graph-*.meta`` per run. The scripts only need to know which
variables the graph put in which collection (``trainable_variables``, ``model_variables``,
``variables``, ...), so this module decodes just that part of the protobuf with the
wire-format helpers of :mod:`tensorpack.checkpoint.wire` instead of importing TensorFlow.

Field numbers used (from TensorFlow's ``meta_graph.proto`` and ``variable.proto``):

- MetaGraphDef: 4 ``collection_def`` (a ``map<string, CollectionDef>``: entries with
  1 = key, 2 = value).
- CollectionDef (a oneof): 1 ``node_list``, 2 ``bytes_list``, 3 ``int64_list``,
  4 ``float_list``, 5 ``any_list``; each list message keeps its items in field 1.
- VariableDef: 1 ``variable_name``, 4 ``save_slice_info_def``, 5 ``is_resource``,
  7 ``trainable``. SaveSliceInfoDef: 1 ``full_name``.
"""
import os
import struct
from typing import NamedTuple, Optional, Union

from tensorpack.checkpoint.names import normalize_name
from tensorpack.utils.protobuf_wire import (FIXED32 as _FIXED32, LEN as _LEN, VARINT as _VARINT,
                                        WireError, iter_fields, read_varint, signed64)

__all__ = ["VariableRecord", "VARIABLE_COLLECTIONS", "read_metagraph_collections",
           "read_metagraph_variable_records", "read_metagraph_variables",
           "model_variable_names"]

# Collections that TensorFlow serializes as a bytes_list of VariableDef protos (these are
# the keys it registers a VariableDef converter for). Any other collection holding
# variables is stored as plain tensor names and is not reported here.
VARIABLE_COLLECTIONS = frozenset([
    "variables", "trainable_variables", "model_variables", "local_variables",
    "moving_average_variables", "metric_variables", "global_step",
])

_KINDS = {1: "node_list", 2: "bytes_list", 3: "int64_list", 4: "float_list", 5: "any_list"}


class _Malformed(Exception):
    """Raised inside the decoder; turned into a ValueError naming the file."""


class VariableRecord(NamedTuple):
    """One VariableDef from a variable collection.

    Attributes:
        name (str): the variable's op name, without ``:0`` (e.g. ``part/part_0``).
        checkpoint_key (str): the name its value is saved under in a checkpoint. Equal to
            ``name`` except for a slice of a partitioned variable, which is saved as part of
            the full variable (e.g. ``part``).
        trainable (bool or None): the VariableDef's own ``trainable`` flag, None if unset.
        is_resource (bool): whether it is a resource variable.
    """
    name: str
    checkpoint_key: str
    trainable: Optional[bool]
    is_resource: bool


def _fields(buf):
    """``(field_number, wire_type, value)`` of one message; malformed bytes raise _Malformed."""
    try:
        yield from iter_fields(buf)
    except WireError as e:
        raise _Malformed(str(e)) from None


def _text(value, what):
    if not isinstance(value, bytes):
        raise _Malformed("{} is not a string field".format(what))
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise _Malformed("{} is not valid UTF-8".format(what)) from None


def _decode_list(kind, body):
    """Items of one CollectionDef list message (all kept in its field 1)."""
    items = []
    for number, wtype, value in _fields(body):
        if number != 1:
            continue
        if kind == "node_list":
            items.append(_text(value, "a node_list item"))
        elif kind in ("bytes_list", "any_list"):
            if wtype != _LEN:
                raise _Malformed("a {} item is not length-delimited".format(kind))
            items.append(value)
        elif kind == "int64_list":
            items.extend(signed64(v) for v in _unpack_packed(wtype, value))
        else:  # float_list: packed or single fixed32 floats
            if wtype == _LEN:
                if len(value) % 4:
                    raise _Malformed("a packed float list has a partial element")
                items.extend(struct.unpack("<{}f".format(len(value) // 4), value))
            elif wtype == _FIXED32:
                items.append(struct.unpack("<f", value.to_bytes(4, "little"))[0])
            else:
                raise _Malformed("a float_list item has wire type {}".format(wtype))
    return items


def _unpack_packed(wtype, value):
    """Varints stored singly or packed (proto3 packs repeated scalars by default)."""
    if wtype == _VARINT:
        return [value]
    if wtype != _LEN:
        raise _Malformed("an int64_list item has wire type {}".format(wtype))
    out, pos = [], 0
    while pos < len(value):
        try:
            v, pos = read_varint(value, pos)
        except WireError as e:
            raise _Malformed(str(e)) from None
        out.append(v)
    return out


def _decode_collection_entry(entry):
    """One map entry of ``collection_def``. Returns (name, kind, items)."""
    name, kind, items = "", None, []
    for number, wtype, value in _fields(entry):
        if number == 1:
            name = _text(value, "a collection name")
        elif number == 2:
            if wtype != _LEN:
                raise _Malformed("a CollectionDef is not length-delimited")
            for cnumber, cwtype, cvalue in _fields(value):
                if cnumber in _KINDS:
                    if cwtype != _LEN:
                        raise _Malformed("a collection list is not length-delimited")
                    kind = _KINDS[cnumber]
                    items = _decode_list(kind, cvalue)
    return name, kind, items


def _read_file(path):
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError("{}: is a directory, expected a .meta file (a serialized "
                                "MetaGraphDef, e.g. graph-XXXX.meta).".format(path))
    if not os.path.exists(path):
        raise FileNotFoundError("{}: no such file; expected a .meta file (a serialized "
                                "MetaGraphDef, e.g. graph-XXXX.meta).".format(path))
    with open(path, "rb") as f:
        return f.read()


def _parse(path):
    data = _read_file(path)
    if not data:
        raise ValueError("{}: the file is empty; expected a serialized MetaGraphDef."
                         .format(path))
    stripped = data.lstrip()
    if stripped[:14] in (b"meta_info_def ", b"meta_info_def{") or \
            stripped.startswith(b"graph_def {"):
        raise ValueError("{}: this is a text-format MetaGraphDef; only the binary .meta "
                         "files written by Saver / ModelSaver are supported.".format(path))
    collections = {}
    try:
        for number, wtype, value in _fields(data):
            if number == 4:
                if wtype != _LEN:
                    raise _Malformed("collection_def is not length-delimited")
                name, kind, items = _decode_collection_entry(value)
                collections[name] = (kind, items)
            # Fields 1-3 and 5-7 (meta info, graph, saver, signatures, ...) are skipped,
            # but _fields still checks that they are well formed.
    except _Malformed as e:
        raise ValueError("{}: not a valid MetaGraphDef (.meta) file, or it is truncated or "
                         "corrupt: {}.".format(path, e)) from None
    return collections


def read_metagraph_collections(
        path: Union[str, os.PathLike]) -> dict[str, tuple[Optional[str], list]]:
    """Every collection in a ``.meta`` file, undecoded.

    Args:
        path (str): a binary MetaGraphDef file, e.g. ``train_log/run/graph-1122-334455.meta``.

    Returns:
        dict[str, tuple(str, list)]: collection name -> (kind, items), where kind is
        ``"node_list"`` (items are tensor / op names), ``"bytes_list"`` (items are bytes,
        usually serialized protos), ``"int64_list"``, ``"float_list"`` or ``"any_list"``,
        or None for an empty CollectionDef.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not a binary MetaGraphDef, or is truncated or corrupt.
    """
    return _parse(path)


def _decode_variable_def(blob):
    name, full_name, trainable, is_resource = None, None, None, False
    for number, wtype, value in _fields(blob):
        if number == 1:
            name = _text(value, "VariableDef.variable_name")
        elif number == 4 and wtype == _LEN:
            for snumber, _, svalue in _fields(value):
                if snumber == 1:
                    full_name = _text(svalue, "SaveSliceInfoDef.full_name")
        elif number == 5 and wtype == _VARINT:
            is_resource = bool(value)
        elif number == 7 and wtype == _VARINT:
            trainable = bool(value)
    if not name:
        raise _Malformed("a VariableDef has no variable_name")
    op_name = normalize_name(name)
    return VariableRecord(op_name, normalize_name(full_name) if full_name else op_name,
                          trainable, is_resource)


def read_metagraph_variable_records(
        path: Union[str, os.PathLike]) -> dict[str, list[VariableRecord]]:
    """The VariableDefs of every variable collection in a ``.meta`` file.

    Args:
        path (str): a binary MetaGraphDef file.

    Returns:
        dict[str, list[VariableRecord]]: for each collection of :data:`VARIABLE_COLLECTIONS`
        present in the file, its variables in the graph's order.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not a binary MetaGraphDef, is truncated or corrupt, or
            a variable collection does not hold VariableDefs.
    """
    result = {}
    for cname, (kind, items) in _parse(path).items():
        if cname not in VARIABLE_COLLECTIONS:
            continue
        if kind not in ("bytes_list", None):
            raise ValueError("{}: collection '{}' holds a {}, expected serialized "
                             "VariableDefs (a bytes_list).".format(path, cname, kind))
        try:
            result[cname] = [_decode_variable_def(b) for b in items]
        except _Malformed as e:
            raise ValueError("{}: collection '{}' has a corrupt VariableDef: {}."
                             .format(path, cname, e)) from None
    return result


def read_metagraph_variables(path: Union[str, os.PathLike]) -> dict[str, list[str]]:
    """Variable names per collection, read from a ``.meta`` file without TensorFlow.

    Args:
        path (str): a binary MetaGraphDef file (what ``Saver.save`` and ``ModelSaver``
            write next to a checkpoint).

    Returns:
        dict[str, list[str]]: collection name (``"trainable_variables"``, ``"variables"``,
        ``"model_variables"``, ``"local_variables"``, ...) -> the op names of its variables
        (no ``:0``), in the graph's order. Only collections present in the file appear.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not a binary MetaGraphDef, or is truncated or corrupt.
    """
    return {k: [r.name for r in v] for k, v in read_metagraph_variable_records(path).items()}


def model_variable_names(path: Union[str, os.PathLike]) -> list[str]:
    """The checkpoint keys a model needs at inference time (upstream's rule).

    A variable is kept when it is in ``variables`` (global) and in ``trainable_variables``
    or ``model_variables``. Slices of a partitioned variable map to the full variable's key.

    Args:
        path (str): a binary MetaGraphDef file.

    Returns:
        list[str]: checkpoint keys, without duplicates, in the graph's order.

    Raises:
        FileNotFoundError, ValueError: as :func:`read_metagraph_variables`.
    """
    records = read_metagraph_variable_records(path)
    global_names = {r.name for r in records.get("variables", [])}
    keys = {}  # an ordered set
    for r in records.get("trainable_variables", []) + records.get("model_variables", []):
        if r.name in global_names:
            keys.setdefault(r.checkpoint_key)
    return list(keys)
