"""Read, write and update variable values (upstream's ``tfutils.varmanip``).

Files are read and written through :mod:`tensorpack.checkpoint` (no TensorFlow needed for
the files themselves); values go into a session through the same code as restore
(:mod:`tensorpack.tfutils.restore`).
"""
import os

import numpy as np

from tensorpack.checkpoint.names import get_op_tensor_name, is_training_name, normalize_name
from tensorpack.checkpoint.plan import make_plan, pair_entry
from tensorpack.utils import logger

__all__ = ["SessionUpdate", "dump_session_params", "load_chkpt_vars", "save_chkpt_vars",
           "load_checkpoint_vars", "save_checkpoint_vars", "get_checkpoint_path",
           "get_all_checkpoints"]

# Not in __all__ (as upstream) but importable from here.
is_training_name = is_training_name

_FETCH_CHUNK_BYTES = 128 << 20


def get_savename_from_varname(varname, varname_prefix=None, savename_prefix=None):
    """The name a variable is saved under.

    Args:
        varname (str): a variable name in the graph.
        varname_prefix (str): a prefix to remove from ``varname`` (``"tower0"`` turns
            ``tower0/W`` into ``W``); names without it are kept.
        savename_prefix (str): a prefix to add (``"pretrained"`` gives ``pretrained/W``).

    Returns:
        str
    """
    name = varname
    if varname_prefix:
        p = varname_prefix.rstrip("/") + "/"
        if name.startswith(p):
            name = name[len(p):]
    if savename_prefix:
        name = savename_prefix.rstrip("/") + "/" + name
    return name


class SessionUpdate:
    """Assign new values to variables of a session.

    Values are reshaped when the element count matches and cast between float types or to
    wider integer types (upstream's relaxed rule).

    Args:
        sess (tf.compat.v1.Session): the session.
        vars_to_update (iterable[tf.Variable]): the variables that may be updated.
        ignore_mismatch (bool): skip, with a warning, a value that cannot be made to fit
            instead of raising ``ValueError``.
    """

    def __init__(self, sess, vars_to_update, ignore_mismatch=False):
        self.sess = sess
        self.name_map = {v.name: v for v in vars_to_update}
        self._by_op = {v.op.name: v for v in self.name_map.values()}
        self.ignore_mismatch = ignore_mismatch

    @staticmethod
    def relaxed_value_for_var(value, var, ignore_mismatch=False):
        """A version of ``value`` that can be loaded into ``var`` (reshaped / cast), by the
        same rule as every restore (:func:`~tensorpack.checkpoint.plan.pair_entry`).

        Args:
            value (np.ndarray): the value.
            var (tf.Variable): the variable.
            ignore_mismatch (bool): return None instead of raising when it cannot fit.

        Returns:
            np.ndarray or None

        Raises:
            ValueError: the shape or dtype cannot be made to fit (without ``ignore_mismatch``).
        """
        from tensorpack.checkpoint.formats import array_info
        from tensorpack.tfutils import restore
        spec = restore.var_spec(var)
        value = np.asarray(value)
        entry, reason = pair_entry(spec, array_info(spec.name, value), relaxed=True,
                                   source_name="the value")
        if reason is not None:
            problem = "Cannot load the value into variable '{}': {}.".format(spec.name, reason)
            if ignore_mismatch:
                logger.warning(problem + " Skipped.")
                return None
            raise ValueError(problem)
        if entry.reshape and entry.var_shape is not None:
            logger.warning("The value for '{}' is reshaped from {} to {}.".format(
                spec.name, entry.src_shape, entry.var_shape))
        if entry.cast:
            logger.warning("The value for '{}' is cast from {} to {}.".format(
                spec.name, entry.src_dtype, entry.var_dtype))
        return restore.convert(value, entry)

    def update(self, prms):
        """Assign values, in one session run, through the restore pipeline (a relaxed plan,
        then one feed step).

        Args:
            prms (dict): ``{variable name: value}``; names with or without ``:0``, each one of
                ``vars_to_update``.

        Raises:
            KeyError: a name that is not one of ``vars_to_update``.
            ValueError: a value that cannot be made to fit (without ``ignore_mismatch``).
        """
        from tensorpack.checkpoint.formats import DictSource
        from tensorpack.tfutils import restore
        for name in prms:
            if normalize_name(name) not in self._by_op:
                raise KeyError("SessionUpdate: '{}' is not one of the {} variables it was made "
                               "for.".format(name, len(self._by_op)))
        source = DictSource(prms)
        wanted = {normalize_name(n) for n in prms}
        variables = {n: v for n, v in self._by_op.items() if n in wanted}
        plan = make_plan([restore.var_spec(v) for v in variables.values()], source.infos(),
                         relaxed=True, ignore_mismatch=self.ignore_mismatch,
                         source_name="the given values")
        for var, key, reason in plan.skipped:
            logger.warning("SessionUpdate: not loading '{}': {}.".format(var, reason))
        # one placeholder per variable: the sets updated vary, stacked ops would pile up
        restore.FeedStep(plan.entries, variables, stack=False).run(self.sess, source)


def _variables_to_dump():
    from tensorpack.compat import tfv1
    seen, out = set(), []
    gvars = {v.name for v in tfv1.global_variables()}
    for v in tfv1.get_collection(tfv1.GraphKeys.TRAINABLE_VARIABLES) + \
            tfv1.get_collection(tfv1.GraphKeys.MODEL_VARIABLES):
        if v.name in gvars and v.name not in seen:  # a variable may be in both collections
            seen.add(v.name)
            out.append(v)
    return out


def _nbytes(var):
    dims = var.shape.as_list() if var.shape.rank is not None else []
    return var.dtype.base_dtype.size * int(np.prod([d or 0 for d in dims]))


def _fetch_in_chunks(sess, variables):
    """Yield ``(name, value)``, fetching about 128 MiB of variables per session run."""
    chunk, size = [], 0
    for v in variables:
        nbytes = _nbytes(v)
        if chunk and size + nbytes > _FETCH_CHUNK_BYTES:
            yield from zip([c.name for c in chunk], sess.run(chunk))
            chunk, size = [], 0
        chunk.append(v)
        size += nbytes
    if chunk:
        yield from zip([c.name for c in chunk], sess.run(chunk))


def dump_session_params(path):
    """Save the TRAINABLE and MODEL variables of the default session's graph.

    Loadable with :func:`~tensorpack.tfutils.sessinit.SmartInit`.

    Args:
        path (str): ``.npz`` (names keep ``:0``, as upstream), ``.safetensors``, or a TF
            checkpoint prefix.

    Raises:
        RuntimeError: there is no default session.
    """
    from tensorpack.compat import tfv1
    sess = tfv1.get_default_session()
    if sess is None:
        raise RuntimeError("dump_session_params needs a default session: call it inside "
                           "'with sess.as_default():'.")
    variables = _variables_to_dump()
    _save(_fetch_in_chunks(sess, variables), path, [v.name for v in variables])


def _save(items, path, names):
    from tensorpack.checkpoint.formats import output_format, save_tensors
    path = os.fspath(path)
    fmt = output_format(path)  # refuses .npy before anything is logged
    logger.info("Variables to save to {}: {}".format(path, ", ".join(sorted(names))))
    if fmt == "tf":  # checkpoints store op names
        items = ((normalize_name(k), v) for k, v in items)
    save_tensors(path, items, fmt=fmt)


def save_checkpoint_vars(dic, path):
    """Save a dict of arrays to ``path``.

    Args:
        dic (dict): ``{name: value}``.
        path (str): ``.npz``, ``.safetensors`` (names kept as given), or anything else for a
            TensorFlow checkpoint prefix (names without ``:0``).

    Raises:
        ValueError: a ``.npy`` path, or a value that cannot be stored.
    """
    _save(iter(dic.items()), path, list(dic))


def load_checkpoint_vars(path):
    """Load every tensor of a checkpoint / npz / safetensors file into a dict.

    Args:
        path (str): a TF checkpoint in any path form, or an ``.npz`` / ``.safetensors`` file.

    Returns:
        dict: name -> np.ndarray (names without ``:0``).

    Raises:
        FileNotFoundError: nothing at ``path`` (the message says what was tried).
        ValueError: an unsupported or corrupt file.
    """
    from tensorpack.checkpoint.formats import open_source
    with open_source(os.path.expanduser(os.fspath(path))) as src:
        return {get_op_tensor_name(k)[0]: np.array(v) for k, v in src.items()}


def get_checkpoint_path(path):
    """The checkpoint prefix a user-given path means.

    Args:
        path (str): a prefix, its ``.index`` / ``.data-*`` / ``.meta`` file, a
            ``checkpoint`` state file, or a directory.

    Returns:
        str: a prefix whose ``.index`` file exists.

    Raises:
        FileNotFoundError: no checkpoint there (the message says what was tried).
    """
    from tensorpack.checkpoint.paths import resolve_checkpoint_prefix
    return resolve_checkpoint_prefix(os.path.expanduser(os.fspath(path)))


def get_all_checkpoints(dir, prefix="model"):  # noqa: A002  (upstream's argument name)
    """All ``<prefix>-<step>`` checkpoints of a directory, sorted by step.

    Args:
        dir (str): the checkpoint directory.
        prefix (str): the name before ``-<step>``.

    Returns:
        list[tuple[str, int]]: ``(name, step)``, oldest first, where ``name`` is the
        checkpoint's ``.index`` file, as upstream returns it (scripts strip the suffix).
        It can be passed as is to :func:`load_checkpoint_vars`, ``SmartInit`` or
        :func:`get_checkpoint_path` (which gives the prefix).
    """
    from tensorpack.checkpoint.paths import checkpoint_step, list_checkpoints
    return [(p + ".index", checkpoint_step(p)) for p in list_checkpoints(dir, prefix=prefix)]


load_chkpt_vars = load_checkpoint_vars
save_chkpt_vars = save_checkpoint_vars
