"""Apply a restore plan: put the planned values into a session's variables.

Most of a restore's time is TensorFlow preparing each new (fetches, feeds) combination the
first time it runs (graph optimisation over the whole graph), not moving bytes. So:

* values are loaded with as few ``session.run`` calls as possible, each running only
  assign ops (never a whole ``Saver`` with its save ops);
* from a TF checkpoint, values that need no conversion are read by one ``RestoreV2`` op per
  chunk, inside TensorFlow (the plan decides which keys; TF reads the bytes);
* other values (npz, dict, safetensors, and checkpoint values that need a cast or a
  reshape) are read lazily from the source and fed: small variables of the same shape and
  dtype through one stacked placeholder and an ``Unpack``, others through a placeholder each;
* both kinds of ops are built once per graph and cached, so a second restore (another
  checkpoint, ``SessionUpdate``) builds nothing new;
* values move in chunks of bounded size (``chunk_bytes``, by default 128 MiB, with at
  most :data:`MAX_RUNS` chunks per restore), so peak memory stays far below the model size.

The ops are built by :func:`prepare` while the graph can still change (``_setup_graph``);
:func:`run` only runs them. If the graph was finalized before anything was prepared, values
are fed into the variables' initializers instead, which needs no new op (upstream's way).
"""
import math

import numpy as np
import tensorflow as tf

from tensorpack.checkpoint.plan import VarSpec, split_entries
from tensorpack.compat import tfv1

__all__ = ["var_spec", "graph_variables", "prepare", "run", "PreparedRestore", "feed_values",
           "DEFAULT_CHUNK_BYTES", "MAX_RUNS", "STACK_MAX_BYTES"]

DEFAULT_CHUNK_BYTES = 128 << 20
MAX_RUNS = 8  # more runs than this costs more in graph preparation than it saves in memory
STACK_MAX_BYTES = 1 << 20  # feed same-shaped variables up to this size as one stacked array

_SCOPE = "tensorpack_restore"
_CACHE_ATTR = "_tensorpack_restore_ops"  # tf.Graph attribute holding a _GraphOps


class _GraphOps:
    """Restore ops already built in one graph."""

    def __init__(self):
        self.feed = {}      # variable op name -> (placeholder, assign op)
        self.stacked = {}   # variable op names -> (stacked placeholder, assign ops)
        self.restore = {}   # (keys, variable names) -> (prefix placeholder, [assign ops])


def _graph_ops(graph):
    # Kept on the graph itself: the cached ops refer to the graph, so a dict keyed by the
    # graph (even a weak one) would keep every graph alive.
    ops = getattr(graph, _CACHE_ATTR, None)
    if ops is None:
        ops = _GraphOps()
        setattr(graph, _CACHE_ATTR, ops)
    return ops


def var_spec(var):
    """The :class:`~tensorpack.checkpoint.plan.VarSpec` of a ``tf.Variable``."""
    shape = var.shape
    dims = None if shape.rank is None else tuple(shape.as_list())
    return VarSpec(var.op.name, dims, var.dtype.base_dtype.name)


def graph_variables(graph):
    """The variables a restore considers: the graph's global variables, by op name."""
    with graph.as_default():
        return {v.op.name: v for v in tfv1.global_variables()}


def _fast_op(graph, op_type, inputs, out_dtypes, attrs):
    """Create an op with the graph's internal constructor, skipping the generated wrapper's
    argument processing (it costs more than the op itself, for thousands of ops).

    Returns None if this TensorFlow's graph has no such constructor, so the caller can use
    the public wrapper instead.
    """
    create = getattr(graph, "_create_op_internal", None)
    if create is None:
        return None
    try:
        return create(op_type, inputs, out_dtypes, attrs=attrs, name=op_type)
    except TypeError:  # a signature this code does not know
        return None


def _placeholder(graph, var):
    from tensorflow.core.framework import attr_value_pb2
    dtype = var.dtype.base_dtype
    op = _fast_op(graph, "Placeholder", [], [dtype], {
        "dtype": attr_value_pb2.AttrValue(type=dtype.as_datatype_enum),
        "shape": attr_value_pb2.AttrValue(shape=var.shape.as_proto())})
    return op.outputs[0] if op is not None else tfv1.placeholder(dtype, var.shape)


def _assign(var, value):
    if var.dtype._is_ref_dtype:  # legacy reference variable
        return tfv1.assign(var, value, validate_shape=False, use_locking=False).op
    from tensorflow.core.framework import attr_value_pb2
    dtype = var.dtype.base_dtype
    op = _fast_op(var.graph, "AssignVariableOp", [var.handle, value], [],
                  {"dtype": attr_value_pb2.AttrValue(type=dtype.as_datatype_enum)})
    return op if op is not None else tf.raw_ops.AssignVariableOp(resource=var.handle,
                                                                 value=value)


def _building(graph):
    """A context to build restore ops at the root of ``graph``, free of any control deps."""
    class _Ctx:
        def __enter__(self):
            self._stack = [graph.as_default(), graph.control_dependencies(None),
                           graph.name_scope(None), graph.name_scope(_SCOPE)]
            for c in self._stack:
                c.__enter__()

        def __exit__(self, *exc):
            for c in reversed(self._stack):
                c.__exit__(*exc)
    return _Ctx()


def _feed_ops(graph, variables):
    """``{name: (placeholder, assign op)}`` for the variables, built once per graph."""
    cache = _graph_ops(graph).feed
    missing = [n for n in variables if n not in cache]
    if missing and not graph.finalized:
        with _building(graph):
            for name in missing:
                var = variables[name]
                ph = _placeholder(graph, var)
                cache[name] = (ph, _assign(var, ph))
    return {n: cache[n] for n in variables if n in cache}


def _same_shape_groups(names, variables):
    """``names`` grouped by (dtype, fully known shape), in first-seen order. Variables of
    partly unknown shape, or larger than :data:`STACK_MAX_BYTES`, get a group of their own:
    the variables keep sharing the stacked buffer after the run, which is harmless for small
    tensors (where the op count matters) but would keep whole chunks of big ones alive."""
    groups, by_key = [], {}
    for n in names:
        var = variables[n]
        key = None
        if var.shape.is_fully_defined():
            shape = tuple(var.shape.as_list())
            if var.dtype.base_dtype.size * int(np.prod(shape)) <= STACK_MAX_BYTES:
                key = (var.dtype.base_dtype, shape)
        if key is None:
            groups.append([n])
        elif key in by_key:
            by_key[key].append(n)
        else:
            by_key[key] = [n]
            groups.append(by_key[key])
    return groups


def _stacked_ops(graph, names, variables):
    """(placeholder, assign ops) loading same-shaped variables from one stacked array.

    One placeholder and one ``Unpack`` for the group instead of a placeholder per variable:
    fewer new ops and fewer feeds make the first run markedly cheaper. Returns None if the
    ops do not exist and the graph is finalized.
    """
    cache = _graph_ops(graph).stacked
    key = tuple(names)
    if key not in cache:
        if graph.finalized:
            return None
        with _building(graph):
            first = variables[names[0]]
            ph = tfv1.placeholder(first.dtype.base_dtype, [len(names)] + first.shape.as_list())
            parts = tf.unstack(ph, num=len(names))
            cache[key] = (ph, [_assign(variables[n], x) for n, x in zip(names, parts)])
    return cache[key]


def _restore_ops(graph, keys, variables):
    """(prefix placeholder, assign ops) restoring ``keys`` into ``variables`` with RestoreV2,
    or None if they do not exist and the graph is finalized."""
    cache = _graph_ops(graph).restore
    sig = (tuple(keys), tuple(v.op.name for v in variables))
    if sig not in cache:
        if graph.finalized:
            return None
        with _building(graph):
            prefix = tfv1.placeholder(tf.string, [])
            values = tf.raw_ops.RestoreV2(
                prefix=prefix, tensor_names=list(keys), shape_and_slices=[""] * len(keys),
                dtypes=[v.dtype.base_dtype for v in variables])
            if len(keys) == 1 and not isinstance(values, (list, tuple)):
                values = [values]
            cache[sig] = (prefix, [_assign(v, x) for v, x in zip(variables, values)])
    return cache[sig]


class PreparedRestore:
    """A plan with its ops: what :func:`run` executes.

    Attributes:
        plan (RestorePlan): the plan.
        graph (tf.Graph): the graph the ops live in.
        steps (list): ``("restore", entries, prefix_placeholder, assign_ops)`` or
            ``("feed", entries)`` items, in order.
    """

    def __init__(self, plan, graph, steps, variables):
        self.plan = plan
        self.graph = graph
        self.steps = steps
        self.variables = variables


def _chunk_budget(total, chunk_bytes):
    return max(chunk_bytes, int(math.ceil(total / float(MAX_RUNS))) if total else chunk_bytes)


def prepare(plan, variables, graph, source=None, chunk_bytes=DEFAULT_CHUNK_BYTES):
    """Build (or fetch from the cache) the ops that will apply ``plan``.

    Args:
        plan (RestorePlan): from :func:`~tensorpack.checkpoint.plan.make_plan`.
        variables (dict[str, tf.Variable]): graph variables by op name.
        graph (tf.Graph): their graph.
        source (CheckpointSource): the source; a TF checkpoint lets TensorFlow read the
            values that need no conversion itself.
        chunk_bytes (int): the size of values loaded per session run.

    Returns:
        PreparedRestore
    """
    raw_key = getattr(source, "raw_key", None) if _is_tf_checkpoint(source) else None
    budget = _chunk_budget(plan.total_bytes, chunk_bytes)
    direct = [e for e in plan.entries if raw_key is not None and e.action == "load"]
    fed = [e for e in plan.entries if raw_key is None or e.action != "load"]
    steps = []
    for chunk in split_entries(direct, budget):
        keys = [raw_key(e.key) for e in chunk]
        ops = _restore_ops(graph, keys, [variables[e.var] for e in chunk])
        if ops is None:  # a finalized graph without these ops: feed everything instead
            steps, fed = [], plan.entries
            break
        steps.append(("restore", chunk) + ops)
    for chunk in split_entries(fed, budget):
        _prebuild_feed(graph, [e.var for e in chunk], variables)
        steps.append(("feed", chunk))
    return PreparedRestore(plan, graph, steps, variables)


def _is_tf_checkpoint(source):
    from tensorpack.checkpoint.bundle import TFCheckpointSource
    return isinstance(source, TFCheckpointSource)


def _convert(value, entry):
    """Cast / reshape a value as the plan says."""
    if entry.cast:
        value = value.astype(tf.as_dtype(entry.var_dtype).as_numpy_dtype)
    if entry.reshape and entry.var_shape is not None:
        value = value.reshape(entry.var_shape)
    return value


def _prebuild_feed(graph, names, variables, stack=True):
    """Build the ops :func:`feed_values` will use for exactly these names, in this order."""
    single = []
    for group in (_same_shape_groups(names, variables) if stack else [[n] for n in names]):
        if len(group) > 1:
            _stacked_ops(graph, group, variables)
        else:
            single.extend(group)
    _feed_ops(graph, {n: variables[n] for n in single})


def feed_values(sess, variables, values, stack=True):
    """Assign ``{var name: value}`` (values already converted) in one session run.

    Uses the cached ops when they exist (building them if the graph is not finalized),
    otherwise feeds the variables' initializers.

    Args:
        sess (tf.compat.v1.Session): the session.
        variables (dict[str, tf.Variable]): the variables, by op name.
        values (dict[str, np.ndarray]): values by variable op name.
        stack (bool): feed same-shaped variables as one stacked array (ops are cached per
            set of names, so use it for the stable sets of a restore plan).

    Raises:
        RuntimeError: the graph is finalized and a variable's initializer cannot be fed.
    """
    if not values:
        return
    graph = sess.graph
    fetches, feeds, single = [], {}, []
    for group in (_same_shape_groups(list(values), variables) if stack
                  else [[n] for n in values]):
        ops = _stacked_ops(graph, group, variables) if len(group) > 1 else None
        if ops is None:
            single.extend(group)
            continue
        ph, assigns = ops
        feeds[ph] = np.stack([values[n] for n in group])
        fetches.extend(assigns)
    ops = _feed_ops(graph, {n: variables[n] for n in single})
    for name in single:
        value = values[name]
        if name in ops:
            ph, op = ops[name]
        else:
            var = variables[name]
            op = var.initializer
            ph = op.inputs[1]
            if ph in feeds or not graph.is_feedable(ph):
                raise RuntimeError(
                    "Cannot load variable '{}': the graph is finalized and its initializer "
                    "cannot be fed. Call the initializer's _setup_graph() before the graph "
                    "is finalized.".format(name))
        fetches.append(op)
        feeds[ph] = value
    sess.run(fetches, feed_dict=feeds)


def run(sess, prepared, source, checkpoint_prefix=None):
    """Load the values of a prepared plan into ``sess``.

    Args:
        sess (tf.compat.v1.Session): a session on ``prepared.graph``.
        prepared (PreparedRestore): from :func:`prepare`.
        source (CheckpointSource): where ``feed`` steps read values.
        checkpoint_prefix (str): the checkpoint ``restore`` steps read (TF's own path form).
    """
    for step in prepared.steps:
        if step[0] == "restore":
            _, _, prefix_ph, ops = step
            sess.run(ops, feed_dict={prefix_ph: checkpoint_prefix})
        else:
            values = {e.var: _convert(source.read(e.key), e) for e in step[1]}
            feed_values(sess, prepared.variables, values)
            del values
