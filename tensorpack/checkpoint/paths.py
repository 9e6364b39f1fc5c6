"""Turn whatever path a user gives for a TF checkpoint into its prefix.

A checkpoint ``dir/model-5000`` is the files ``dir/model-5000.index`` and
``dir/model-5000.data-00000-of-00001``; the prefix itself is not a file. Users pass the
prefix, either of those files, the ``.meta`` metagraph saved next to it, the directory's
``checkpoint`` state file, or the directory. :func:`resolve_checkpoint_prefix` accepts them all.

This module is the one place that knows how a checkpoint's files are named:
:func:`data_file_name`, :func:`data_file_glob`, :func:`data_files` and
:func:`split_checkpoint_file`. Everything else in the library and the scripts asks them.
"""
import glob
import os
import re

from tensorpack.checkpoint.state import STATE_FILENAME, read_checkpoint_state
from tensorpack.utils import logger

__all__ = ["resolve_checkpoint_prefix", "list_checkpoints", "checkpoint_files",
           "checkpoint_step", "save_leftovers", "find_listed_checkpoint",
           "data_file_name", "data_file_glob", "data_files", "split_checkpoint_file",
           "INDEX_SUFFIX", "META_SUFFIX"]

INDEX_SUFFIX = ".index"
META_SUFFIX = ".meta"
# TF's rule for the data shards: PREFIX.data-SSSSS-of-NNNNN, five decimal digits each
# (tensorflow/core/util/tensor_bundle/naming.cc).
_DATA_SUFFIX = re.compile(r"\.data-(\d{5})-of-(\d{5})$")
_DATA_GLOB = ".data-" + "[0-9]" * 5 + "-of-" + "[0-9]" * 5
_MAX_SHARDS = 99999
_STEP = re.compile(r"-(\d+)$")


def data_file_name(prefix: str | os.PathLike, shard: int, num_shards: int) -> str:
    """The name of one data shard of a checkpoint: ``PREFIX.data-SSSSS-of-NNNNN``.

    Args:
        prefix: the checkpoint prefix.
        shard (int): which shard, counted from 0.
        num_shards (int): how many shards the checkpoint has (1 to 99999).

    Raises:
        ValueError: a shard number TF cannot name (the message gives the valid range).
    """
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) \
            or not 1 <= num_shards <= _MAX_SHARDS:
        raise ValueError("A checkpoint has 1 to {} data shards, not {!r} (prefix '{}').".format(
            _MAX_SHARDS, num_shards, os.fspath(prefix)))
    if isinstance(shard, bool) or not isinstance(shard, int) or not 0 <= shard < num_shards:
        raise ValueError("Shard {!r} does not exist in a checkpoint of {} shard(s) (prefix "
                         "'{}'); shards are numbered 0 to {}.".format(
                             shard, num_shards, os.fspath(prefix), num_shards - 1))
    return "{}.data-{:05d}-of-{:05d}".format(os.fspath(prefix), shard, num_shards)


def data_file_glob(prefix_glob: str) -> str:
    """A :mod:`glob` pattern for the data shards of every checkpoint whose prefix matches
    ``prefix_glob``.

    ``prefix_glob`` is itself a pattern: pass ``glob.escape(prefix)`` for one checkpoint
    (or use :func:`data_files`), ``os.path.join(glob.escape(dirname), "*")`` for every
    checkpoint in a directory.
    """
    return prefix_glob + _DATA_GLOB


def data_files(prefix: str | os.PathLike) -> list[str]:
    """The data shards of the checkpoint ``prefix`` that exist, sorted (shard 0 first)."""
    pattern = data_file_glob(glob.escape(os.fspath(prefix)))
    return sorted(f for f in glob.glob(pattern) if os.path.isfile(f))


def split_checkpoint_file(path: str | os.PathLike) -> tuple[str, str] | None:
    """Which checkpoint a file belongs to, judged by its name alone.

    Args:
        path: a file name or path.

    Returns:
        ``(prefix, kind)`` with kind ``"index"``, ``"data"`` or ``"meta"`` for
        ``PREFIX.index``, ``PREFIX.data-SSSSS-of-NNNNN`` and ``PREFIX.meta``; None for any
        other name (including a suffix with nothing before it, such as ``dir/.index``).
    """
    path = os.fspath(path)
    if path.endswith(INDEX_SUFFIX):
        prefix, kind = path[:-len(INDEX_SUFFIX)], "index"
    elif path.endswith(META_SUFFIX):
        prefix, kind = path[:-len(META_SUFFIX)], "meta"
    else:
        m = _DATA_SUFFIX.search(path)
        if m is None:
            return None
        prefix, kind = path[:m.start()], "data"
    if not os.path.basename(prefix):
        return None
    return prefix, kind


def checkpoint_step(prefix: str | os.PathLike) -> int | None:
    """The global step in a checkpoint name (``model-5000`` -> 5000), or None."""
    m = _STEP.search(os.path.basename(os.fspath(prefix)))
    return int(m.group(1)) if m else None


def _exists(prefix):
    return os.path.isfile(prefix + ".index")


def checkpoint_files(prefix: str | os.PathLike) -> list[str]:
    """The files of a checkpoint that exist: its ``.index`` and ``.data-*`` files.

    Use it to copy or delete a checkpoint (the ``.meta`` file and the ``checkpoint``
    state file are not part of it).

    Args:
        prefix (str): the checkpoint prefix.

    Returns:
        list[str]: the ``.index`` file first (if present), then the data shards in order.
    """
    prefix = os.fspath(prefix)
    files = [prefix + INDEX_SUFFIX] if os.path.isfile(prefix + INDEX_SUFFIX) else []
    return files + data_files(prefix)


def list_checkpoints(dirname: str | os.PathLike, prefix: str = "model") -> list[str]:
    """All ``<prefix>-<step>`` checkpoints in a directory, sorted by step (oldest first).

    Args:
        dirname (str): the directory.
        prefix (str): the name before ``-<step>`` (``"model"`` for ModelSaver's files).

    Returns:
        list[str]: checkpoint prefixes (``dirname/model-5000``), sorted by the step number.
    """
    dirname = os.fspath(dirname)
    pattern = os.path.join(glob.escape(dirname), glob.escape(prefix) + "-*.index")
    found = []
    for index in glob.glob(pattern):
        ckpt = index[:-len(".index")]
        rest = os.path.basename(ckpt)[len(prefix) + 1:]
        if rest.isdigit():
            found.append((int(rest), ckpt))
    return [c for _, c in sorted(found)]


def save_leftovers(dirname: str | os.PathLike, prefix: str = "model") -> list[str]:
    """What interrupted saves of ``<prefix>-<step>`` checkpoints left in a directory.

    TensorFlow writes each file as ``NAME.tempstate<random>`` and renames it when complete,
    writes shards into ``<prefix>-<step>_temp*/`` directories first, and writes a checkpoint's
    data before its index; the state file is replaced via ``checkpoint.tmp<random>``. A
    process killed half-way leaves those behind, and nothing would ever read or remove them.

    Args:
        dirname (str): the checkpoint directory.
        prefix (str): the checkpoints' name before ``-<step>``.

    Returns:
        list[str]: files and directories that are safe to delete (no complete checkpoint
        among them), sorted.
    """
    dirname = os.fspath(dirname)
    esc = glob.escape(os.path.join(dirname, prefix))
    found = set(glob.glob(os.path.join(glob.escape(dirname), "*.tempstate*")))
    found.update(glob.glob(os.path.join(glob.escape(dirname), STATE_FILENAME + ".tmp*")))
    found.update(d for d in glob.glob(esc + "-*_temp*") if os.path.isdir(d))
    for data in glob.glob(data_file_glob(esc + "-*")):
        ckpt = split_checkpoint_file(data)[0]
        if checkpoint_step(ckpt) is not None and not _exists(ckpt):
            found.add(data)  # data without its index: the merge step never finished
    return sorted(found)


def _newest_in_dir(dirname):
    """The newest checkpoint in a directory with no usable state file: highest step, then mtime."""
    candidates = []
    for index in glob.glob(os.path.join(glob.escape(dirname), "*.index")):
        ckpt = index[:-len(".index")]
        step = checkpoint_step(ckpt)
        try:
            mtime = os.path.getmtime(index)
        except OSError:
            continue
        candidates.append(((step is not None, step or 0, mtime), ckpt))
    if not candidates:
        return None
    return max(candidates)[1]


def find_listed_checkpoint(named: str, dirname: str) -> str | None:
    """Where a checkpoint named in ``dirname``'s state file is now: the path as written, or,
    when the directory was moved or copied (stale absolute paths), the same name in
    ``dirname``; None when neither exists."""
    if _exists(named):
        return named
    local = os.path.join(dirname, os.path.basename(named))
    return local if _exists(local) else None


def _from_state(dirname, state_file, tried):
    """The latest checkpoint named by the state file, or None (appending what was tried)."""
    state = read_checkpoint_state(state_file)
    if state is None or not state.model_checkpoint_path:
        return None
    named = state.model_checkpoint_path
    found = find_listed_checkpoint(named, dirname)
    tried.append(named + ".index")
    local = os.path.join(dirname, os.path.basename(named))
    if local != named:
        tried.append(local + ".index")
    if found is not None and found != named:
        logger.warning("The state file '{}' names '{}', which does not exist; using '{}' "
                       "from the same directory instead.".format(state_file, named, found))
    return found


def _resolve_dir(dirname, state_file, tried):
    found = None
    if os.path.isfile(state_file):
        try:
            found = _from_state(dirname, state_file, tried)
        except ValueError as e:  # a damaged state file should not hide the checkpoints
            logger.warning("{}; looking for the newest checkpoint in '{}' instead.".format(
                e, dirname))
    if found is None:
        tried.append(os.path.join(dirname, "*.index"))
        found = _newest_in_dir(dirname)
        if found is not None and len(tried) > 1:  # the state file named something missing
            logger.warning("The state file '{}' names '{}', which does not exist; using the "
                           "newest checkpoint in '{}' instead: '{}'.".format(
                               state_file, tried[0][:-len(".index")], dirname, found))
    return found


def resolve_checkpoint_prefix(path: str | os.PathLike) -> str:
    """The prefix of the TF checkpoint a user means by ``path``.

    Accepted forms: a prefix (``dir/model-5000``); its ``.index``, ``.data-*`` or
    ``.meta`` file; the ``checkpoint`` state file; a directory (its latest checkpoint per
    the state file, or, without one, the ``*.index`` with the highest step number in its
    name, then the newest). When ``path`` is not the prefix itself, one info line says
    what it was resolved to.

    Args:
        path (str): what the user passed.

    Returns:
        str: a prefix whose ``.index`` file exists.

    Raises:
        FileNotFoundError: no checkpoint was found; the message names ``path`` and what
            was tried.
    """
    given = os.fspath(path)
    if given == "":
        raise FileNotFoundError("An empty path was given as a checkpoint.")
    tried = []
    norm = given.rstrip("/\\") or given
    base = os.path.basename(norm)
    how = None
    prefix = None
    if os.path.isdir(norm):
        how = "the latest checkpoint in directory"
        prefix = _resolve_dir(norm, os.path.join(norm, STATE_FILENAME), tried)
        if prefix is None:
            raise FileNotFoundError(
                "Directory '{}' contains no checkpoint (tried {}). Pass a checkpoint prefix "
                "such as 'dir/model-5000', or the directory a training run saved into.".format(
                    given, ", ".join(tried)))
    elif base == STATE_FILENAME and os.path.isfile(norm):
        how = "the latest checkpoint named by the state file"
        dirname = os.path.dirname(norm)
        prefix = _from_state(dirname, norm, tried)
        if prefix is None:
            tried.append(os.path.join(dirname or ".", "*.index"))
            prefix = _newest_in_dir(dirname or ".")
            if prefix is not None:
                logger.warning("The state file '{}' names no existing checkpoint; using the "
                               "newest one in its directory.".format(given))
    elif _exists(given):
        return given
    else:
        stripped, kind = split_checkpoint_file(given) or (None, None)
        how = {"index": "the prefix of the index file", "data": "the prefix of the data file",
               "meta": "the checkpoint next to the metagraph"}.get(kind)
        tried.append(given + ".index")
        if stripped is not None:
            tried.append(stripped + ".index")
            if _exists(stripped):
                prefix = stripped
    if prefix is None:
        hint = ""
        if given.endswith(".meta"):
            hint = (" A .meta file is a metagraph, not checkpoint data; pass the checkpoint "
                    "(e.g. 'dir/model-5000') or its directory.")
        found = "it exists but is not a checkpoint" if os.path.exists(given) \
            else "it does not exist"
        raise FileNotFoundError("No TF checkpoint found at '{}' ({}; tried {}).{}".format(
            given, found, ", ".join(tried), hint))
    logger.info("Checkpoint path '{}' resolved to '{}' ({}).".format(given, prefix, how))
    return prefix
