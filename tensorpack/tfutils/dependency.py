"""Whether an op is needed by a set of fetches (e.g. to run a hook only with certain ops)."""
import weakref

import tensorflow as tf
from tensorflow.python.ops.op_selector import get_backward_walk_ops

__all__ = ["dependency_of_targets", "dependency_of_fetches"]

# graph -> {(targets, op): bool}; weak keys, so a cache never keeps a graph alive.
_CACHE = weakref.WeakKeyDictionary()


def dependency_of_targets(targets, op):
    """Whether ``op`` is among the (data or control) dependencies of ``targets``.

    The answer is cached per graph.

    Args:
        targets (tuple): ops or tensors.
        op (tf.Operation or tf.Tensor): the op (a tensor stands for its op).

    Returns:
        bool: True if any target depends on ``op`` (or is ``op``).

    Raises:
        TypeError: if ``op`` is neither an op nor a tensor.
    """
    if isinstance(op, tf.Tensor):
        op = op.op
    if not isinstance(op, tf.Operation):
        raise TypeError("dependency_of_targets: op must be a tf.Operation or tf.Tensor, "
                        "got {!r}.".format(op))
    targets = tuple(targets)
    per_graph = _CACHE.setdefault(op.graph, {})
    key = (tuple(t.name for t in targets), op.name)  # names are unique within a graph
    if key not in per_graph:
        per_graph[key] = op in get_backward_walk_ops(list(targets), control_inputs=True)
    return per_graph[key]


def _flatten_fetches(fetches, graph):
    """Ops and tensors named by a ``sess.run`` fetch argument (nested lists / dicts / names)."""
    if isinstance(fetches, dict):
        items = list(fetches.values())
    elif isinstance(fetches, (list, tuple)):
        items = list(fetches)
    else:
        return [graph.as_graph_element(fetches, allow_tensor=True, allow_operation=True)]
    out = []
    for item in items:
        out.extend(_flatten_fetches(item, graph))
    return out


def dependency_of_fetches(fetches, op):
    """Whether running ``fetches`` in a session needs ``op``.

    Args:
        fetches: anything ``sess.run`` accepts (a tensor, op, name, or nested list / tuple /
            dict of them).
        op (tf.Operation or tf.Tensor): the op.

    Returns:
        bool
    """
    graph = op.graph
    targets = []
    for item in _flatten_fetches(fetches, graph):
        if isinstance(item, tf.Variable):
            item = item.op
        targets.append(item)
    return dependency_of_targets(tuple(targets), op)
