"""TrainConfig and AutoResumeTrainConfig: every option of a training run in one object."""
import glob
import json
import os

from tensorpack.dataflow.base import DataFlow
from tensorpack.tfutils.sesscreate import NewSessionCreator
from tensorpack.tfutils.sessinit import SessionInit
from tensorpack.train.model_desc import ModelDescBase
from tensorpack.utils import logger

__all__ = ["TrainConfig", "AutoResumeTrainConfig", "DEFAULT_CALLBACKS", "DEFAULT_MONITORS"]


class TrainConfigError(TypeError, ValueError):
    """A TrainConfig argument of the wrong type (catchable as TypeError or ValueError)."""


def DEFAULT_CALLBACKS():
    """The callbacks added to every run unless ``extra_callbacks`` is given:
    ``MovingAverageSummary()``, ``ProgressBar()``, ``MergeAllSummaries()``, ``RunUpdateOps()``.

    Returns:
        list[Callback]
    """
    from tensorpack.callbacks import (MergeAllSummaries, MovingAverageSummary, ProgressBar,
                                      RunUpdateOps)
    return [MovingAverageSummary(), ProgressBar(), MergeAllSummaries(), RunUpdateOps()]


def DEFAULT_MONITORS():
    """The monitors used unless ``monitors`` is given: ``TFEventWriter()`` (TensorBoard),
    ``JSONWriter()`` (stats.json), ``ScalarPrinter()`` (the log).

    Returns:
        list[MonitorBase]
    """
    from tensorpack.callbacks import JSONWriter, ScalarPrinter, TFEventWriter
    return [TFEventWriter(), JSONWriter(), ScalarPrinter()]


def _check_type(value, types, name, what):
    if value is not None and not isinstance(value, types):
        raise TrainConfigError("TrainConfig({}=...) must be {}, got an object of type {}.".format(
            name, what, type(value).__name__))


def _check_list(value, name):
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise TrainConfigError("TrainConfig({}=...) must be a list of callbacks, got {}.".format(
            name, type(value).__name__))
    return list(value)


class TrainConfig:
    """All options of a single-cost training run, for :func:`launch_train_with_config`."""

    def __init__(self, dataflow=None, data=None, model=None, callbacks=None,
                 extra_callbacks=None, monitors=None, session_creator=None, session_config=None,
                 session_init=None, starting_epoch=1, steps_per_epoch=None, max_epoch=99999):
        """
        Args:
            dataflow (DataFlow): the training data (alternative to ``data``).
            data (InputSource): the training input (alternative to ``dataflow``).
            model (ModelDesc): the model.
            callbacks (list[Callback]): your callbacks (ModelSaver, InferenceRunner, ...).
            extra_callbacks (list[Callback]): appended to ``callbacks``; defaults to
                :func:`DEFAULT_CALLBACKS` (progress bar, summaries, update ops).
            monitors (list[MonitorBase]): defaults to :func:`DEFAULT_MONITORS`.
            session_creator (tf.compat.v1.train.SessionCreator): defaults to
                :class:`NewSessionCreator` with ``session_config``.
            session_config (tf.compat.v1.ConfigProto): config for the default session creator.
            session_init (SessionInit): initial values of the variables (e.g.
                ``SmartInit(path)``); by default variables keep their initializers' values.
            starting_epoch (int): number of the first epoch (1-based).
            steps_per_epoch (int): steps per epoch; defaults to the length of the input.
            max_epoch (int): number of the last epoch.

        Raises:
            ValueError: (or TypeError, which it also is for wrong types) when an argument is
                of the wrong type, both or neither input is given, both ``session_creator``
                and ``session_config`` are given, the input has no length and no
                ``steps_per_epoch`` is given, or a count is negative.
        """
        from tensorpack.input_source import InputSource
        if dataflow is not None and data is not None:
            raise ValueError("TrainConfig: give either dataflow= or data=, not both.")
        _check_type(dataflow, DataFlow, "dataflow", "a DataFlow")
        _check_type(data, InputSource, "data", "an InputSource (e.g. QueueInput(df))")
        _check_type(model, ModelDescBase, "model", "a ModelDesc")
        _check_type(session_init, SessionInit, "session_init",
                    "a SessionInit (e.g. SmartInit('path/to/checkpoint'))")
        self.dataflow = dataflow
        self.data = data
        self.model = model
        self.callbacks = _check_list(callbacks, "callbacks")
        self.extra_callbacks = _check_list(extra_callbacks, "extra_callbacks")
        self.monitors = _check_list(monitors, "monitors")
        self.session_init = session_init

        if session_creator is not None:
            if session_config is not None:
                raise ValueError("TrainConfig: give session_creator= or session_config=, not "
                                 "both (put the config into your session creator).")
            self.session_creator = session_creator
        else:
            self.session_creator = NewSessionCreator(config=session_config)

        if steps_per_epoch is None:
            source = dataflow if dataflow is not None else data
            if source is None:
                raise ValueError("TrainConfig: steps_per_epoch= is required when no dataflow= "
                                 "or data= is given.")
            try:
                steps_per_epoch = len(source) if dataflow is not None else source.size()
            except NotImplementedError:
                raise ValueError("TrainConfig: the input {} has no length; pass "
                                 "steps_per_epoch=.".format(type(source).__name__)) from None
        self.steps_per_epoch = self._to_int(steps_per_epoch, "steps_per_epoch")
        self.starting_epoch = self._to_int(starting_epoch, "starting_epoch")
        self.max_epoch = self._to_int(max_epoch, "max_epoch")
        if self.steps_per_epoch < 0 or self.max_epoch < 0:
            raise ValueError("TrainConfig: steps_per_epoch ({}) and max_epoch ({}) must not be "
                             "negative.".format(self.steps_per_epoch, self.max_epoch))

    @staticmethod
    def _to_int(value, name):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError("TrainConfig({}=...) must be an integer, got {!r}.".format(
                name, value)) from None


def _read_global_step(prefix):
    """The ``global_step`` stored in a checkpoint, read without TensorFlow when possible."""
    try:
        from tensorpack.checkpoint.formats import open_source
        with open_source(prefix) as src:
            return int(src.read("global_step"))
    except (ImportError, KeyError, ValueError, OSError):
        pass
    try:
        import tensorflow as tf
        return int(tf.train.load_variable(prefix, "global_step"))
    except Exception:  # noqa: BLE001 - any failure means "unknown"; the caller explains
        pass
    tail = os.path.basename(prefix).rsplit("-", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else None


def _epoch_from_stats(logdir, step):
    """The epoch of the last stats.json entry at or before ``step`` (else the last entry)."""
    path = os.path.join(logdir, "stats.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            stats = json.load(f)
        entries = [e for e in stats if isinstance(e, dict) and "epoch_num" in e]
    except (OSError, ValueError, TypeError) as e:
        logger.warn("AutoResumeTrainConfig: cannot read {} ({}); ignoring it.".format(path, e))
        return None
    if not entries:
        return None
    if step is not None:
        before = [e for e in entries if isinstance(e.get("global_step"), int)
                  and e["global_step"] <= step]
        if before:
            return int(before[-1]["epoch_num"])
    return int(entries[-1]["epoch_num"])


class AutoResumeTrainConfig(TrainConfig):
    """A :class:`TrainConfig` that continues an interrupted run from its logger directory.

    If the logger directory has a checkpoint, the run loads it and continues with the next
    epoch: the last finished epoch comes from ``stats.json`` when present, otherwise from the
    checkpoint's ``global_step`` divided by ``steps_per_epoch``. One log line says what is
    resumed, why, and which user arguments it overrides. Without a checkpoint, nothing
    changes (a ``stats.json`` alone is not resumed: there are no weights to go with it).

    Set the logger directory (``logger.set_logger_dir``) *before* creating this config.
    """

    def __init__(self, always_resume=True, **kwargs):
        """
        Args:
            always_resume (bool): if True, a found checkpoint overrides ``session_init`` and
                ``starting_epoch`` given by you (so the same command restarts a job from a
                pre-trained model the first time, and resumes it afterwards). If False, your
                arguments win and only the missing ones are filled in.
            kwargs: as for :class:`TrainConfig`.
        """
        super().__init__(**kwargs)
        self._resume(always_resume, kwargs)

    @staticmethod
    def get_sessinit_resume(dir=None):
        """A ``SaverRestore`` of the latest checkpoint in ``dir`` (the logger dir by
        default), or None if there is none."""
        dirname = dir or logger.get_logger_dir()
        if not dirname:
            return None
        from tensorpack.tfutils.sessinit import SaverRestore
        prefix = _find_checkpoint(dirname)
        return SaverRestore(prefix) if prefix else None

    def _resume(self, always_resume, kwargs):
        logdir = logger.get_logger_dir()
        if not logdir:
            logger.info("AutoResumeTrainConfig: no logger directory is set, so there is nothing "
                        "to resume; starting fresh.")
            return
        prefix = _find_checkpoint(logdir)
        if prefix is None:
            leftovers = _checkpoint_leftovers(logdir)
            if leftovers:
                logger.warn("AutoResumeTrainConfig: '{}' has {} but no checkpoint that can be "
                            "loaded; starting fresh, and new checkpoints will be saved "
                            "there.".format(logdir, leftovers))
            else:
                logger.info("AutoResumeTrainConfig: no checkpoint in '{}'; starting "
                            "fresh.".format(logdir))
            return
        step = _read_global_step(prefix)
        epoch = _epoch_from_stats(logdir, step)
        if epoch is not None:
            why = "last epoch {} from stats.json".format(epoch)
        elif step is not None and self.steps_per_epoch > 0:
            epoch = step // self.steps_per_epoch
            why = "global_step {} // steps_per_epoch {} = {} finished epochs (no stats.json)" \
                .format(step, self.steps_per_epoch, epoch)
        else:
            why = "epoch unknown (no stats.json, global_step {})".format(
                "unreadable" if step is None else "{} with steps_per_epoch 0".format(step))

        use_init = always_resume or kwargs.get("session_init") is None
        if not use_init:
            logger.info("AutoResumeTrainConfig: found checkpoint '{}' (global_step {}) but "
                        "always_resume=False and session_init was given: keeping your "
                        "session_init and starting_epoch={}; nothing is resumed.".format(
                            prefix, "?" if step is None else step, self.starting_epoch))
            return
        from tensorpack.tfutils.sessinit import SaverRestore
        overrides = []
        if kwargs.get("session_init") is not None:
            overrides.append("session_init={}".format(type(kwargs["session_init"]).__name__))
        self.session_init = SaverRestore(prefix)
        use_epoch = epoch is not None and (always_resume or "starting_epoch" not in kwargs)
        if use_epoch:
            if "starting_epoch" in kwargs and int(kwargs["starting_epoch"]) != epoch + 1:
                overrides.append("starting_epoch={}".format(kwargs["starting_epoch"]))
            self.starting_epoch = epoch + 1
        elif epoch is not None:
            why += "; keeping your starting_epoch={} (always_resume=False)".format(
                self.starting_epoch)
        logger.info("AutoResumeTrainConfig: resuming from checkpoint '{}' (global_step {}) at "
                    "epoch {} ({}); {}.".format(
                        prefix, "?" if step is None else step, self.starting_epoch, why,
                        "overriding " + ", ".join(overrides) if overrides
                        else "no user argument overridden"))


def _find_checkpoint(dirname):
    """The checkpoint to resume from, found as ``SmartInit(dirname)`` finds it (the state
    file's latest, else, with a warning naming the missing path, the newest in the directory),
    and verified: when it is damaged, the newest intact one, with a warning per skipped one.
    """
    from tensorpack.checkpoint.paths import resolve_checkpoint_prefix
    from tensorpack.checkpoint.verify import newest_intact, verify_checkpoint
    try:
        prefix = resolve_checkpoint_prefix(dirname)
    except FileNotFoundError:
        return None
    result = verify_checkpoint(prefix)
    if result.ok:
        return prefix

    def skipped(r):
        logger.warn("AutoResumeTrainConfig: skipping damaged checkpoint '{}': {}".format(
            r.path, r.problem))
    skipped(result)
    found = newest_intact(dirname, os.path.basename(prefix).rsplit("-", 1)[0],
                          on_skip=lambda r: None if r.path == prefix else skipped(r))
    if found is not None:
        logger.warn("AutoResumeTrainConfig: resuming from '{}', the newest intact checkpoint, "
                    "instead.".format(found))
    return found


def _checkpoint_leftovers(dirname):
    """What in ``dirname`` looks like an earlier run's checkpoints (for a warning), or ''."""
    from tensorpack.checkpoint.state import STATE_FILENAME
    found = []
    if os.path.isfile(os.path.join(dirname, STATE_FILENAME)):
        found.append("a '{}' state file".format(STATE_FILENAME))
    from tensorpack.checkpoint.paths import data_file_glob
    data = glob.glob(data_file_glob(os.path.join(glob.escape(dirname), "*")))
    if data:
        found.append("{} checkpoint data file(s)".format(len(data)))
    return " and ".join(found)
