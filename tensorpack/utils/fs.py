"""File-system helpers: create directories, write files atomically."""
import contextlib
import errno
import os
import tempfile

__all__ = ["mkdir_p", "atomic_write", "fsync_dir", "default_file_mode"]


def mkdir_p(dirname):
    """Create a directory and its parents; no error if it exists.

    Args:
        dirname (str): the directory.
    """
    if not dirname:
        return
    try:
        os.makedirs(dirname)
    except OSError as e:
        if e.errno != errno.EEXIST:
            raise


def fsync_dir(dirname):
    """Flush a directory entry to disk, so that a rename into it survives a crash."""
    try:
        fd = os.open(dirname or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def default_file_mode():
    """The mode a newly created regular file gets: 0o666 less the process umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_write(path, mode="wb", fsync=True):
    """Write a file under a temporary name in the same directory, then rename it into place.

    Readers never see a half-written ``path``: it is either the old file or the new one.
    On any error the temporary file is removed and ``path`` is untouched.

    Args:
        path (str): the final file name.
        mode (str): ``"wb"`` or ``"w"``.
        fsync (bool): flush the data to disk before the rename.

    Yields:
        the open file object to write to.
    """
    dirname = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp", dir=dirname)
    try:
        # mkstemp makes the file private (0600); the result should look like any other file.
        with contextlib.suppress(AttributeError, OSError):
            os.fchmod(fd, default_file_mode())
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    if fsync:
        fsync_dir(dirname)
