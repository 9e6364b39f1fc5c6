"""File-system helpers: create directories, write files atomically, find and fetch datasets."""
import contextlib
import errno
import os
import tempfile

__all__ = ["mkdir_p", "atomic_write", "fsync_dir", "default_file_mode", "get_dataset_path",
           "download"]


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


def get_dataset_path(*args):
    """Where tensorpack keeps datasets: ``$TENSORPACK_DATASET``, else ``~/tensorpack_data``.

    The default directory is created when missing.

    Args:
        args (str): path components to join below the dataset directory.

    Returns:
        str: the joined path.
    """
    base = os.environ.get("TENSORPACK_DATASET")
    if base is None:
        base = os.path.join(os.path.expanduser("~"), "tensorpack_data")
        mkdir_p(base)
    return os.path.join(os.path.expanduser(base), *args)


def _resolve_host(host, timeout):
    """DNS lookup bounded in time (a socket timeout does not cover name resolution)."""
    import socket
    import threading
    result = {}

    def lookup():
        try:
            result["addr"] = socket.getaddrinfo(host, None)
        except OSError as e:
            result["error"] = e

    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError("looking up host '{}' took more than {} s".format(host, timeout))
    if "error" in result:
        raise result["error"]


def download(url, dir, filename=None, expect_size=None, timeout=None):
    """Download ``url`` into directory ``dir`` (atomically: a partial file never remains).

    Set ``TENSORPACK_NO_DOWNLOAD=1`` to forbid downloads (they then raise at once), and
    ``TENSORPACK_DOWNLOAD_TIMEOUT`` to change the network timeout (seconds, default 20;
    it bounds connecting and each read, so a dead network fails quickly instead of hanging).

    Args:
        url (str): the address.
        dir (str): the target directory (created when missing).
        filename (str): the file name; defaults to the URL's last component.
        expect_size (int): if given and an existing file has exactly this size, it is kept.
        timeout (float): overrides the network timeout.

    Returns:
        str: the path of the downloaded file.

    Raises:
        OSError: when downloading is disabled or fails (the message names the URL).
    """
    import http.client
    import urllib.parse
    import urllib.request
    from tensorpack.utils import logger
    from tensorpack.utils.utils import get_tqdm

    filename = filename or url.split("/")[-1]
    fpath = os.path.join(dir, filename)
    if expect_size is not None and os.path.isfile(fpath) \
            and os.stat(fpath).st_size == expect_size:
        logger.info("{} exists with the expected size; not downloading it again.".format(fpath))
        return fpath
    if os.environ.get("TENSORPACK_NO_DOWNLOAD", "0") not in ("", "0"):
        raise OSError("Downloading is disabled (TENSORPACK_NO_DOWNLOAD is set); did not fetch "
                      "{}.".format(url))
    if timeout is None:
        timeout = float(os.environ.get("TENSORPACK_DOWNLOAD_TIMEOUT", "20"))
    mkdir_p(dir)
    try:
        host = urllib.parse.urlparse(url).hostname
        if host:
            _resolve_host(host, timeout)
        logger.info("Downloading {} to {} ...".format(url, fpath))
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            with atomic_write(fpath, "wb") as f, get_tqdm(
                    total=int(total) if total else None, unit="B", unit_scale=True,
                    desc=filename) as bar:
                while True:
                    chunk = response.read(1 << 20)
                    if not chunk:
                        break
                    f.write(chunk)
                    bar.update(len(chunk))
    except (OSError, ValueError, http.client.HTTPException) as e:
        raise OSError("Failed to download {}: {}".format(url, e)) from e
    size = os.stat(fpath).st_size
    if size == 0:
        os.remove(fpath)
        raise OSError("Downloaded an empty file from {}.".format(url))
    if expect_size is not None and size != expect_size:
        logger.warn("{} has {} bytes but {} were expected; the download may be broken or the "
                    "publisher changed the file.".format(fpath, size, expect_size))
    logger.info("Downloaded {} ({} bytes).".format(fpath, size))
    return fpath
