"""Restore a chunk of variables (read from a TF checkpoint, or fed) with one function call
that the session's graph optimizer leaves alone.

The first time a session runs a new set of ops, TensorFlow optimizes the subgraph it runs
(Grappler: about twenty passes, each over every node). A restore of 10,000 variables runs
10,000 assign nodes, and those passes were most of its time, for nothing: reading a
checkpoint into variables has nothing to optimize. So the reads and assigns of a chunk
(:func:`restore_call`), or the assigns of its fed values (:func:`feed_call`), are the body of
one function, called by one node:

* the function is marked ``_noinline``, so it stays one call instead of being inlined back
  into the graph, and ``_tf_data_function``: the session's optimizer optimizes every
  function a run reaches, with the session's options, except functions so marked (tf.data's
  functions are optimized when they are instantiated instead);
* the call's own ``config_proto`` turns the optimizer off for that instantiation.

The body takes the variables' handles by name (``_VarHandlesOp``) on the call's device, so
it is used only where every op of the graph lands on one device
(:class:`~tensorpack.tfutils.var_handles.OneDeviceCheck`), and the call is colocated with
its variables. Elsewhere, or where this TensorFlow lacks an API used here, both functions
return None and the caller builds plain ops.

The function is named by a hash of its body: building the same restore in another graph, or
importing a meta graph that holds it, reuses the definition instead of clashing with it.
"""
import hashlib

import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.tfutils.var_handles import (HANDLES_PER_OP, OneDeviceCheck, colocation_groups,
                                            fast_op, named_handles, var_handles_attrs)

__all__ = ["restore_call", "feed_call", "FUNCTION_PREFIX", "is_restore_function"]

FUNCTION_PREFIX = "tensorpack_restore_"


def is_restore_function(name: str) -> bool:
    """Whether ``name`` names a function made by :func:`restore_call` or :func:`feed_call`."""
    return name.startswith(FUNCTION_PREFIX)


def restore_call(graph: "tf.Graph", prefix: "tf.Tensor", keys: list, variables: list,
                 one_device: "OneDeviceCheck", keys_per_read: int) -> "tf.Operation | None":
    """One op that restores ``keys`` of the checkpoint whose prefix ``prefix`` is fed into
    ``variables`` (in order; the values need no conversion).

    Args:
        graph (tf.Graph): the graph, not finalized.
        prefix (tf.Tensor): a scalar string placeholder: the checkpoint prefix.
        keys (list[str]): the keys as stored.
        variables (list[tf.Variable]): where each key goes.
        one_device (OneDeviceCheck): the graph's check.
        keys_per_read (int): keys per ``RestoreV2`` node in the body.

    Returns:
        tf.Operation or None: the call, or None where handles made by name could reach
        another variable or this TensorFlow cannot build the call.
    """
    attrs = named_handles(variables, one_device)
    if attrs is None:
        return None
    body = _Body([tf.string])
    values = []
    for start in range(0, len(keys), keys_per_read):
        part = range(start, min(start + keys_per_read, len(keys)))
        read = body.node("RestoreV2", "read_%d" % start, [
            "arg_0", body.strings("keys_%d" % start, [keys[i].encode() for i in part]),
            body.strings("slices_%d" % start, [b""] * len(part))])
        read.attr["dtypes"].list.type.extend([_dtype(variables[i]) for i in part])
        values.extend("read_%d:tensors:%d" % (start, j) for j in range(len(part)))
    body.assign(values, variables, attrs)
    return _call(graph, body, [prefix], variables)


def feed_call(graph: "tf.Graph", groups: list, variables: dict,
              one_device: "OneDeviceCheck") -> "tuple[list, tf.Operation] | None":
    """One op that assigns fed values: a placeholder per group of variable names, holding the
    group's values stacked on a new first axis if it has several (same shape and dtype).

    Args:
        graph (tf.Graph): the graph, not finalized.
        groups (list[list[str]]): variable names, grouped.
        variables (dict[str, tf.Variable]): the variables by name.
        one_device (OneDeviceCheck): the graph's check.

    Returns:
        (list[tf.Tensor], tf.Operation) or None: the placeholders (one per group) and the
        call, or None as for :func:`restore_call`.
    """
    ordered = [variables[n] for group in groups for n in group]
    attrs = named_handles(ordered, one_device)
    if attrs is None or any(not variables[g[0]].shape.is_fully_defined()
                            for g in groups if len(g) > 1):
        return None
    shapes = [([len(g)] if len(g) > 1 else []) + variables[g[0]].shape.as_list()
              if variables[g[0]].shape.rank is not None else None for g in groups]
    dtypes = [variables[g[0]].dtype.base_dtype for g in groups]
    body = _Body(dtypes)
    values = []
    for i, group in enumerate(groups):
        if len(group) == 1:
            values.append("arg_%d" % i)
            continue
        unpack = body.node("Unpack", "unpack_%d" % i, ["arg_%d" % i])
        unpack.attr["T"].type = dtypes[i].as_datatype_enum
        unpack.attr["num"].i = len(group)
        unpack.attr["axis"].i = 0
        values.extend("unpack_%d:output:%d" % (i, j) for j in range(len(group)))
    body.assign(values, ordered, attrs)
    with graph.as_default():
        placeholders = [tfv1.placeholder(d, s) for d, s in zip(dtypes, shapes)]
    call = _call(graph, body, placeholders, ordered)
    return None if call is None else (placeholders, call)


def _dtype(var):
    return var.dtype.base_dtype.as_datatype_enum


class _Body:
    """A FunctionDef ``(arg_0, arg_1, ...) -> ()`` being written: stateful, kept from
    inlining and from the session's optimizer (see the module's docstring)."""

    def __init__(self, arg_dtypes):
        from tensorflow.core.framework import function_pb2
        self.fdef = function_pb2.FunctionDef()
        sig = self.fdef.signature
        sig.is_stateful = True
        for i, dtype in enumerate(arg_dtypes):
            arg = sig.input_arg.add()
            arg.name, arg.type = "arg_%d" % i, dtype.as_datatype_enum
        self.fdef.attr["_noinline"].b = True
        self.fdef.attr["_tf_data_function"].b = True

    def node(self, op, name, inputs=()):
        node = self.fdef.node_def.add()
        node.name, node.op = name, op
        node.input.extend(inputs)
        return node

    def strings(self, name, values):
        """A 1-D string constant; returns its output's name."""
        from tensorflow.core.framework import tensor_pb2
        string = tf.string.as_datatype_enum
        value = tensor_pb2.TensorProto(dtype=string)
        value.tensor_shape.dim.add(size=len(values))
        value.string_val.extend(values)
        node = self.node("Const", name)
        node.attr["value"].tensor.CopyFrom(value)
        node.attr["dtype"].type = string
        return name + ":output:0"

    def assign(self, values, variables, attrs):
        """Assign each body tensor of ``values`` to the variable at the same position, through
        handles made by name (:data:`HANDLES_PER_OP` per ``_VarHandlesOp``)."""
        for start in range(0, len(variables), HANDLES_PER_OP):
            part = range(start, min(start + HANDLES_PER_OP, len(variables)))
            handles = self.node("_VarHandlesOp", "handles_%d" % start)
            for key, value in var_handles_attrs(attrs[part.start:part.stop],
                                                variables[part.start:part.stop]).items():
                handles.attr[key].CopyFrom(value)
            for j, i in enumerate(part):
                assign = self.node("AssignVariableOp", "assign_%d" % i, [
                    "handles_%d:resources:%d" % (start, j), values[i]])
                assign.attr["dtype"].type = _dtype(variables[i])
                # control outputs: the function runtime runs every one of them
                self.fdef.signature.control_output.append(assign.name)
                self.fdef.control_ret[assign.name] = assign.name

    def finish(self):
        """The FunctionDef, named :data:`FUNCTION_PREFIX` + a hash of everything else."""
        digest = hashlib.sha1(self.fdef.SerializeToString(deterministic=True)).hexdigest()
        self.fdef.signature.name = FUNCTION_PREFIX + digest[:20]
        return self.fdef


def _call(graph, body, inputs, variables):
    """Add the body to the graph's library and a call of it taking ``inputs``, colocated with
    ``variables``; None if this TensorFlow refuses either."""
    from tensorflow.core.framework import attr_value_pb2
    from tensorflow.core.protobuf import config_pb2
    fdef = body.finish()
    if not _add_function(graph, fdef):
        return None
    A = attr_value_pb2.AttrValue
    config = config_pb2.ConfigProto()
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    try:
        return fast_op(graph, "StatefulPartitionedCall", inputs, [], name="RestoreCall", attrs={
            "Tin": A(list=A.ListValue(type=[t.dtype.as_datatype_enum for t in inputs])),
            "Tout": A(list=A.ListValue()),
            "f": A(func=attr_value_pb2.NameAttrList(name=fdef.signature.name)),
            "config_proto": A(s=config.SerializeToString()),
            "config": A(s=b""), "executor_type": A(s=b""),
            "_class": A(list=A.ListValue(s=colocation_groups(variables)))})
    except (ValueError, TypeError, tf.errors.OpError):
        return None


def _add_function(graph, fdef):
    """Add ``fdef`` to the graph's function library the way TensorFlow's own function
    wrappers do, so the graph's Python side knows it too (``as_graph_def(add_shapes=True)``,
    which every meta-graph export calls, looks each function up there). Adding the same
    definition again is a no-op. Returns False if this TensorFlow has no such path."""
    try:
        from tensorflow.python.framework.function import _from_definition
        graph._add_function(_from_definition(fdef))
    except (ImportError, AttributeError, TypeError, ValueError, tf.errors.OpError):
        return False
    return True
