"""Monitors that write files into the logger dir: ``stats.json`` and TensorBoard events."""
import json
import os
import shutil
import threading
from datetime import datetime

from tensorpack.compat import tfv1
from tensorpack.utils import logger
from tensorpack.utils.fs import atomic_write

from .monitor import MonitorBase, NoOpMonitor

__all__ = ["TFEventWriter", "JSONWriter"]


class TFEventWriter(MonitorBase):
    """Write summaries to a TensorBoard event file in the logger dir.

    Without a logger dir (and no ``logdir``), constructing it returns a :class:`NoOpMonitor`
    with a warning, as upstream does.
    """

    def __new__(cls, logdir=None, max_queue=10, flush_secs=120, **kwargs):
        if logdir is None and logger.get_logger_dir() is None:
            logger.warn("logger directory was not set. Ignore TFEventWriter.")
            return NoOpMonitor("TFEventWriter")
        return super().__new__(cls)

    def __init__(self, logdir=None, max_queue=10, flush_secs=120, split_files=False):
        """
        Args:
            logdir (str): the directory; ``logger.get_logger_dir()`` by default.
            max_queue (int), flush_secs (int): as in ``tf.compat.v1.summary.FileWriter``.
            split_files (bool): start a new event file at every trigger (epoch) instead of
                appending to one; for file systems where appending is expensive.

        Raises:
            NotADirectoryError: if ``logdir`` is not a directory.
        """
        logdir = logger.get_logger_dir() if logdir is None else logdir
        if not os.path.isdir(logdir):
            raise NotADirectoryError("TFEventWriter: logdir '{}' is not a directory; create it "
                                     "or use logger.set_logger_dir().".format(logdir))
        self._logdir = os.path.normpath(logdir)
        self._max_queue = max_queue
        self._flush_secs = flush_secs
        self._split_files = split_files
        self._graph_thread = None

    def _setup_graph(self):
        self._writer = tfv1.summary.FileWriter(self._logdir, max_queue=self._max_queue,
                                               flush_secs=self._flush_secs)

    def _before_train(self):
        # serializing a large graph takes a while: do it while the first steps run
        self._graph_thread = threading.Thread(target=self._writer.add_graph, args=(self.graph,),
                                              daemon=True, name="TFEventWriter-graph")
        self._graph_thread.start()

    def process_summary(self, summary):
        self._writer.add_summary(summary, self.global_step)

    def process_event(self, evt):
        self._writer.add_event(evt)

    def _trigger(self):
        self._writer.flush()
        if self._split_files:
            self._writer.close()
            self._writer.reopen()

    def _after_train(self):
        if self._graph_thread is not None:
            self._graph_thread.join(timeout=60)
        self._writer.close()


class JSONWriter(MonitorBase):
    """Write all scalars to ``stats.json`` in the logger dir, one entry per trigger.

    The file is a JSON list of dicts, each holding the scalars put since the previous entry
    plus ``epoch_num`` and ``global_step``. It is replaced atomically on every write, so a
    reader (or a crash) never sees half a file. When training resumes in the same logger dir
    with ``starting_epoch`` right after the last recorded epoch, the history is kept and
    appended to; when it resumes from an earlier epoch, the entries before that epoch are
    kept (and the full file backed up); otherwise the old file is backed up and a new
    history starts.
    Without a logger dir, constructing it returns a :class:`NoOpMonitor` with a warning.
    """

    FILENAME = "stats.json"
    """The file name; other tools (``AutoResumeTrainConfig``) rely on it."""

    def __new__(cls):
        if logger.get_logger_dir() is None:
            logger.warn("logger directory was not set. Ignore JSONWriter.")
            return NoOpMonitor("JSONWriter")
        return super().__new__(cls)

    @staticmethod
    def load_existing_json(dir=None):
        """Load ``stats.json`` from ``dir`` (the logger dir by default).

        Returns:
            list[dict] or None: the statistics, or None if there is no such file.

        Raises:
            ValueError: if the file is not a JSON list (corrupt or foreign).
        """
        dir = logger.get_logger_dir() if dir is None else dir
        if not dir:
            return None
        fname = os.path.join(dir, JSONWriter.FILENAME)
        if not os.path.isfile(fname):
            return None
        try:
            with open(fname) as f:
                stats = json.load(f)
        except (ValueError, UnicodeDecodeError) as e:
            raise ValueError("'{}' is not valid JSON ({}); move it away to start a new "
                             "history.".format(fname, e)) from e
        if not isinstance(stats, list):
            raise ValueError("'{}' should hold a JSON list of per-epoch dicts, found {}.".format(
                fname, type(stats).__name__))
        return stats

    @staticmethod
    def load_existing_epoch_number(dir=None):
        """The last epoch number recorded in ``stats.json``, or None (no file, empty,
        unreadable, or no ``epoch_num`` in its last entry)."""
        try:
            stats = JSONWriter.load_existing_json(dir)
            return int(stats[-1]["epoch_num"])
        except (ValueError, TypeError, KeyError, IndexError) as e:
            if not isinstance(e, TypeError):  # TypeError: no file at all
                logger.warn("Cannot read the last epoch from {}: {}".format(
                    JSONWriter.FILENAME, e))
            return None

    def _setup_graph(self):
        # ready before before_train, since other callbacks may put scalars there already
        self._stats = []
        self._stat_now = {}
        self._fname = os.path.join(logger.get_logger_dir(), self.FILENAME)

    def _backup_name(self):
        return "{}.{}".format(self._fname, datetime.now().strftime("%m%d-%H%M%S"))

    def _before_train(self):
        try:
            stats = self.load_existing_json(os.path.dirname(self._fname))
        except ValueError as e:
            backup = self._backup_name()
            logger.warn("{} Backing it up to '{}' and starting a new history.".format(e, backup))
            os.replace(self._fname, backup)
            stats = None
        if stats is not None:
            starting_epoch = self.trainer.starting_epoch
            try:
                next_epoch = int(stats[-1]["epoch_num"]) + 1
            except (IndexError, KeyError, TypeError, ValueError):
                next_epoch = None
            if next_epoch is None or next_epoch == starting_epoch:
                logger.info("Found existing JSON inside {}, will append to it.".format(
                    os.path.dirname(self._fname)))
                self._stats = stats
            elif next_epoch > starting_epoch and self._epoch_of(stats[0]) < starting_epoch:
                # resuming from an older checkpoint (e.g. the last saves failed): keep the
                # history up to it, and the full file as a backup
                backup = self._backup_name()
                shutil.copyfile(self._fname, backup)
                self._stats = [e for e in stats if self._epoch_of(e) < starting_epoch]
                logger.warn("{} goes up to epoch {} but training restarts at epoch {}: keeping "
                            "the history before epoch {}; the full file is backed up to "
                            "'{}'.".format(self.FILENAME, next_epoch - 1, starting_epoch,
                                           starting_epoch, backup))
                self._write(durable=True)
            else:
                backup = self._backup_name()
                logger.warn("History epoch={} from JSON is not the predecessor of the current "
                            "starting_epoch={}".format(next_epoch - 1, starting_epoch))
                logger.warn("If you want to resume old training, either use "
                            "`AutoResumeTrainConfig` or set starting_epoch yourself.")
                logger.warn("Now, we will train with starting_epoch={} and backup old json to "
                            "{}".format(starting_epoch, backup))
                os.replace(self._fname, backup)
        self._trigger()  # scalars put before training (if any) get their entry

    @staticmethod
    def _epoch_of(entry):
        try:
            return int(entry["epoch_num"])
        except (KeyError, TypeError, ValueError):
            return float("inf")  # unknown: never kept as history before a restart point

    def _trigger_step(self):
        # the last step of an epoch is handled by trigger_epoch
        if self.local_step != self.trainer.steps_per_epoch - 1:
            self._trigger()

    def _trigger_epoch(self):
        self._trigger(durable=True)

    def process_scalar(self, name, val):
        self._stat_now[name] = val

    def _trigger(self, durable=False):
        """Add the pending scalars as one entry and rewrite the file; idempotent."""
        if not self._stat_now:
            return
        self._stat_now["epoch_num"] = self.epoch_num
        self._stat_now["global_step"] = self.global_step
        self._stats.append(self._stat_now)
        self._stat_now = {}
        self._write(durable)

    def _write(self, durable):
        try:
            with atomic_write(self._fname, "w", fsync=durable) as f:
                json.dump(self._stats, f)
        except OSError as e:
            # the history stays in memory and is complete again at the next successful write
            logger.error("Cannot write '{}': {}".format(self._fname, e))
