"""Writing checkpoints off the training thread.

A background save takes a snapshot of the variables in one session run (the only part that
stalls training) and hands the file writing to one worker thread per checkpoint directory.
Jobs for a directory run in submission order, so a best-model copy submitted after a save
sees that save complete. Nothing here touches the session: the worker only writes files.
"""
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tensorpack.checkpoint.paths import checkpoint_files
from tensorpack.checkpoint.state import write_checkpoint_state

__all__ = ["directory_writer", "KeptCheckpoints"]

_WRITERS = {}
_LOCK = threading.Lock()


def directory_writer(dirname: str) -> ThreadPoolExecutor:
    """The one worker thread that writes into ``dirname`` (created on first use).

    Args:
        dirname: a checkpoint directory.

    Returns:
        ThreadPoolExecutor: with a single worker, so jobs run in the order submitted.
    """
    key = os.path.realpath(dirname)
    with _LOCK:
        pool = _WRITERS.get(key)
        if pool is None:
            pool = _WRITERS[key] = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="tensorpack-save")
        return pool


class KeptCheckpoints:
    """Which checkpoints to keep and list in the state file, as
    ``tf.compat.v1.train.Saver`` decides it for ``max_to_keep`` and
    ``keep_checkpoint_every_n_hours``, for saves that bypass the Saver.

    Args:
        dirname (str): the checkpoint directory (where the state file is).
        max_to_keep (int): how many recent checkpoints to keep; 0 or None keeps all.
        keep_every_n_hours (float): also keep one checkpoint per this many hours.
        recovered (list[tuple(str, float)]): ``(prefix, mtime)`` of checkpoints kept by
            earlier runs, oldest first.
    """

    def __init__(self, dirname, max_to_keep, keep_every_n_hours, recovered=()):
        self.dirname = dirname
        self.max_to_keep = max_to_keep
        self.every = keep_every_n_hours * 3600.0
        self.kept = list(recovered)
        self.next_keep_time = time.time() + self.every

    def add(self, prefix: str) -> None:
        """Record a complete checkpoint, delete those that fall out, rewrite the state file."""
        self.kept = [(p, t) for p, t in self.kept if p != prefix] + [(prefix, time.time())]
        dropped = []
        while self.max_to_keep and len(self.kept) > self.max_to_keep:
            old, stamp = self.kept.pop(0)
            if self.every and stamp > self.next_keep_time:
                self.next_keep_time += self.every  # kept for good, as TF does
                continue
            dropped.append(old)
        # The state file first: a crash in between leaves files nobody lists, never a state
        # file that lists deleted checkpoints.
        write_checkpoint_state(self.dirname, prefix, [p for p, _ in self.kept],
                               [t for _, t in self.kept])
        for old in dropped:
            for f in checkpoint_files(old):
                try:
                    os.remove(f)
                except OSError:
                    pass
