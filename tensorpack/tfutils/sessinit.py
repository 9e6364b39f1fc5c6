"""Session initializers: how a session gets its variable values (``session_init=``).

Every initializer that loads values is a front door to one pipeline
(source -> plan -> apply -> report, see ``DESIGN.md``): the source is opened when the
initializer is made (so a missing or corrupt file fails early, naming the file), the plan
and its ops are made in :meth:`SessionInit._setup_graph`, values are loaded in
:meth:`SessionInit._run_init`, which logs one summary table and returns it as a
:class:`~tensorpack.checkpoint.report.RestoreReport` (also kept as ``.report``).
"""
import os

from tensorpack.checkpoint.plan import IgnoreRule, make_plan
from tensorpack.checkpoint.report import RestoreReport
from tensorpack.utils import logger

__all__ = ["SessionInit", "ChainInit", "SaverRestore", "SaverRestoreRelaxed", "DictRestore",
           "JustCurrentSession", "get_model_loader", "SmartInit"]


class SessionInit:
    """Base class for utilities to load variables into a (newly created) session.

    A trainer or predictor calls :meth:`_setup_graph` while the graph is still being built
    (so that initializers can add the ops they need) and :meth:`_run_init` once the
    session exists. :meth:`init` does both, for use outside a trainer.
    """

    def init(self, sess):
        """Set up the graph and initialize ``sess`` in one call.

        Args:
            sess (tf.compat.v1.Session): the session to initialize.

        Returns:
            whatever :meth:`_run_init` returns (a ``RestoreReport`` for loaders).
        """
        self._setup_graph()
        return self._run_init(sess)

    def _setup_graph(self):
        pass

    def _run_init(self, sess):
        pass


class JustCurrentSession(SessionInit):
    """A no-op initializer: the session keeps whatever values it has."""


class _SourceRestore(SessionInit):
    """Restore graph variables from any :class:`~tensorpack.checkpoint.source.CheckpointSource`.

    Args:
        source: anything :func:`tensorpack.checkpoint.formats.open_source` accepts.
        prefix (str): graph variables ``<prefix>/x`` are restored from key ``x``.
        ignore (iterable[str]): names or glob patterns to leave alone (``:0`` optional);
            their optimizer slots and moving averages are left alone too.
        relaxed (bool): allow reshapes (same element count) and safe dtype casts.
        ignore_mismatch (bool): skip (with a warning) values that cannot be loaded, instead of
            raising ``ValueError``.
        strict (bool): raise ``ValueError`` if a graph variable (other than training-only
            ones such as optimizer slots) has no value in the source.
        allow_pickle (bool): allow a legacy pickled ``.npy`` dict (only for trusted files).
    """

    _relaxed = True
    _ignore_mismatch = False
    _log_report = True  # ChainInit logs one merged report instead

    def __init__(self, source, prefix=None, ignore=(), *, relaxed=None, ignore_mismatch=None,
                 strict=False, allow_pickle=False):
        from tensorpack.checkpoint.formats import open_source
        if prefix is not None and not isinstance(prefix, str):
            raise ValueError("prefix must be a string like 'tower0', got {!r}.".format(prefix))
        self._given = source
        self._allow_pickle = allow_pickle
        self._source = open_source(_expand(source), allow_pickle=allow_pickle)
        try:
            # What can be known now fails now, naming the file: an unreadable index or
            # header, an object array, a file of another kind. (The listing is kept.)
            self._source.infos()
        except BaseException:
            if isinstance(source, (str, os.PathLike)):
                self._source.close()
            raise
        self.path = self._source.path  # AutoResumeTrainConfig reads this attribute
        self.prefix = prefix
        self.ignore = IgnoreRule(ignore)
        self.strict = strict
        if relaxed is not None:
            self._relaxed = relaxed
        if ignore_mismatch is not None:
            self._ignore_mismatch = ignore_mismatch
        self._prepared = None
        self.report = None

    def _describe(self):
        return "'{}'".format(self.path) if self.path else "a dict"

    def _get_source(self):
        if self._source is None:
            from tensorpack.checkpoint.formats import open_source
            self._source = open_source(_expand(self._given), allow_pickle=self._allow_pickle)
        return self._source

    def _setup_graph(self):
        from tensorpack.compat import tfv1
        self._prepare(tfv1.get_default_graph())

    def _prepare(self, graph):
        from tensorpack.tfutils import restore
        source = self._get_source()
        variables = restore.graph_variables(graph)
        plan = make_plan([restore.var_spec(v) for v in variables.values()], source.infos(),
                         prefix=self.prefix, ignore=self.ignore, relaxed=self._relaxed,
                         ignore_mismatch=self._ignore_mismatch, strict=self.strict,
                         source_name=self._describe())
        self._prepared = restore.prepare(plan, variables, graph, source)

    def _run_init(self, sess):
        from tensorpack.tfutils import restore
        if self._prepared is None or self._prepared.graph is not sess.graph:
            self._prepare(sess.graph)
        logger.info("Restoring {} variables from {} ...".format(
            len(self._prepared.plan.entries), self._describe()))
        source = self._get_source()
        try:
            restore.run(sess, self._prepared, source, checkpoint_prefix=self.path)
        finally:
            if isinstance(self._given, (str, os.PathLike)):  # ours to close (and reopen)
                source.close()
                self._source = None
        self.report = RestoreReport.from_plan(self._prepared.plan, source=self.path or "dict")
        self._prepared = None  # the next init re-plans (the graph may have changed)
        if self._log_report:
            self.report.log()
        return self.report


def _expand(obj):
    if isinstance(obj, (str, os.PathLike)):
        return os.path.expanduser(os.fspath(obj))
    return obj


class SaverRestore(_SourceRestore):
    """Restore a TensorFlow checkpoint (saved by ``tf.train.Saver`` or ``ModelSaver``).

    Shapes and dtypes must match exactly (a mismatch raises ``ValueError`` naming the
    variable and both shapes); use :class:`SaverRestoreRelaxed` to allow casts and reshapes.

    Args:
        model_path (str): the checkpoint in any form: a prefix (``model-5000``), its
            ``.index`` / ``.data-*`` / ``.meta`` file, a ``checkpoint`` state file or a
            directory (its latest checkpoint).
        prefix (str): restore the checkpoint's ``x`` into the graph's ``<prefix>/x``.
        ignore (iterable[str]): names or glob patterns to leave alone, ``:0`` optional;
            a variable's optimizer slots and moving averages are ignored with it.
        strict (bool): raise if a non-training graph variable is missing from the checkpoint.

    Raises:
        FileNotFoundError: no checkpoint at ``model_path`` (the message says what was tried).
        ValueError: the checkpoint is corrupt (names the file) or not a checkpoint.
    """

    _relaxed = False
    _ignore_mismatch = False

    def __init__(self, model_path, prefix=None, ignore=(), *, strict=False):
        if isinstance(model_path, str) and model_path.endswith((".npy", ".npz")):
            logger.warning("SaverRestore expects a TF checkpoint but got '{}'; reading it as a "
                           "dict of arrays (DictRestore / SmartInit are meant for that)."
                           .format(model_path))
        super().__init__(model_path, prefix=prefix, ignore=ignore, strict=strict)


class SaverRestoreRelaxed(SaverRestore):
    """Like :class:`SaverRestore`, but loads what it can.

    A value is reshaped when its element count matches the variable's, cast between float
    types or to a wider integer type; a value that still does not fit is skipped with a
    warning (and listed as skipped in the report) instead of raising.
    """

    _relaxed = True
    _ignore_mismatch = True


class DictRestore(_SourceRestore):
    """Restore variables from a dict of ``{name: value}`` (names with or without ``:0``).

    As upstream, values are reshaped when the element count matches and cast by the relaxed
    rule.

    Args:
        variable_dict (dict): names to NumPy arrays (or anything ``np.asarray`` takes).
        ignore_mismatch (bool): skip a value whose shape or dtype cannot be made to fit, with
            a warning, instead of raising ``ValueError``.
        ignore (iterable[str]): names or glob patterns to leave alone (slots included).
        strict (bool): raise if a non-training graph variable is missing from the dict.

    Raises:
        TypeError: ``variable_dict`` is not a dict.
    """

    def __init__(self, variable_dict, ignore_mismatch=False, *, ignore=(), strict=False):
        from collections.abc import Mapping

        from tensorpack.checkpoint.source import CheckpointSource
        # A CheckpointSource is accepted too: SmartInit passes npz / safetensors files so.
        if not isinstance(variable_dict, (Mapping, CheckpointSource)):
            raise TypeError("DictRestore takes a dict of name -> array, got a {}. For a file "
                            "use SmartInit(path).".format(type(variable_dict).__name__))
        super().__init__(variable_dict, ignore=ignore, ignore_mismatch=ignore_mismatch,
                         strict=strict)


class ChainInit(SessionInit):
    """Run several initializers one after another; a later one overwrites an earlier one.

    Useful to compose a model from several files. ``.report`` is the merged
    :class:`RestoreReport` (``.reports`` keeps each one's).

    Args:
        sess_inits (list[SessionInit]): the initializers, in order.
        strict (bool): after all of them ran, raise ``ValueError`` if a graph variable
            (other than training-only ones and ``global_step``) got a value from none of
            them. (A ``strict`` child checks only its own source.)
    """

    def __init__(self, sess_inits, *, strict=False):
        self.strict = strict
        sess_inits = list(sess_inits)
        for i in sess_inits:
            if not isinstance(i, SessionInit):
                raise ValueError("ChainInit takes SessionInit instances, got a {} ({!r}); "
                                 "wrap files with SmartInit.".format(type(i).__name__, i))
        self.inits = sess_inits
        self.reports = []
        self.report = None

    def _setup_graph(self):
        for i in self.inits:
            i._setup_graph()

    def _run_init(self, sess):
        # One summary for the chain: a child's graph-only names may come from a later child.
        quiet = [i for i in self.inits if isinstance(i, _SourceRestore) and i._log_report]
        for i in quiet:
            i._log_report = False
        try:
            self.reports = [r for r in (i._run_init(sess) for i in self.inits)
                            if isinstance(r, RestoreReport)]
        finally:
            for i in quiet:
                i._log_report = True
        self.report = RestoreReport.merge(self.reports) if self.reports else None
        if quiet and self.report is not None:
            self.report.log()
        if self.strict and self.report is not None:
            missing = [v for v in self.report.graph_only
                       if v.rsplit("/", 1)[-1] != "global_step"]
            if missing:
                raise ValueError("strict=True: {} graph variable(s) got no value from any of "
                                 "{}: {}.".format(len(missing), self.report.source,
                                                  ", ".join(missing)))
        return self.report


def SmartInit(obj, *, ignore_mismatch=False, ignore=(), strict=False, allow_pickle=False):
    """Make a :class:`SessionInit` from whatever describes the initial values.

    ``obj`` may be:

    * ``None``, ``""``, ``[]`` or ``{}``: a no-op (:class:`JustCurrentSession`);
    * a list: each item through ``SmartInit``, chained in order (later wins);
    * a :class:`SessionInit`: returned as is;
    * a dict of arrays: :class:`DictRestore`;
    * a ``.npz``, ``.npy`` (legacy pickled dict; needs ``allow_pickle=True``) or
      ``.safetensors`` file: read lazily, like a dict;
    * a TF checkpoint in any path form, or a directory with checkpoints:
      :class:`SaverRestore` (:class:`SaverRestoreRelaxed` with ``ignore_mismatch``).

    Args:
        obj: see above.
        ignore_mismatch (bool): skip, with a warning, values whose shape or dtype cannot be
            made to fit, instead of raising.
        ignore (iterable[str]): names or glob patterns to leave alone (slots included).
        strict (bool): raise if a non-training graph variable gets no value.
        allow_pickle (bool): allow reading a legacy ``.npy`` dict (runs pickle: trusted
            files only).

    Returns:
        SessionInit

    Raises:
        FileNotFoundError: a path that does not exist (the message says what was tried).
        ValueError: an object or file of an unsupported kind, or a corrupt file.
    """
    from collections.abc import Mapping

    from tensorpack.checkpoint.source import CheckpointSource
    opts = dict(ignore_mismatch=ignore_mismatch, ignore=ignore, strict=strict,
                allow_pickle=allow_pickle)
    if obj is None or (isinstance(obj, (str, list, tuple, Mapping)) and len(obj) == 0):
        return JustCurrentSession()  # upstream: anything falsy
    if isinstance(obj, SessionInit):
        return obj
    if isinstance(obj, (list, tuple)):
        # strictness is about the chain as a whole: each item may cover only some variables
        opts["strict"] = False
        return ChainInit([SmartInit(x, **opts) for x in obj], strict=strict)
    if isinstance(obj, Mapping):
        return DictRestore(obj, ignore_mismatch=ignore_mismatch, ignore=ignore, strict=strict)
    if isinstance(obj, (str, os.PathLike, CheckpointSource)):
        from tensorpack.checkpoint.bundle import TFCheckpointSource
        from tensorpack.checkpoint.formats import open_source
        source = open_source(_expand(obj), allow_pickle=allow_pickle)  # fails early if bad
        if isinstance(source, TFCheckpointSource):
            cls = SaverRestoreRelaxed if ignore_mismatch else SaverRestore
            init = cls(source, ignore=ignore, strict=strict)
        else:
            if source is not obj:
                logger.info("Loading dictionary from {} ...".format(source.path))
            init = DictRestore(source, ignore_mismatch=ignore_mismatch, ignore=ignore,
                               strict=strict)
            init._allow_pickle = allow_pickle
        if source is not obj:
            # We opened it from a path: the initializer closes it after loading and reopens
            # it (from the resolved path, without logging the resolution again) if run again.
            init._given = source.path
        return init
    raise ValueError("SmartInit cannot initialize a session from a {} ({!r}). It takes None, "
                     "a SessionInit, a dict of arrays, a path to an .npz / .npy / .safetensors "
                     "file or a TF checkpoint, or a list of those.".format(
                         type(obj).__name__, obj))


get_model_loader = SmartInit
