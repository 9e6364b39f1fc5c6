"""Check that checkpoints are complete and intact, and find the newest one that is.

A checkpoint is intact when its index parses and every tensor reads back with a matching
checksum (crc32c for TF checkpoints, the zip CRC-32 for npz). Reading is streamed, one
tensor at a time, so memory stays near the largest tensor.
"""
import os
from typing import List, NamedTuple, Optional

from tensorpack.checkpoint.paths import checkpoint_step, list_checkpoints
from tensorpack.checkpoint.state import read_checkpoint_state, write_checkpoint_state

__all__ = ["CheckResult", "verify_checkpoint", "verify_directory", "newest_intact",
           "repair_state_file"]


class CheckResult(NamedTuple):
    """The verdict on one checkpoint.

    Attributes:
        path (str): the checkpoint (a prefix, or a file).
        step (int or None): the step in its name.
        tensors (int): how many tensors were read back intact.
        nbytes (int): how many bytes of tensor data were checked.
        problem (str or None): why it is not intact; None when it is.
    """
    path: str
    step: Optional[int]
    tensors: int
    nbytes: int
    problem: Optional[str]

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_checkpoint(path: str, progress=None) -> CheckResult:
    """Read every tensor of a checkpoint, verifying checksums.

    Args:
        path: a checkpoint in any form :func:`~tensorpack.checkpoint.open_source` accepts.
        progress (callable): called with the bytes of each tensor checked (for a progress bar).

    Returns:
        CheckResult: never raises for a damaged or missing checkpoint; the problem is in it.
    """
    from tensorpack.checkpoint.formats import open_source
    tensors = nbytes = 0
    try:
        with open_source(path) as src:
            for name, info in src.infos().items():
                src.read(name)
                tensors += 1
                nbytes += info.nbytes or 0
                if progress is not None:
                    progress(info.nbytes or 0)
    except (ValueError, OSError) as e:
        return CheckResult(os.fspath(path), checkpoint_step(path), tensors, nbytes,
                           " ".join(str(e).split()))
    return CheckResult(os.fspath(path), checkpoint_step(path), tensors, nbytes, None)


def verify_directory(dirname: str, prefix: str = "model", progress=None) -> List[CheckResult]:
    """Verify every ``<prefix>-<step>`` checkpoint in a directory, newest first.

    Args:
        dirname: the checkpoint directory.
        prefix: the checkpoints' name before ``-<step>``.
        progress (callable): as for :func:`verify_checkpoint`.

    Returns:
        list[CheckResult]: one per checkpoint, highest step first.

    Raises:
        NotADirectoryError: ``dirname`` is not a directory.
    """
    if not os.path.isdir(dirname):
        raise NotADirectoryError("'{}' is not a directory.".format(dirname))
    return [verify_checkpoint(p, progress) for p in reversed(list_checkpoints(dirname, prefix))]


def newest_intact(dirname: str, prefix: str = "model", on_skip=None) -> Optional[str]:
    """The newest ``<prefix>-<step>`` checkpoint in ``dirname`` that verifies intact.

    Checkpoints are verified newest first and only until one passes.

    Args:
        dirname: the checkpoint directory.
        prefix: the checkpoints' name before ``-<step>``.
        on_skip (callable): called with the :class:`CheckResult` of each checkpoint skipped.

    Returns:
        str or None: its prefix, or None when no checkpoint is intact.
    """
    for path in reversed(list_checkpoints(dirname, prefix)):
        result = verify_checkpoint(path)
        if result.ok:
            return path
        if on_skip is not None:
            on_skip(result)
    return None


def repair_state_file(dirname: str, results: List[CheckResult]) -> Optional[str]:
    """Point ``dirname/checkpoint`` at the newest intact checkpoint of ``results``.

    The state file then lists the intact checkpoints it listed before (or, without a readable
    one, all intact ones), oldest first, with the newest intact last.

    Args:
        dirname: the checkpoint directory.
        results: from :func:`verify_directory`.

    Returns:
        str or None: the checkpoint the state file now names; None if none is intact (the
        state file is then left alone).
    """
    intact = [r.path for r in sorted(results, key=lambda r: (r.step is None, r.step or 0))
              if r.ok]
    if not intact:
        return None
    try:
        state = read_checkpoint_state(dirname)
        listed = {os.path.basename(p) for p in state.all_model_checkpoint_paths} if state else set()
    except (OSError, ValueError):
        listed = set()
    keep = [p for p in intact if os.path.basename(p) in listed] or intact
    latest = intact[-1]
    if keep[-1] != latest:
        keep.append(latest)
    write_checkpoint_state(dirname, latest, keep)
    return latest
