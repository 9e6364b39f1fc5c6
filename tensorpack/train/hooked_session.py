"""A light replacement for ``tf.compat.v1.train.MonitoredSession`` used by trainers.

Every ``run`` asks each hook (``before_run``) for extra fetches and feeds, runs them together
with the caller's fetches in one session call, and hands each hook its results
(``after_run``). That is all tensorpack's callbacks need from a MonitoredSession; skipping the
rest (coordinator, recoverable-session wrappers, per-call hook bookkeeping), and running a
callable compiled once per distinct fetch/feed structure instead of ``Session.run``, makes
each training step several times cheaper for small models.
"""
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2

from tensorpack.compat import tfv1

__all__ = ["HookedSession"]

_CACHE_LIMIT = 64
_MISSING = object()


def _structure_key(fetches):
    """A hashable key describing a fetch structure (tensors/ops are hashed by identity)."""
    if isinstance(fetches, (list, tuple)):
        return (type(fetches), tuple(_structure_key(f) for f in fetches))
    if isinstance(fetches, dict):
        return (dict, tuple((k, _structure_key(v)) for k, v in fetches.items()))
    try:
        hash(fetches)
    except TypeError:  # an unusual fetch type: make it uncacheable rather than wrong
        return (object(),)
    return fetches


def _merge_feeds(dicts):
    merged = {}
    for d in dicts:
        if not d:
            continue
        for k, v in d.items():
            if k in merged:
                raise RuntimeError("Two hooks (or a hook and the caller) feed the same tensor "
                                   "'{}'.".format(getattr(k, "name", k)))
            merged[k] = v
    return merged


def _merge_options(options_list):
    opts = [o for o in options_list if o is not None]
    if not opts:
        return None
    merged = tfv1.RunOptions()
    for o in opts:
        merged.trace_level = max(merged.trace_level, o.trace_level)
        merged.timeout_in_ms = max(merged.timeout_in_ms, o.timeout_in_ms)
        merged.output_partition_graphs |= o.output_partition_graphs
        merged.debug_options.debug_tensor_watch_opts.extend(
            o.debug_options.debug_tensor_watch_opts)
    return merged


def _flatten(struct, out):
    """Leaves of a fetch structure (lists, tuples, dicts), in a fixed order."""
    if isinstance(struct, (list, tuple)):
        for x in struct:
            _flatten(x, out)
    elif isinstance(struct, dict):
        for k in struct:
            _flatten(struct[k], out)
    else:
        out.append(struct)
    return out


def _packer(struct):
    """A function mapping an iterator of leaf values to ``struct``'s shape (the inverse of
    :func:`_flatten`), built once so that each step only rebuilds containers."""
    if isinstance(struct, list):
        parts = [_packer(x) for x in struct]
        return lambda it: [p(it) for p in parts]
    if isinstance(struct, tuple):
        parts = [_packer(x) for x in struct]
        if hasattr(struct, "_fields"):  # namedtuple
            return lambda it: type(struct)(*[p(it) for p in parts])
        return lambda it: tuple(p(it) for p in parts)
    if isinstance(struct, dict):
        keys = list(struct)
        parts = [_packer(struct[k]) for k in keys]
        return lambda it: type(struct)(zip(keys, [p(it) for p in parts]))
    return next


def _compile(sess, fetches, feed_keys):
    """A fast callable running ``fetches`` with ``feed_keys`` fed, or None if unsupported.

    ``Session.run`` re-parses fetches and feeds on every call, which costs far more than a
    tiny model's step. A callable made once from ``CallableOptions`` skips all of that; the
    results are packed back into the structure ``Session.run`` would return.
    """
    try:
        graph = sess.graph
        leaves = _flatten(fetches, [])
        pack = _packer(fetches)
        fetch_names, targets, slots = [], [], []
        for leaf in leaves:
            el = graph.as_graph_element(leaf, allow_tensor=True, allow_operation=True)
            if isinstance(el, tf.Operation):
                targets.append(el.name)
                slots.append(None)
            elif isinstance(el, tf.Tensor):
                slots.append(len(fetch_names))
                fetch_names.append(el.name)
            else:
                return None
        feeds = [graph.as_graph_element(k, allow_tensor=True, allow_operation=False)
                 for k in feed_keys]
        if not all(isinstance(t, tf.Tensor) for t in feeds):
            return None
        opts = config_pb2.CallableOptions()
        opts.feed.extend([t.name for t in feeds])
        opts.fetch.extend(fetch_names)
        opts.target.extend(sorted(set(targets)))
        run = sess._make_callable_from_options(opts)  # noqa: SLF001 - the only fast path
    except Exception:  # noqa: BLE001 - anything unusual: Session.run handles it
        return None
    dtypes = [t.dtype.as_numpy_dtype for t in feeds]

    def call(values):
        # Session.run casts fed values to the placeholder's dtype; the callable does not
        out = run(*[v if getattr(v, "dtype", None) == dt else np.asarray(v, dtype=dt)
                    for v, dt in zip(values, dtypes)])
        return pack(iter([None if i is None else out[i] for i in slots]))
    return call


class HookedSession:
    """Run a session with ``SessionRunHook``-style hooks around every call.

    Args:
        sess (tf.compat.v1.Session): the underlying session.
        hooks (list): objects with ``before_run(run_context)`` and
            ``after_run(run_context, run_values)``.
    """

    def __init__(self, sess, hooks):
        self._sess = sess
        self._hooks = list(hooks)
        self._should_stop = False
        self._callables = {}

    @property
    def graph(self):
        return self._sess.graph

    @property
    def sess(self):
        """tf.compat.v1.Session: the wrapped session."""
        return self._sess

    def _tf_sess(self):
        return self._sess

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Run ``fetches`` plus every hook's requested fetches in one session call.

        Args:
            fetches, feed_dict, options, run_metadata: as for ``Session.run``.

        Returns:
            the values of ``fetches``, structured like ``fetches``.
        """
        ctx = tfv1.train.SessionRunContext(
            original_args=tfv1.train.SessionRunArgs(fetches, feed_dict, options),
            session=self._sess)
        requests = [hook.before_run(ctx) for hook in self._hooks]

        all_fetches = [fetches]
        feeds = [feed_dict]
        run_opts = [options]
        for req in requests:
            if req is None:
                all_fetches.append([])
                continue
            all_fetches.append(req.fetches if req.fetches is not None else [])
            feeds.append(req.feed_dict)
            run_opts.append(req.options)
        merged_feed = _merge_feeds(feeds)
        merged_opts = _merge_options(run_opts)

        if merged_opts is None and run_metadata is None:
            results = self._run_cached(all_fetches, merged_feed)
        else:
            run_metadata = run_metadata if run_metadata is not None else tfv1.RunMetadata()
            results = self._sess.run(all_fetches, feed_dict=merged_feed, options=merged_opts,
                                     run_metadata=run_metadata)

        for hook, req, value in zip(self._hooks, requests, results[1:]):
            if req is None or req.fetches is None:
                value = None
            hook.after_run(ctx, tfv1.train.SessionRunValues(
                results=value, options=merged_opts, run_metadata=run_metadata))
        if ctx.stop_requested:
            self._should_stop = True
        return results[0]

    def _run_cached(self, all_fetches, feed):
        feed_keys = tuple(feed)
        key = (_structure_key(all_fetches), feed_keys)
        fn = self._callables.get(key, _MISSING)
        if fn is _MISSING:
            if len(self._callables) >= _CACHE_LIMIT:
                # fetch structures keep changing: stop caching rather than grow without bound
                return self._sess.run(all_fetches, feed_dict=feed)
            fn = _compile(self._sess, all_fetches, feed_keys)
            self._callables[key] = fn
        if fn is None:  # a structure the fast path does not handle
            return self._sess.run(all_fetches, feed_dict=feed)
        return fn([feed[k] for k in feed_keys])

    def should_stop(self):
        """Returns: bool: whether a hook asked to stop (``run_context.request_stop()``)."""
        return self._should_stop

    def close(self):
        """Close the underlying session."""
        self._callables.clear()
        self._sess.close()

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()
        return False
