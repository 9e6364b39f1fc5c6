"""``ModelSaver``: periodic TF checkpoints and the metagraph in the logger dir.

Files, as upstream names them (``checkpoint_dir`` is the logger dir by default)::

    model-<STEP>.index, model-<STEP>.data-00000-of-00001   one checkpoint per trigger (V2)
    checkpoint                                            state file, relative paths
    graph-<MMDD-HHMMSS>.meta                              the metagraph, once per run

Unlike upstream, a failed save is never silent: it is logged as an error naming the
checkpoint and the cause, the half-written files are removed, the state file keeps naming
the last complete checkpoint, and after ``max_consecutive_failures`` failures in a row
training stops with an error (a full disk must not go unnoticed for days). Before each save
the free space is checked against the checkpoint's size; a model whose weights hold NaN or
Inf never silently becomes the latest checkpoint. A new run removes what interrupted saves
left in the directory, and ``max_to_keep`` counts the checkpoints earlier runs kept.
"""
import glob
import os
import shutil
from datetime import datetime

import numpy as np

from tensorpack.checkpoint.bundle_writer import write_tf_checkpoint
from tensorpack.checkpoint.paths import checkpoint_files, find_listed_checkpoint, save_leftovers
from tensorpack.checkpoint.state import read_checkpoint_state
from tensorpack.compat import tfv1
from tensorpack.utils import logger
from tensorpack.utils.fs import mkdir_p

from .background import KeptCheckpoints, directory_writer
from .base import Callback
from .best_saver import MaxSaver, MinSaver

__all__ = ["ModelSaver", "MinSaver", "MaxSaver", "CheckpointSaveError"]

_NONFINITE_ACTIONS = ("rename", "skip", "stop", "ignore")
# Room for the index (a name and a few dozen bytes per variable) and file-system blocks.
_INDEX_BYTES_PER_VAR, _SPACE_MARGIN = 160, 64 << 10

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
                 var_collections=None, max_consecutive_failures=3, on_nonfinite="rename",
                 background=False):
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
            on_nonfinite (str): what to do when a float variable holds NaN or Inf at save
                time; every choice but ``"ignore"`` logs an ERROR naming the variables.
                ``"rename"``: save it as ``nonfinite-model-STEP``, outside the state file, so
                the latest checkpoint stays the last finite one; ``"skip"``: do not save;
                ``"stop"``: stop training with :class:`CheckpointSaveError`; ``"ignore"``:
                save as usual without checking (upstream's behaviour).
            background (bool): write checkpoints off the training thread. A save then stalls
                training only for one session run that copies the variables to host memory
                (about the model's size); the files are written by a worker thread with the
                TensorFlow-free writer, flushed, and only then named in the state file. One
                save is in flight at a time: a trigger while the previous save is still
                being written waits for it. Failures are logged and counted as synchronous
                ones are, and training does not return before the last save is complete.
                Partitioned variables are saved synchronously.

        Raises:
            NotADirectoryError: if ``checkpoint_dir`` exists and is not a directory.
            ValueError: an unknown ``on_nonfinite``.
        """
        if on_nonfinite not in _NONFINITE_ACTIONS:
            raise ValueError("ModelSaver: on_nonfinite must be one of {}, got {!r}.".format(
                ", ".join(_NONFINITE_ACTIONS), on_nonfinite))
        self._on_nonfinite = on_nonfinite
        self._background = bool(background)
        self._pending = None  # (future, prefix) of the save being written in the background
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
        if self._background and any(getattr(v, "_save_slice_info", None) for v in var_list):
            logger.warn("ModelSaver: partitioned variables are saved synchronously "
                        "(background=True needs whole variables).")
            self._background = False
        self._var_list = var_list
        self._var_names = [v.op.name for v in var_list]  # the keys Saver writes
        self._nbytes = sum(v.shape.num_elements() * v.dtype.base_dtype.size
                           for v in var_list if v.shape.is_fully_defined()) \
            + _INDEX_BYTES_PER_VAR * len(var_list) + _SPACE_MARGIN
        self._finite_vars, self._finite_op = [], None
        if self._on_nonfinite != "ignore" and not self._background:  # background: NumPy checks
            self._finite_vars = [v for v in var_list if v.dtype.base_dtype.is_floating]
            if self._finite_vars:
                with tfv1.name_scope("ModelSaver_finite"):
                    self._finite_op = tfv1.stack(
                        [tfv1.reduce_all(tfv1.is_finite(v)) for v in self._finite_vars])

    def _meta_graph_path(self):
        stamp = datetime.now().strftime("%m%d-%H%M%S")
        path = os.path.join(self.checkpoint_dir, "graph-{}.meta".format(stamp))
        n = 1
        while os.path.exists(path):  # two runs in the same second: keep both files
            path = os.path.join(self.checkpoint_dir, "graph-{}-{}.meta".format(stamp, n))
            n += 1
        return path

    def _before_train(self):
        self._remove_leftovers()
        self._recover_kept_checkpoints()
        if self._background:  # prune the graph for the snapshot now, not at the first save
            self._snapshot = tfv1.get_default_session().make_callable(self._var_list)
        # the graph is finalized now: this is the graph that will be trained
        path = self._meta_graph_path()
        try:
            self.saver.export_meta_graph(
                path, collection_list=self.graph.get_all_collection_keys())
        except (OSError, tfv1.errors.OpError) as e:
            logger.error("ModelSaver: cannot write the metagraph '{}': {}".format(
                path, _describe(e)))

    def _remove_leftovers(self):
        removed, freed = [], 0
        for path in save_leftovers(self.checkpoint_dir, os.path.basename(self.path)):
            try:
                if os.path.isdir(path):
                    size = sum(os.path.getsize(os.path.join(d, f))
                               for d, _, fs in os.walk(path) for f in fs)
                    shutil.rmtree(path)
                else:
                    size = os.path.getsize(path)
                    os.remove(path)
            except OSError:
                continue
            removed.append(os.path.basename(path))
            freed += size
        if removed:
            logger.warn("ModelSaver: removed {} file(s) that interrupted saves left in '{}' "
                        "({:.1f} MB): {}{}".format(
                            len(removed), self.checkpoint_dir, freed / 1e6,
                            ", ".join(removed[:5]), ", ..." if len(removed) > 5 else ""))

    def _kept_from_state(self):
        """``(prefix, mtime)`` of the checkpoints the state file lists that still exist."""
        try:
            state = read_checkpoint_state(self.checkpoint_dir)
        except (OSError, ValueError):
            return []
        if state is None:
            return []
        kept = {}
        for named in state.all_model_checkpoint_paths:
            p = find_listed_checkpoint(named, self.checkpoint_dir)
            if p is not None and p not in kept:
                kept[p] = os.path.getmtime(p + ".index")
        return list(kept.items())

    def _recover_kept_checkpoints(self):
        """Let ``max_to_keep`` count the checkpoints an earlier run kept (as the state file
        lists them), so that disk use stays bounded across restarts."""
        kept = self._kept_from_state()
        if self._background:
            self._kept = KeptCheckpoints(self.checkpoint_dir, self._max_to_keep,
                                         self._keep_every_n_hours, kept)
        elif kept:
            self.saver.recover_last_checkpoints([p for p, _ in kept])

    def _trigger(self):
        if self._gs_var is None:
            self._gs_var = tfv1.train.get_global_step()
        if self._background:
            self._trigger_background()
            return
        sess = tfv1.get_default_session()
        prefix = "{}-{}".format(self.path, self.global_step)
        try:
            self._check_free_space()
            path, write_state = self.path, True
            if not self._is_finite(sess, prefix):
                if self._on_nonfinite == "skip":
                    return
                path = os.path.join(self.checkpoint_dir,
                                    "nonfinite-" + os.path.basename(self.path))
                write_state = False
            saved = self.saver.save(sess, path, global_step=self._gs_var,
                                     write_meta_graph=False, write_state=write_state)
        except (OSError, ValueError, tfv1.errors.OpError) as e:
            self._on_failure(e)
        else:
            self._failures = 0
            logger.info("Model saved to %s." % saved)

    def _trigger_background(self):
        self._finish_pending()  # at most one save in flight
        prefix = "{}-{}".format(self.path, self.global_step)
        try:
            self._check_free_space()
        except OSError as e:
            self._on_failure(e, prefix)
            return
        values = self._snapshot()  # one session run: the only stall
        future = directory_writer(self.checkpoint_dir).submit(
            self._write_snapshot, self.global_step, values)
        self._pending = (future, prefix)

    def _write_snapshot(self, step, values):
        """Runs on the writer thread: check, write, flush, then name it in the state file."""
        names = self._var_names
        bad = [n for n, v in zip(names, values)
               if v.dtype.kind in "fc" and not np.isfinite(v).all()]
        path, write_state = self.path, True
        if bad and self._on_nonfinite != "ignore":
            self._report_nonfinite(bad, step)  # raises for 'stop'
            if self._on_nonfinite == "skip":
                return
            path = os.path.join(self.checkpoint_dir, "nonfinite-" + os.path.basename(self.path))
            write_state = False
        prefix = "{}-{}".format(path, step)
        write_tf_checkpoint(prefix, dict(zip(names, values)), fsync=True)
        if write_state:
            self._kept.add(prefix)
        logger.info("Model saved to %s." % prefix)

    def _finish_pending(self):
        """Wait for the background save in flight; count its failure as a failed save."""
        if self._pending is None:
            return
        future, prefix = self._pending
        self._pending = None
        try:
            future.result()
        except CheckpointSaveError:
            raise
        except (OSError, ValueError) as e:
            self._on_failure(e, prefix)
        else:
            self._failures = 0

    def _after_train(self):
        self._finish_pending()  # training returns only once the last save is complete

    def _check_free_space(self):
        try:
            free = shutil.disk_usage(self.checkpoint_dir).free
        except OSError:
            return
        if free < self._nbytes:
            raise OSError(28, "not enough free space in '{}': the checkpoint needs about {} "
                          "bytes, {} bytes are free".format(self.checkpoint_dir, self._nbytes,
                                                            free))

    def _is_finite(self, sess, prefix):
        if self._finite_op is None:
            return True
        ok = sess.run(self._finite_op)
        if ok.all():
            return True
        self._report_nonfinite([v.op.name for v, good in zip(self._finite_vars, ok) if not good],
                               self.global_step)
        return False

    def _report_nonfinite(self, bad, step):
        """Log the loud error about NaN / Inf weights; raise for ``on_nonfinite='stop'``."""
        action = {"rename": "it is saved as 'nonfinite-{}-{}' instead, outside the state "
                            "file, so the latest checkpoint stays the last finite one".format(
                                os.path.basename(self.path), step),
                  "skip": "it is not saved (on_nonfinite='skip')",
                  "stop": "training stops (on_nonfinite='stop')"}[self._on_nonfinite]
        logger.error("ModelSaver: {} variable(s) hold NaN or Inf at global_step={} ({}{}); {}. "
                     "Training has probably diverged.".format(
                         len(bad), step, ", ".join(bad[:5]), ", ..." if len(bad) > 5 else "",
                         action))
        if self._on_nonfinite == "stop":
            raise CheckpointSaveError(
                "ModelSaver: the model holds NaN or Inf at global_step={} ({}); stopping "
                "training as on_nonfinite='stop' asks. Resume from the last finite "
                "checkpoint.".format(step, ", ".join(bad[:5])))

    def _on_failure(self, err, prefix=None):
        self._failures += 1
        if prefix is None:
            prefix = "{}-{}".format(self.path, self.global_step)
        step = prefix.rsplit("-", 1)[-1]
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
                    last or "the start")) from None  # TF's chained traceback would bury it

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
