"""A checkpoint copy under a fixed name that is replaced atomically, record included.

``MinSaver`` keeps the best model as ``min-STAT.index`` / ``min-STAT.data-*`` beside
``min-STAT.json``, which records its value and step. Replacing those files one by one cannot
be atomic: a crash between two renames leaves a new data file beside an old index (an
unreadable model) or a record naming another step than the files. So each copy lives in a
version directory of its own and the fixed names are relative symbolic links through one
pointer::

    min-STAT.index              -> min-STAT.versions/current/min-STAT.index
    min-STAT.data-00000-of-00001 -> min-STAT.versions/current/min-STAT.data-00000-of-00001
    min-STAT.json               -> min-STAT.versions/current/min-STAT.json
    min-STAT.versions/current   -> v-000120-x1y2      (replaced by one atomic rename)
    min-STAT.versions/v-000120-x1y2/{min-STAT.index, .data-*, .json}

Whenever the process dies, ``min-STAT`` is the old copy or the new one, complete, and its
record agrees with it. Readers need nothing special: TensorFlow, this package's readers and
upstream's loaders all follow the links. Files are hard links to the source checkpoint's
files where possible (no extra disk space; TensorFlow never rewrites a checkpoint file).
"""
import contextlib
import json
import os
import shutil
import tempfile

from tensorpack.checkpoint.paths import checkpoint_files, split_checkpoint_file
from tensorpack.utils.fs import atomic_write, fsync_dir, mkdir_p

__all__ = ["publish_checkpoint", "read_published_record", "clean_published"]

_CURRENT = "current"


def _versions_dir(target):
    return target + ".versions"


def _link_name(target, path):
    """The fixed name in the target's directory for a file of a version directory."""
    return os.path.join(os.path.dirname(target), os.path.basename(path))


def _point(link, dest):
    """Make ``link`` a symlink to ``dest`` with one atomic rename (unless it already is)."""
    with contextlib.suppress(OSError):
        if os.readlink(link) == dest:
            return
    tmp = "{}.tmp{}".format(link, os.urandom(4).hex())
    os.symlink(dest, tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _place(src, dst):
    """``dst`` as a hard link to ``src``, or a flushed copy where links are impossible."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
        with open(dst, "rb+") as f:
            os.fsync(f.fileno())


def _write_record(path, record):
    with atomic_write(path, "w") as f:
        json.dump(record, f)


def _adopt_plain_files(target):
    """Move a copy made as plain files (older versions, upstream) behind the pointer.

    The old files are hard-linked into a version directory, the pointer is set, and each
    plain file is then replaced by a link that resolves to the same content, so every
    intermediate state still shows the old copy.
    """
    files = checkpoint_files(target) + [target + ".json"]
    plain = [f for f in files if os.path.isfile(f) and not os.path.islink(f)]
    if not plain or not os.path.isfile(target + ".index"):
        return
    vdir = _versions_dir(target)
    version = tempfile.mkdtemp(prefix="v-adopted-", dir=vdir)
    for f in plain:
        _place(f, os.path.join(version, os.path.basename(f)))
    fsync_dir(version)
    _point(os.path.join(vdir, _CURRENT), os.path.basename(version))
    fsync_dir(vdir)
    rel = os.path.join(os.path.basename(vdir), _CURRENT)
    for f in plain:
        _point(f, os.path.join(rel, os.path.basename(f)))
    fsync_dir(os.path.dirname(target))


def publish_checkpoint(prefix: str, target: str, record: dict, tag: str = "") -> None:
    """Atomically make ``target`` a copy of the checkpoint ``prefix`` with ``record``.

    Args:
        prefix: the checkpoint to copy (``prefix.index`` and its data shards).
        target: the fixed prefix of the copy, e.g. ``train_log/run/min-val-error``.
        record: written as JSON to ``target + '.json'`` together with the copy.
        tag: a readable part of the version directory's name (e.g. the step).

    Raises:
        FileNotFoundError: ``prefix`` has no ``.index`` file.
        OSError: the copy could not be made; ``target`` is then unchanged.
    """
    files = checkpoint_files(prefix)
    if not files or files[0] != prefix + ".index":
        raise FileNotFoundError("checkpoint '{}' has no .index file".format(prefix))
    vdir = _versions_dir(target)
    mkdir_p(vdir)
    _adopt_plain_files(target)
    base = os.path.basename(target)
    version = tempfile.mkdtemp(prefix="v-{}-".format(tag) if tag else "v-", dir=vdir)
    try:
        names = [base + f[len(prefix):] for f in files] + [base + ".json"]
        for src, name in zip(files, names):
            _place(src, os.path.join(version, name))
        _write_record(os.path.join(version, names[-1]), record)
        fsync_dir(version)
        rel = os.path.join(os.path.basename(vdir), _CURRENT)
        for name in names:  # links for new names (another shard count) dangle until the commit
            _point(_link_name(target, name), os.path.join(rel, name))
        fsync_dir(os.path.dirname(target) or ".")
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise
    _point(os.path.join(vdir, _CURRENT), os.path.basename(version))  # the commit
    fsync_dir(vdir)
    clean_published(target)


def read_published_record(target: str) -> dict | None:
    """The record published with ``target``, or None if there is none.

    Raises:
        OSError, ValueError: the record exists but cannot be read or parsed.
    """
    path = target + ".json"
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def clean_published(target: str) -> None:
    """Remove what an interrupted or superseded publish left: version directories other than
    the current one, temporary links, and links to data shards the current copy lacks."""
    vdir = _versions_dir(target)
    if not os.path.isdir(vdir):
        return
    try:
        current = os.readlink(os.path.join(vdir, _CURRENT))
    except OSError:
        current = None
    for name in os.listdir(vdir):
        path = os.path.join(vdir, name)
        if name in (_CURRENT, current):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.remove(path)
    dirname = os.path.dirname(target) or "."
    base = os.path.basename(target)
    for name in os.listdir(dirname):
        if not name.startswith(base + "."):
            continue
        path = os.path.join(dirname, name)
        stale_tmp = ".tmp" in name[len(base):] and os.path.islink(path)
        # Shards of the current copy are links that resolve; anything else is left over
        # (a link to another shard count, a plain file from before the links).
        stale_shard = current is not None and split_checkpoint_file(name) == (base, "data") \
            and (not os.path.islink(path) or not os.path.exists(path))
        if stale_tmp or stale_shard:
            with contextlib.suppress(OSError):
                os.remove(path)
