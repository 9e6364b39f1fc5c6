"""Decode the ``TrackableObjectGraph`` stored in TF2 object-based checkpoints.

``tf.train.Checkpoint`` stores variables under keys such as
``model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE`` and keeps, under the key
``_CHECKPOINTABLE_OBJECT_GRAPH``, a serialized graph of the saved Python objects. Each
variable's attribute there records its ``full_name`` (the variable's own name, e.g.
``dense/kernel``), which is what users recognise.
"""
from typing import List, NamedTuple

from tensorpack.utils.protobuf_wire import WireError, iter_fields

__all__ = ["OBJECT_GRAPH_KEY", "VARIABLE_SUFFIX", "TrackableNode", "parse_object_graph",
           "checkpoint_key_full_names", "readable_name"]

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
VARIABLE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


class TrackableNode(NamedTuple):
    """One object of the graph.

    Attributes:
        children (list[tuple(int, str)]): ``(node_id, local_name)`` references.
        attributes (list[tuple(str, str, str)]): ``(name, full_name, checkpoint_key)``.
        slot_variables (list[tuple(int, str, int)]): ``(original_variable_node_id,
            slot_name, slot_variable_node_id)``.
    """
    children: List[tuple]
    attributes: List[tuple]
    slot_variables: List[tuple]


def _text(b):
    if not isinstance(b, (bytes, bytearray, memoryview)):
        raise WireError("expected a string field, found a {} value".format(type(b).__name__))
    return bytes(b).decode("utf-8", "surrogateescape")


def _parse_node(buf):
    children, attributes, slots = [], [], []
    for number, _, value in iter_fields(buf):
        if number == 1:
            node_id, local = 0, ""
            for n, _, v in iter_fields(value):
                if n == 1:
                    node_id = v
                elif n == 2:
                    local = _text(v)
            children.append((node_id, local))
        elif number == 2:
            name = full = key = ""
            for n, _, v in iter_fields(value):
                if n == 1:
                    name = _text(v)
                elif n == 2:
                    full = _text(v)
                elif n == 3:
                    key = _text(v)
            attributes.append((name, full, key))
        elif number == 3:
            orig, slot, var = 0, "", 0
            for n, _, v in iter_fields(value):
                if n == 1:
                    orig = v
                elif n == 2:
                    slot = _text(v)
                elif n == 3:
                    var = v
            slots.append((orig, slot, var))
    return TrackableNode(children, attributes, slots)


def parse_object_graph(data: bytes) -> list[TrackableNode]:
    """Decode a serialized ``TrackableObjectGraph``.

    Args:
        data (bytes): the serialized proto.

    Returns:
        list[TrackableNode]: the nodes; node 0 is the root.

    Raises:
        ValueError: (a :class:`~tensorpack.checkpoint.wire.WireError`) on malformed bytes.
    """
    return [_parse_node(value) for number, _, value in iter_fields(bytes(data)) if number == 1]


def checkpoint_key_full_names(data: bytes) -> dict[str, str]:
    """Map each variable's checkpoint key to its ``full_name``.

    Args:
        data (bytes): the serialized ``TrackableObjectGraph``.

    Returns:
        dict[str, str]: checkpoint key -> full name, for attributes that have a full name.
    """
    out = {}
    for node in parse_object_graph(data):
        for _, full, key in node.attributes:
            if key and full:
                out[key] = full
    return out


def readable_name(key: str) -> str:
    """``key`` without the trailing ``/.ATTRIBUTES/VARIABLE_VALUE`` (unchanged otherwise)."""
    if key.endswith(VARIABLE_SUFFIX):
        return key[:-len(VARIABLE_SUFFIX)]
    return key
