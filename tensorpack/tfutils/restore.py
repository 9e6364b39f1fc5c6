"""Apply a restore plan: put the planned values into a session's variables.

Most of a restore's time is TensorFlow preparing each new (fetches, feeds) combination the
first time it runs (graph optimisation over the whole graph), not moving bytes. So:

* values are loaded with as few ``session.run`` calls as possible, each running only
  assign ops (never a whole ``Saver`` with its save ops);
* from a TF checkpoint, values that need no conversion are read by ``RestoreV2`` ops (of at
  most :data:`RESTORE_OP_KEYS` keys) inside TensorFlow (the plan decides which keys; TF
  reads the bytes);
* other values (npz, dict, safetensors, and checkpoint values that need a cast or a
  reshape) are read lazily from the source and fed: small variables of the same shape and
  dtype through one stacked placeholder and an ``Unpack``, others through a placeholder each;
* where every op lands on one device, a chunk's reads and assigns (or its assigns of fed
  values) are one function call the session's optimizer leaves alone
  (:mod:`~tensorpack.tfutils.restore_call`): its passes over thousands of assign nodes were
  most of a large restore's first run;
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

from tensorpack.checkpoint.plan import PlanEntry, RestorePlan, VarSpec, split_entries
from tensorpack.compat import tfv1
from tensorpack.tfutils.restore_call import feed_call, restore_call
from tensorpack.tfutils.var_handles import OneDeviceCheck, fast_op, shared_handles

__all__ = ["var_spec", "graph_variables", "prepare", "run", "PreparedRestore", "RestoreStep",
           "FeedStep", "RestoreOps", "feed_values", "convert", "check_listing",
           "DEFAULT_CHUNK_BYTES", "MAX_RUNS", "STACK_MAX_BYTES"]

DEFAULT_CHUNK_BYTES = 128 << 20
MAX_RUNS = 8  # more runs than this costs more in graph preparation than it saves in memory
STACK_MAX_BYTES = 1 << 20  # feed same-shaped variables up to this size as one stacked array
# Keys per RestoreV2 op: with one op for 10,000 keys, TensorFlow's first-run graph passes
# took longer than with twenty ops of 500 (a 10k restore: 19.5 s vs 16.4 s, one noisy A/B).
RESTORE_OP_KEYS = 500

_SCOPE = "tensorpack_restore"


class RestoreOps:
    """The restore ops already built in one graph, so that a second restore (another
    checkpoint, ``SessionUpdate``, a predictor made from the same graph) builds nothing.

    There is one per graph: get it with :meth:`of`. It is kept on the graph object itself
    (the ops refer to their graph, so a table keyed by graphs, even a weak one, would keep
    every graph alive; a graph collection would be written into every exported meta graph).
    """

    _ATTR = "_tensorpack_restore_ops"

    def __init__(self, graph):
        self.graph = graph
        self._feed = {}      # variable op name -> (placeholder, assign op)
        self._stacked = {}   # variable op names -> (stacked placeholder, assign ops)
        self._restore = {}   # (keys, variable names) -> (prefix placeholder, assign ops)
        self._fed_calls = {}  # groups of variable names -> (placeholders, call) or None
        self._one_device = OneDeviceCheck(graph)

    @classmethod
    def of(cls, graph: "tf.Graph") -> "RestoreOps":
        """The cache of ``graph`` (made on first use)."""
        ops = getattr(graph, cls._ATTR, None)
        if ops is None:
            ops = cls(graph)
            setattr(graph, cls._ATTR, ops)
        return ops

    def feed(self, variables):
        """``{name: (placeholder, assign op)}`` for the variables that have (or, while the
        graph is not finalized, get) their own placeholder."""
        missing = [n for n in variables if n not in self._feed]
        if missing and not self.graph.finalized:
            with _building(self.graph):
                handles = self._handles([variables[n] for n in missing])
                for name, handle in zip(missing, handles):
                    var = variables[name]
                    ph = _placeholder(self.graph, var)
                    self._feed[name] = (ph, _assign(var, ph, handle))
        return {n: self._feed[n] for n in variables if n in self._feed}

    def stacked(self, names, variables):
        """(placeholder, assign ops) loading same-shaped variables from one stacked array.

        One placeholder and one ``Unpack`` for the group instead of a placeholder per
        variable: fewer new ops and fewer feeds make the first run markedly cheaper.
        Returns None if the ops do not exist and the graph is finalized.
        """
        key = tuple(names)
        if key not in self._stacked:
            if self.graph.finalized:
                return None
            with _building(self.graph):
                first = variables[names[0]]
                ph = tfv1.placeholder(first.dtype.base_dtype,
                                      [len(names)] + first.shape.as_list())
                parts = tf.unstack(ph, num=len(names))
                group = [variables[n] for n in names]
                self._stacked[key] = (ph, [_assign(v, x, h) for v, x, h in
                                           zip(group, parts, self._handles(group))])
        return self._stacked[key]

    def fed_call(self, groups, variables):
        """(placeholders, call op) assigning the fed values of ``groups`` (lists of variable
        names; several names: their values stacked) in one function call
        (:func:`~tensorpack.tfutils.restore_call.feed_call`), or None where there is no such
        call (several devices, a finalized graph, ...)."""
        key = tuple(tuple(g) for g in groups)
        if key not in self._fed_calls:
            if self.graph.finalized:
                return None
            with _building(self.graph):
                self._fed_calls[key] = feed_call(self.graph, groups, variables,
                                                 self._one_device)
        return self._fed_calls[key]

    def restore(self, keys, variables):
        """(prefix placeholder, assign ops) restoring ``keys`` into ``variables`` with
        ``RestoreV2`` ops, or None if they do not exist and the graph is finalized."""
        sig = (tuple(keys), tuple(v.op.name for v in variables))
        if sig not in self._restore:
            if self.graph.finalized:
                return None
            with _building(self.graph):
                prefix = tfv1.placeholder(tf.string, [])
                call = restore_call(self.graph, prefix, list(keys), list(variables),
                                    self._one_device, RESTORE_OP_KEYS)
                if call is not None:
                    self._restore[sig] = (prefix, [call])
                    return self._restore[sig]
                values = []
                for i in range(0, len(keys), RESTORE_OP_KEYS):
                    part = list(keys[i:i + RESTORE_OP_KEYS])
                    out = tf.raw_ops.RestoreV2(
                        prefix=prefix, tensor_names=part, shape_and_slices=[""] * len(part),
                        dtypes=[v.dtype.base_dtype for v in variables[i:i + RESTORE_OP_KEYS]])
                    values.extend(out if isinstance(out, (list, tuple)) else [out])
                self._restore[sig] = (prefix, [_assign(v, x, h) for v, x, h in
                                               zip(variables, values, self._handles(variables))])
        return self._restore[sig]

    def _handles(self, variables):
        return shared_handles(self.graph, variables, self._one_device)


def var_spec(var):
    """The :class:`~tensorpack.checkpoint.plan.VarSpec` of a ``tf.Variable``."""
    shape = var.shape
    dims = None if shape.rank is None else tuple(shape.as_list())
    return VarSpec(var.op.name, dims, var.dtype.base_dtype.name)


def graph_variables(graph):
    """The variables a restore considers: the graph's global variables, by op name."""
    with graph.as_default():
        return {v.op.name: v for v in tfv1.global_variables()}


def _placeholder(graph, var):
    from tensorflow.core.framework import attr_value_pb2
    dtype = var.dtype.base_dtype
    op = fast_op(graph, "Placeholder", [], [dtype], {
        "dtype": attr_value_pb2.AttrValue(type=dtype.as_datatype_enum),
        "shape": attr_value_pb2.AttrValue(shape=var.shape.as_proto())})
    return op.outputs[0] if op is not None else tfv1.placeholder(dtype, var.shape)


def _assign(var, value, handle=None):
    """Assign ``value`` to ``var``, through ``handle`` (a resource variable's handle from
    :func:`~tensorpack.tfutils.var_handles.shared_handles`) if given."""
    if var.dtype._is_ref_dtype:  # legacy reference variable
        return tfv1.assign(var, value, validate_shape=False, use_locking=False).op
    from tensorflow.core.framework import attr_value_pb2
    dtype = var.dtype.base_dtype
    handle = var.handle if handle is None else handle
    op = fast_op(var.graph, "AssignVariableOp", [handle, value], [],
                  {"dtype": attr_value_pb2.AttrValue(type=dtype.as_datatype_enum)})
    return op if op is not None else tf.raw_ops.AssignVariableOp(resource=handle, value=value)


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


class RestoreStep:
    """Restore one chunk straight from a TF checkpoint: TensorFlow reads the bytes with one
    ``RestoreV2`` and assigns them, in one session run (values that need no conversion).

    Attributes:
        entries (list[PlanEntry]): what it loads.
    """

    def __init__(self, entries, prefix_placeholder, assign_ops):
        self.entries = entries
        self._prefix = prefix_placeholder
        self._ops = assign_ops

    def run(self, sess: "tfv1.Session", source) -> None:
        """Load the chunk from ``source`` (a TF checkpoint source: its prefix is read)."""
        sess.run(self._ops, feed_dict={self._prefix: source.path})


class FeedStep:
    """Read one chunk from the source, convert each value as planned, and feed it.

    With ``stack`` (a restore plan's chunks, the same set of names every time), same-shaped
    small variables are fed as one stacked array, and where every op lands on one device the
    whole chunk is assigned by one function call
    (:func:`~tensorpack.tfutils.restore_call.feed_call`). Without it (``SessionUpdate``, whose
    sets vary) each variable gets its own placeholder and assign.

    Attributes:
        entries (list[PlanEntry]): what it loads.
    """

    def __init__(self, entries, variables, stack=True):
        self.entries = entries
        self._variables = variables
        self._stack = stack

    def build(self, graph) -> "FeedStep":
        """Build (or find in the cache) the ops :meth:`run` will use, while the graph can
        still change. Returns self."""
        groups = self._groups([e.var for e in self.entries])
        ops = RestoreOps.of(graph)
        if self._stack and ops.fed_call(groups, self._variables) is not None:
            return self
        single = []
        for group in groups:
            if len(group) > 1:
                ops.stacked(group, self._variables)
            else:
                single.extend(group)
        ops.feed({n: self._variables[n] for n in single})
        return self

    def _groups(self, names):
        if self._stack:
            return _same_shape_groups(names, self._variables)
        return [[n] for n in names]

    def run(self, sess: "tfv1.Session", source) -> None:
        """Load the chunk: one session run."""
        values = {e.var: convert(source.read(e.key), e) for e in self.entries}
        groups = self._groups([e.var for e in self.entries])
        # one function call per chunk for a plan's stable sets (stack=True); a set that
        # varies from run to run (SessionUpdate) would pile up functions
        call = RestoreOps.of(sess.graph).fed_call(groups, self._variables) if self._stack \
            else None
        if call is None:
            feed_values(sess, self._variables, values, stack=self._stack)
            return
        placeholders, op = call
        sess.run(op, feed_dict={ph: np.stack([values[n] for n in g]) if len(g) > 1
                                else values[g[0]] for ph, g in zip(placeholders, groups)})


class PreparedRestore:
    """A plan with its ops: what :func:`run` executes.

    Attributes:
        plan (RestorePlan): the plan.
        graph (tf.Graph): the graph the ops live in.
        steps (list[RestoreStep | FeedStep]): the session runs, in order.
    """

    def __init__(self, plan, graph, steps):
        self.plan = plan
        self.graph = graph
        self.steps = steps


def _chunk_budget(total, chunk_bytes):
    return max(chunk_bytes, int(math.ceil(total / float(MAX_RUNS))) if total else chunk_bytes)


def prepare(plan: RestorePlan, variables: "dict[str, tf.Variable]", graph: "tf.Graph",
            tf_checkpoint: bool = False, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
            raw_key=None) -> PreparedRestore:
    """Turn a plan into session runs, building (or fetching from the cache) their ops.

    Args:
        plan (RestorePlan): from :func:`~tensorpack.checkpoint.plan.make_plan`.
        variables (dict[str, tf.Variable]): graph variables by op name.
        graph (tf.Graph): their graph.
        tf_checkpoint (bool): the source is a TF checkpoint: values that need no conversion
            are read by TensorFlow itself.
        chunk_bytes (int): the size of values loaded per session run.
        raw_key (callable): for a TF checkpoint, the key as stored for a listed name
            (object-based checkpoints list short names); identity by default.

    Returns:
        PreparedRestore
    """
    raw_key = raw_key or (lambda k: k)
    budget = _chunk_budget(plan.total_bytes, chunk_bytes)
    direct = [e for e in plan.entries if tf_checkpoint and e.action == "load"]
    fed = [e for e in plan.entries if not (tf_checkpoint and e.action == "load")]
    steps = []
    ops = RestoreOps.of(graph)
    for chunk in split_entries(direct, budget):
        built = ops.restore([raw_key(e.key) for e in chunk], [variables[e.var] for e in chunk])
        if built is None:  # a finalized graph without these ops: feed everything instead
            steps, fed = [], plan.entries
            break
        steps.append(RestoreStep(chunk, *built))
    for chunk in split_entries(fed, budget):
        steps.append(FeedStep(chunk, variables).build(graph))
    return PreparedRestore(plan, graph, steps)


def convert(value: np.ndarray, entry: PlanEntry) -> np.ndarray:
    """Cast / reshape a value as its plan entry says."""
    if entry.cast:
        value = value.astype(tf.as_dtype(entry.var_dtype).as_numpy_dtype)
    if entry.reshape and entry.var_shape is not None:
        value = value.reshape(entry.var_shape)
    return value


def check_listing(plan: RestorePlan, infos, source_name: str) -> None:
    """Raise if a source, reopened, no longer lists what the plan was made from.

    Raises:
        ValueError: a planned key is gone or has another shape or dtype.
    """
    for e in plan.entries:
        info = infos.get(e.key)
        if info is None or tuple(info.shape) != e.src_shape or info.dtype != e.src_dtype:
            raise ValueError(
                "{} changed after the restore was planned: '{}' was {} {} and is now {}. "
                "Do not overwrite a checkpoint while it is being loaded; run again.".format(
                    source_name, e.key, e.src_dtype, e.src_shape,
                    "missing" if info is None else "{} {}".format(info.dtype, info.shape)))


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
    cache = RestoreOps.of(graph)
    fetches, feeds, single = [], {}, []
    for group in (_same_shape_groups(list(values), variables) if stack
                  else [[n] for n in values]):
        ops = cache.stacked(group, variables) if len(group) > 1 else None
        if ops is None:
            single.extend(group)
            continue
        ph, assigns = ops
        feeds[ph] = np.stack([values[n] for n in group])
        fetches.extend(assigns)
    ops = cache.feed({n: variables[n] for n in single})
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


def run(sess: "tfv1.Session", prepared: PreparedRestore, source) -> None:
    """Load the values of a prepared plan into ``sess``, one step (session run) at a time.

    Args:
        sess (tf.compat.v1.Session): a session on ``prepared.graph``.
        prepared (PreparedRestore): from :func:`prepare`.
        source (CheckpointSource): the open source the plan was made from.
    """
    for step in prepared.steps:
        step.run(sess, source)
