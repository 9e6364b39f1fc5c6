"""``ModelSaver``: periodic TF checkpoints and the metagraph in the logger dir.

Files, as upstream names them (``checkpoint_dir`` is the logger dir by default)::

    model-<STEP>.index, model-<STEP>.data-00000-of-00001   one checkpoint per trigger (V2)
    checkpoint                                            state file, relative paths
    graph-<MMDD-HHMMSS>.meta                              the metagraph, once per run

Unlike upstream, a failed save is never silent: it is logged as an error naming the
checkpoint and the cause, the half-written files are removed, the state file keeps naming
the last complete checkpoint, and after ``max_consecutive_failures`` failures in a row
training stops with an error (a full disk must not go unnoticed for days).
"""
import glob
import os
import shutil
from datetime import datetime

from tensorpack.checkpoint.paths import checkpoint_files
from tensorpack.checkpoint.state import read_checkpoint_state
from tensorpack.compat import tfv1
from tensorpack.utils import logger
from tensorpack.utils.fs import mkdir_p

from .base import Callback
from .best_saver import MaxSaver, MinSaver

__all__ = ["ModelSaver", "MinSaver", "MaxSaver", "CheckpointSaveError"]

# where tf.compat.v1.train.Saver (V2) writes shards before merging them into the prefix
_TF_TEMP_SUFFIX = "_temp"


class CheckpointSaveError(RuntimeError):
    """Raised by :class:`ModelSaver` when saving failed too many times in a row."""


_TF_NOISE = ('File "', "Detected at node", "Node:", "[[", "Hint:", "Graph execution error")


def _describe(err):
    """A one-line cause: TF errors carry a graph traceback that would bury the reason."""
    if isinstance(err, tfv1.errors.OpError):
        lines = [ln.strip() for ln in err.message.splitlines()]
        useful = [ln for ln in lines if ln and not ln.startswith(_TF_NOISE)]
        return "{}: {}".format(type(err).__name__, (" ".join(useful) or lines[0]).rstrip("."))
    return "{}: {}".format(type(err).__name__, str(err).rstrip("."))


class ModelSaver(Callback):
    """Save the model as a TF checkpoint whenever triggered (every epoch by default)."""

    def __init__(self, max_to_keep=10, keep_checkpoint_every_n_hours=0.5, checkpoint_dir=None,
                 var_collections=None, max_consecutive_failures=3):
        """
        Args:
            max_to_keep (int): as in ``tf.compat.v1.train.Saver``: how many recent
                checkpoints to keep (older ones are deleted).
            keep_checkpoint_every_n_hours (float): as in ``tf.compat.v1.train.Saver``: also
                keep one checkpoint per this many hours ("keep" means "don't delete").
            checkpoint_dir (str): where to save; ``logger.get_logger_dir()`` by default.
            var_collections (str or list[str]): the collections of the variables to save;
                ``tf.GraphKeys.GLOBAL_VARIABLES`` by default.
            max_consecutive_failures (int): stop training (raise
                :class:`CheckpointSaveError`) after this many failed saves in a row.

        Raises:
            NotADirectoryError: if ``checkpoint_dir`` exists and is not a directory.
        """
        if var_collections is None:
            var_collections = [tfv1.GraphKeys.GLOBAL_VARIABLES]
        if not isinstance(var_collections, (list, tuple)):
            var_collections = [var_collections]
        self.var_collections = list(var_collections)
        self._max_to_keep = max_to_keep
        self._keep_every_n_hours = keep_checkpoint_every_n_hours
        self._max_failures = int(max_consecutive_failures)
        self._failures = 0
        if checkpoint_dir is None:
            checkpoint_dir = logger.get_logger_dir()
        # None is allowed here (e.g. a non-chief worker never runs it); _setup_graph checks
        if checkpoint_dir is not None:
            checkpoint_dir = os.path.normpath(checkpoint_dir)
            if os.path.exists(checkpoint_dir) and not os.path.isdir(checkpoint_dir):
                raise NotADirectoryError("ModelSaver: checkpoint_dir '{}' exists and is not a "
                                         "directory.".format(checkpoint_dir))
            mkdir_p(checkpoint_dir)
        self.checkpoint_dir = checkpoint_dir

    def _setup_graph(self):
        if self.checkpoint_dir is None and logger.get_logger_dir() is not None:
            # the logger dir was set after this callback was created
            self.checkpoint_dir = os.path.normpath(logger.get_logger_dir())
            mkdir_p(self.checkpoint_dir)
        if self.checkpoint_dir is None:
            raise ValueError("ModelSaver has no directory to save into: pass "
                             "checkpoint_dir=... or call logger.set_logger_dir() first.")
        var_list, seen = [], set()
        for key in self.var_collections:
            for v in tfv1.get_collection(key):
                if id(v) not in seen:  # a variable may be in several collections
                    seen.add(id(v))
                    var_list.append(v)
        self.path = os.path.join(self.checkpoint_dir, "model")
        self.saver = tfv1.train.Saver(
            var_list=var_list, max_to_keep=self._max_to_keep,
            keep_checkpoint_every_n_hours=self._keep_every_n_hours,
            write_version=tfv1.train.SaverDef.V2, save_relative_paths=True)
        # a Scaffold / MonitoredSession looks for the saver in this collection
        tfv1.add_to_collection(tfv1.GraphKeys.SAVERS, self.saver)
        self._gs_var = tfv1.train.get_global_step()

    def _meta_graph_path(self):
        stamp = datetime.now().strftime("%m%d-%H%M%S")
        path = os.path.join(self.checkpoint_dir, "graph-{}.meta".format(stamp))
        n = 1
        while os.path.exists(path):  # two runs in the same second: keep both files
            path = os.path.join(self.checkpoint_dir, "graph-{}-{}.meta".format(stamp, n))
            n += 1
        return path

    def _before_train(self):
        # the graph is finalized now: this is the graph that will be trained
        path = self._meta_graph_path()
        try:
            self.saver.export_meta_graph(
                path, collection_list=self.graph.get_all_collection_keys())
        except (OSError, tfv1.errors.OpError) as e:
            logger.error("ModelSaver: cannot write the metagraph '{}': {}".format(
                path, _describe(e)))

    def _trigger(self):
        if self._gs_var is None:
            self._gs_var = tfv1.train.get_global_step()
        try:
            saved = self.saver.save(tfv1.get_default_session(), self.path,
                                     global_step=self._gs_var, write_meta_graph=False)
        except (OSError, ValueError, tfv1.errors.OpError) as e:
            self._on_failure(e)
        else:
            self._failures = 0
            logger.info("Model saved to %s." % saved)

    def _on_failure(self, err):
        self._failures += 1
        step = self.global_step
        prefix = "{}-{}".format(self.path, step)
        self._remove_partial(prefix)
        state = None
        try:
            state = read_checkpoint_state(self.checkpoint_dir)
        except (OSError, ValueError):
            pass
        last = state.model_checkpoint_path if state and state.model_checkpoint_path else None
        logger.error(
            "ModelSaver: FAILED to save checkpoint '{}' at global_step={} ({} of {} allowed "
            "consecutive failures): {}. The latest complete checkpoint is still {}.".format(
                prefix, step, self._failures, self._max_failures, _describe(err),
                "'{}'".format(last) if last else "none (nothing saved yet)"))
        if self._failures >= self._max_failures:
            raise CheckpointSaveError(
                "ModelSaver: {} consecutive saves into '{}' failed, the last one with {}. "
                "Stopping training so that it does not go on without checkpoints; free "
                "space or fix permissions in that directory, then resume from {}.".format(
                    self._failures, self.checkpoint_dir, _describe(err),
                    last or "the start")) from err

    def _remove_partial(self, prefix):
        """Free what a failed save left behind; a checkpoint with an .index is kept."""
        tmp = prefix + _TF_TEMP_SUFFIX
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        # TF's half-written files (renamed into place only when complete)
        partial = glob.glob(glob.escape(prefix) + ".*.tempstate*")
        if not os.path.isfile(prefix + ".index"):  # data without index is unusable
            partial += checkpoint_files(prefix)
        for f in partial:
            try:
                os.remove(f)
            except OSError:
                pass
