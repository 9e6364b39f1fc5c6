"""Restore a chunk of a TF checkpoint with one function call that the session's graph
optimizer leaves alone.

The first time a session runs a new set of ops, TensorFlow optimizes the subgraph it runs
(Grappler: about twenty passes, each over every node). A restore of 10,000 variables runs
10,000 assign nodes, and those passes were most of its time, for nothing: reading a
checkpoint into variables has nothing to optimize. So the reads and assigns of a chunk are
the body of one function, called by one node:

* the function is marked ``_noinline``, so it stays one call instead of being inlined back
  into the graph, and ``_tf_data_function``: the session's optimizer optimizes every
  function a run reaches, with the session's options, except functions so marked (tf.data's
  functions are optimized when they are instantiated instead);
* the call's own ``config_proto`` turns the optimizer off for that instantiation.

The body takes the variables' handles by name (``_VarHandlesOp``) on the call's device, so
it is used only where every op of the graph lands on one device
(:class:`~tensorpack.tfutils.var_handles.OneDeviceCheck`), and the call is colocated with
its variables. Elsewhere, or where this TensorFlow lacks an API used here, :func:`restore_call`
returns None and the caller builds plain ops.

The function is named by a hash of its body: building the same restore in another graph, or
importing a meta graph that holds it, reuses the definition instead of clashing with it.
"""
import hashlib

import tensorflow as tf

from tensorpack.tfutils.var_handles import OneDeviceCheck, fast_op, handle_attrs

__all__ = ["restore_call", "FUNCTION_PREFIX", "is_restore_function"]

FUNCTION_PREFIX = "tensorpack_restore_"


def is_restore_function(name: str) -> bool:
    """Whether ``name`` names a function made by :func:`restore_call`."""
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
    if not variables or not one_device():
        return None
    attrs = [handle_attrs(v) for v in variables]
    if any(a is None for a in attrs):
        return None
    from tensorflow.core.framework import attr_value_pb2
    from tensorflow.core.protobuf import config_pb2
    fdef = _function_def(keys, variables, attrs, keys_per_read)
    if not _add_function(graph, fdef):
        return None
    A = attr_value_pb2.AttrValue
    config = config_pb2.ConfigProto()
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    # in each variable's colocation group (the placer merges the groups)
    groups = sorted({b"loc:@" + v.op.name.encode() for v in variables})
    try:
        return fast_op(graph, "StatefulPartitionedCall", [prefix], [], name="RestoreCall", attrs={
            "Tin": A(list=A.ListValue(type=[tf.string.as_datatype_enum])),
            "Tout": A(list=A.ListValue()),
            "f": A(func=attr_value_pb2.NameAttrList(name=fdef.signature.name)),
            "config_proto": A(s=config.SerializeToString()),
            "config": A(s=b""), "executor_type": A(s=b""),
            "_class": A(list=A.ListValue(s=groups))})
    except (ValueError, TypeError, tf.errors.OpError):
        return None


def _function_def(keys, variables, attrs, keys_per_read):
    """The FunctionDef ``(prefix) -> ()`` whose body reads ``keys`` and assigns them; its name
    is :data:`FUNCTION_PREFIX` and a hash of everything else."""
    from tensorflow.core.framework import function_pb2, tensor_pb2

    string = tf.string.as_datatype_enum
    fdef = function_pb2.FunctionDef()
    sig = fdef.signature
    sig.is_stateful = True
    arg = sig.input_arg.add()
    arg.name, arg.type = "prefix", string
    fdef.attr["_noinline"].b = True
    fdef.attr["_tf_data_function"].b = True

    def const(name, strings):
        node = fdef.node_def.add()
        node.name, node.op = name, "Const"
        value = tensor_pb2.TensorProto(dtype=string)
        value.tensor_shape.dim.add(size=len(strings))
        value.string_val.extend(strings)
        node.attr["value"].tensor.CopyFrom(value)
        node.attr["dtype"].type = string

    for start in range(0, len(keys), keys_per_read):
        part = range(start, min(start + keys_per_read, len(keys)))
        dtypes = [variables[i].dtype.base_dtype.as_datatype_enum for i in part]
        const("keys_%d" % start, [keys[i].encode() for i in part])
        const("slices_%d" % start, [b""] * len(part))
        read = fdef.node_def.add()
        read.name, read.op = "read_%d" % start, "RestoreV2"
        read.input.extend(["prefix", "keys_%d:output:0" % start, "slices_%d:output:0" % start])
        read.attr["dtypes"].list.type.extend(dtypes)
        handles = fdef.node_def.add()
        handles.name, handles.op = "handles_%d" % start, "_VarHandlesOp"
        handles.attr["containers"].list.s.extend([attrs[i][0] for i in part])
        handles.attr["shared_names"].list.s.extend([attrs[i][1] for i in part])
        handles.attr["shapes"].list.shape.extend([attrs[i][2] for i in part])
        handles.attr["dtypes"].list.type.extend(dtypes)
        handles.attr["N"].i = len(part)
        for j, i in enumerate(part):
            assign = fdef.node_def.add()
            assign.name, assign.op = "assign_%d" % i, "AssignVariableOp"
            assign.input.extend(["handles_%d:resources:%d" % (start, j),
                                 "read_%d:tensors:%d" % (start, j)])
            assign.attr["dtype"].type = dtypes[j]
            # control outputs: the function runtime runs every one of them
            sig.control_output.append(assign.name)
            fdef.control_ret[assign.name] = assign.name
    digest = hashlib.sha1(fdef.SerializeToString(deterministic=True)).hexdigest()
    sig.name = FUNCTION_PREFIX + digest[:20]
    return fdef


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
