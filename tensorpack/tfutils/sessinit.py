"""Session initializers: how a session gets its variable values (``session_init=``).

Every initializer that loads values is a front door to one pipeline, followed in one
direction through typed objects (see ``docs/session_init.md``):

1. a :class:`~tensorpack.checkpoint.opener.SourceOpener`, made with the initializer (so a
   missing or corrupt file fails there, naming the file), which owns what it opens;
2. a :class:`~tensorpack.checkpoint.plan.RestorePlan`, made in
   :meth:`SessionInit._setup_graph` with the ops it needs
   (:class:`~tensorpack.tfutils.restore.PreparedRestore`);
3. its steps, run by :meth:`SessionInit.restore` inside one ``with opener.open()`` block;
4. a :class:`~tensorpack.checkpoint.report.RestoreReport`, returned (and kept as
   ``.report``); :meth:`SessionInit._run_init` also logs it as one table.
"""
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from numpy.typing import ArrayLike

from tensorpack.checkpoint.opener import SourceOpener
from tensorpack.checkpoint.plan import IgnoreRule, make_plan, strict_error
from tensorpack.checkpoint.report import RestoreReport
from tensorpack.checkpoint.source import CheckpointSource
from tensorpack.utils import logger

if TYPE_CHECKING:  # annotations only: importing this module stays TensorFlow-free
    import tensorflow as tf

__all__ = ["SessionInit", "ChainInit", "SaverRestore", "SaverRestoreRelaxed", "DictRestore",
           "JustCurrentSession", "get_model_loader", "SmartInit"]


class SessionInit:
    """Base class for utilities to load variables into a (newly created) session.

    A trainer or predictor calls :meth:`_setup_graph` while the graph is still being built
    (so that initializers can add the ops they need) and :meth:`_run_init` once the
    session exists. :meth:`init` does both, for use outside a trainer.

    Loaders implement :meth:`restore` (load, return a report, log nothing); their
    ``_run_init`` is ``restore`` plus one logged table. A subclass written for upstream,
    which overrides only ``_run_init``, keeps working everywhere, :class:`ChainInit`
    included.
    """

    def init(self, sess: "tf.compat.v1.Session") -> RestoreReport | None:
        """Set up the graph and initialize ``sess`` in one call.

        Args:
            sess (tf.compat.v1.Session): the session to initialize.

        Returns:
            whatever :meth:`_run_init` returns (a ``RestoreReport`` for loaders).
        """
        self._setup_graph()
        return self._run_init(sess)

    def restore(self, sess: "tf.compat.v1.Session") -> RestoreReport | None:
        """Initialize ``sess`` and return the report, without logging it.

        Args:
            sess (tf.compat.v1.Session): the session to initialize.

        Returns:
            RestoreReport or None: None for initializers that load no values.
        """
        return self._run_init(sess)

    def _setup_graph(self):
        pass

    def _run_init(self, sess):
        pass


class JustCurrentSession(SessionInit):
    """A no-op initializer: the session keeps whatever values it has."""


class _SourceRestore(SessionInit):
    """Restore graph variables from one source, through the pipeline
    opener -> plan -> steps -> report.

    Args:
        source: a :class:`~tensorpack.checkpoint.opener.SourceOpener`, or anything it takes
            (a path, a dict of arrays, a ``CheckpointSource``).
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

    def __init__(self, source, prefix=None, ignore=(), *, relaxed=None, ignore_mismatch=None,
                 strict=False, allow_pickle=False):
        if prefix is not None and not isinstance(prefix, str):
            raise ValueError("prefix must be a string like 'tower0', got {!r}.".format(prefix))
        # What can be known now fails now, naming the file: an unreadable index or header,
        # an object array, a file of another kind.
        self._opener = source if isinstance(source, SourceOpener) else SourceOpener(
            source, allow_pickle=allow_pickle)
        self.path = self._opener.path  # AutoResumeTrainConfig reads this attribute
        self.prefix = prefix
        self.ignore = IgnoreRule(ignore)
        self.strict = strict
        if relaxed is not None:
            self._relaxed = relaxed
        if ignore_mismatch is not None:
            self._ignore_mismatch = ignore_mismatch
        self._prepared = None
        self.report = None

    @classmethod
    def from_opener(cls, opener: SourceOpener, *, prefix: str | None = None,
                    ignore: str | Iterable[str] = (), strict: bool = False,
                    ignore_mismatch: bool | None = None) -> "_SourceRestore":
        """Make this initializer for a source already opened and checked (``SmartInit``
        does so: a file is opened and listed once, whatever class ends up reading it).

        Args:
            opener (SourceOpener): the source.
            prefix, ignore, strict, ignore_mismatch: as for the class.
        """
        init = cls.__new__(cls)
        _SourceRestore.__init__(init, opener, prefix=prefix, ignore=ignore, strict=strict,
                                ignore_mismatch=ignore_mismatch)
        return init

    @property
    def opener(self) -> SourceOpener:
        """The source values come from."""
        return self._opener

    def _setup_graph(self):
        from tensorpack.compat import tfv1
        self._prepare(tfv1.get_default_graph())

    def _prepare(self, graph):
        from tensorpack.tfutils import restore
        variables = restore.graph_variables(graph)
        plan = make_plan([restore.var_spec(v) for v in variables.values()],
                         self._opener.infos(), prefix=self.prefix, ignore=self.ignore,
                         relaxed=self._relaxed, ignore_mismatch=self._ignore_mismatch,
                         strict=self.strict, source_name=self._opener.describe())
        self._prepared = restore.prepare(plan, variables, graph,
                                         tf_checkpoint=self._opener.is_tf_checkpoint,
                                         raw_key=self._opener.stored_key)

    def restore(self, sess: "tf.compat.v1.Session") -> RestoreReport:
        """Load the values into ``sess`` and return what was done, without logging it.

        Raises:
            ValueError: see the class (mismatches, ``strict``), or the file changed since
                the restore was planned.
        """
        from tensorpack.tfutils import restore
        if self._prepared is None or self._prepared.graph is not sess.graph:
            self._prepare(sess.graph)
        prepared, self._prepared = self._prepared, None  # the next init re-plans
        logger.info("Restoring {} variables from {} ...".format(
            len(prepared.plan.entries), self._opener.describe()))
        with self._opener.open() as source:
            restore.check_listing(prepared.plan, source.infos(), self._opener.describe())
            restore.run(sess, prepared, source)
        self.report = RestoreReport.from_plan(prepared.plan, source=self.path or "dict")
        return self.report

    def _run_init(self, sess):
        report = self.restore(sess)
        report.log()
        return report


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

    def __init__(self, model_path: str | os.PathLike | CheckpointSource,
                 prefix: str | None = None, ignore: str | Iterable[str] = (), *,
                 strict: bool = False):
        super().__init__(model_path, prefix=prefix, ignore=ignore, strict=strict)
        if self.path and not self.opener.is_tf_checkpoint:
            logger.warning("SaverRestore expects a TF checkpoint but {} is read by {}; loading "
                           "it as a dict of arrays (SmartInit is meant for any file)."
                           .format(self.opener.describe(), self.opener.kind))


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

    def __init__(self, variable_dict: Mapping[str, ArrayLike] | CheckpointSource,
                 ignore_mismatch: bool = False, *, ignore: str | Iterable[str] = (),
                 strict: bool = False):
        # An open CheckpointSource is accepted too (borrowed: never closed here).
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

    def __init__(self, sess_inits: Iterable[SessionInit], *, strict: bool = False):
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

    def restore(self, sess: "tf.compat.v1.Session") -> RestoreReport | None:
        """Run every initializer in order and return their merged report, unlogged.

        Raises:
            ValueError: (``strict``) a graph variable got a value from none of them.
        """
        self.reports = [r for r in (i.restore(sess) for i in self.inits)
                        if isinstance(r, RestoreReport)]
        self.report = RestoreReport.merge(self.reports) if self.reports else None
        if self.strict and self.report is not None and self.report.graph_only:
            # training state (optimizer slots, global_step) is never in graph_only
            raise strict_error(self.report.graph_only,
                               self.report.source_only, "any of " + self.report.source)
        return self.report

    def _run_init(self, sess):
        # One summary for the chain: a child's graph-only names may come from a later child.
        report = self.restore(sess)
        if report is not None:
            report.log()
        return report


def SmartInit(obj: SessionInit | CheckpointSource | Mapping[str, ArrayLike] | str
              | os.PathLike | list | tuple | None,
              *, ignore_mismatch: bool = False, ignore: str | Iterable[str] = (),
              strict: bool = False, allow_pickle: bool = False) -> SessionInit:
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
        opener = SourceOpener(obj, allow_pickle=allow_pickle)  # fails here if the file is bad
        if opener.is_tf_checkpoint:
            cls = SaverRestoreRelaxed if ignore_mismatch else SaverRestore
            return cls.from_opener(opener, ignore=ignore, strict=strict)
        if opener.owned:
            logger.info("Loading dictionary from {} ...".format(opener.path))
        return DictRestore.from_opener(opener, ignore_mismatch=ignore_mismatch, ignore=ignore,
                                       strict=strict)
    raise ValueError("SmartInit cannot initialize a session from a {} ({!r}). It takes None, "
                     "a SessionInit, a dict of arrays, a path to an .npz / .npy / .safetensors "
                     "file or a TF checkpoint, or a list of those.".format(
                         type(obj).__name__, obj))


get_model_loader = SmartInit
