"""Handles to many resource variables from one op, where that provably reaches the same
variables.

An assign op needs the variable's handle as input. Taking it from each variable's own
``VarHandleOp`` puts one more node per variable into the subgraph that TensorFlow optimizes
(Grappler) and prepares on a restore's first run, and that first run is most of a restore's
time. TensorFlow's ``_VarHandlesOp`` makes the handles of many variables in one node, by
container and shared name.

A handle names a variable *on the device where the handle is made*, and an assign to a name
that device does not hold creates a new variable there. So a shared handle is used only where
every op of the graph lands on one device: no GPU is visible and no op asks for a device other
than CPU 0 (:class:`OneDeviceCheck`). Elsewhere each variable's own handle is used. The shared
op is also colocated with its variables, so that an op added later cannot place a variable
apart from the op that names it.
"""
import tensorflow as tf

__all__ = ["OneDeviceCheck", "shared_handles", "named_handles", "handle_attrs",
           "var_handles_attrs", "colocation_groups", "fast_op", "HANDLES_PER_OP"]

HANDLES_PER_OP = 500  # like RestoreV2 keys: TF's graph passes handle many mid-sized ops best

_ANONYMOUS = "cd2c89b7-88b7-44c8-ad83-06c2a9158347"  # ResourceHandle::ANONYMOUS_NAME


def _on_cpu0(device):
    if not device:
        return True
    try:
        spec = tf.DeviceSpec.from_string(device)
    except (ValueError, TypeError):
        return False
    return (spec.job is None and spec.replica is None and spec.task is None
            and (spec.device_type or "CPU").upper() == "CPU" and spec.device_index in (None, 0))


def fast_op(graph, op_type, inputs, out_dtypes, attrs, name=None):
    """Create an op with the graph's internal constructor, skipping the generated wrapper's
    argument processing (it costs more than the op itself, for thousands of ops).

    Returns None if this TensorFlow's graph has no such constructor, so the caller can use
    the public wrapper instead.
    """
    create = getattr(graph, "_create_op_internal", None)
    if create is None:
        return None
    try:
        return create(op_type, inputs, out_dtypes, attrs=attrs, name=name or op_type)
    except TypeError:  # a signature this code does not know
        return None


class OneDeviceCheck:
    """Whether every op of a graph lands on CPU 0: no GPU is visible and no op asks for
    another device. Ops are scanned once: a later call looks only at ops added since."""

    def __init__(self, graph):
        self._graph = graph
        self._seen = 0
        self._ok = True

    def __call__(self) -> bool:
        from tensorpack.graph_builder.devices import gpu_available
        if not self._ok or gpu_available():
            self._ok = False
            return False
        ops = self._graph.get_operations()
        for op in ops[self._seen:]:
            if not _on_cpu0(op.device):
                self._ok = False
                break
        self._seen = len(ops)
        return self._ok


def handle_attrs(var) -> "tuple | None":
    """(container, shared name, shape) of the variable's ``VarHandleOp``, or None if its
    handle cannot be remade by name."""
    op = getattr(getattr(var, "handle", None), "op", None)
    if op is None or op.type != "VarHandleOp":
        return None
    attr = op.node_def.attr
    name = attr["shared_name"].s
    if not name or name.decode() == _ANONYMOUS or list(attr["allowed_devices"].list.s):
        return None
    return attr["container"].s, name, attr["shape"].shape


def named_handles(variables, one_device: OneDeviceCheck) -> "list | None":
    """:func:`handle_attrs` of every variable, or None where a handle made by name could
    reach another variable: no variables, :class:`OneDeviceCheck` fails, or a variable is not
    a named resource variable."""
    if not variables or not one_device():
        return None
    attrs = [handle_attrs(v) for v in variables]
    return None if any(a is None for a in attrs) else attrs


def var_handles_attrs(attrs, variables) -> dict:
    """The attributes (``{name: AttrValue}``) of one ``_VarHandlesOp`` making the handles of
    ``variables``, whose :func:`handle_attrs` are ``attrs``."""
    from tensorflow.core.framework import attr_value_pb2
    A = attr_value_pb2.AttrValue
    return {"containers": A(list=A.ListValue(s=[a[0] for a in attrs])),
            "shared_names": A(list=A.ListValue(s=[a[1] for a in attrs])),
            "shapes": A(list=A.ListValue(shape=[a[2] for a in attrs])),
            "dtypes": A(list=A.ListValue(
                type=[v.dtype.base_dtype.as_datatype_enum for v in variables])),
            "N": A(i=len(attrs))}


def colocation_groups(variables) -> list:
    """The ``_class`` attribute that puts an op in each variable's colocation group (the
    placer merges the groups transitively)."""
    return sorted({b"loc:@" + v.op.name.encode() for v in variables})


def shared_handles(graph, variables, one_device: OneDeviceCheck) -> list:
    """Handles of ``variables`` (in order), :data:`HANDLES_PER_OP` per ``_VarHandlesOp``.

    Returns each variable's own handle instead (None for a reference variable) where a shared
    handle could reach another variable (see :func:`named_handles`) or this TensorFlow has no
    ``_VarHandlesOp``.
    """
    own = [None if v.dtype._is_ref_dtype else v.handle for v in variables]
    if len(variables) < 2 or any(h is None for h in own):
        return own
    attrs = named_handles(variables, one_device)
    if attrs is None:
        return own
    from tensorflow.core.framework import attr_value_pb2
    A = attr_value_pb2.AttrValue
    out = []
    for i in range(0, len(attrs), HANDLES_PER_OP):
        part_vars = variables[i:i + HANDLES_PER_OP]
        op_attrs = var_handles_attrs(attrs[i:i + HANDLES_PER_OP], part_vars)
        op_attrs["_class"] = A(list=A.ListValue(s=colocation_groups(part_vars)))
        try:
            op = fast_op(graph, "_VarHandlesOp", [], [tf.resource] * len(part_vars),
                         op_attrs, name="VarHandles")
        except (ValueError, tf.errors.OpError):  # no such op in this TensorFlow
            op = None
        if op is None:
            return own
        out.extend(op.outputs)
    return out
