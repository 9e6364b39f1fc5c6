"""Finding a dataset's files locally, downloading them when allowed, and explaining
clearly what is missing when neither works.
"""
import os
import tarfile

from tensorpack.utils import logger
from tensorpack.utils.fs import download, get_dataset_path

__all__ = ["dataset_dir", "missing_files_error", "ensure_files", "ensure_extracted"]


def dataset_dir(dir, default_subdir):
    """``dir`` if given, else ``$TENSORPACK_DATASET/<default_subdir>`` (or under
    ``~/tensorpack_data``)."""
    return os.path.expanduser(dir) if dir is not None else get_dataset_path(default_subdir)


def missing_files_error(dataset, directory, expected, source, reason=None):
    """The one error a dataset reader raises when its files are not there.

    Args:
        dataset (str): the dataset's name.
        directory (str): where the files were looked for.
        expected (list[str]): the missing files or directories, relative to ``directory``.
        source (str): where a user gets the files.
        reason (str): why they could not be downloaded, if that was tried.

    Returns:
        FileNotFoundError: to be raised by the caller.
    """
    lines = ["{} files not found in {}".format(dataset, os.path.abspath(directory)),
             "  expected: " + ", ".join(expected),
             "  get them from: " + source,
             "  then place them in that directory (pass dir= or set $TENSORPACK_DATASET to use "
             "another place)."]
    if reason:
        lines.append("  automatic download failed: " + reason)
    return FileNotFoundError("\n".join(lines))


def ensure_files(dataset, directory, names, base_url, source=None):
    """Paths of ``names`` inside ``directory``, downloading the missing ones from ``base_url``.

    Raises:
        FileNotFoundError: from :func:`missing_files_error` when a file is missing and
            cannot be downloaded.
    """
    missing = [n for n in names if not os.path.isfile(os.path.join(directory, n))]
    for i, name in enumerate(missing):
        try:
            download(base_url + name, directory)
        except OSError as e:
            raise missing_files_error(dataset, directory, missing[i:], source or base_url,
                                      str(e)) from None
    return [os.path.join(directory, n) for n in names]


def _extract(archive, directory):
    with tarfile.open(archive, "r:*") as tar:
        if hasattr(tarfile, "data_filter"):  # refuse absolute paths, links out of the tree, ...
            tar.extractall(directory, filter="data")
        else:
            for member in tar.getmembers():
                target = os.path.realpath(os.path.join(directory, member.name))
                if not target.startswith(os.path.realpath(directory) + os.sep):
                    raise ValueError("{} has a member outside the target directory: {}".format(
                        archive, member.name))
            tar.extractall(directory)


def ensure_extracted(dataset, directory, subdir, url, expect_size=None, expected=None):
    """Make sure ``directory/subdir`` exists, downloading and extracting ``url`` if needed.

    Args:
        dataset (str): the dataset's name, for messages.
        directory (str): the dataset directory.
        subdir (str): what the archive unpacks to.
        url (str): the archive's address.
        expect_size (int): the archive's size in bytes.
        expected (list[str]): files to name in the error (defaults to ``subdir``).

    Raises:
        FileNotFoundError: when it is missing and cannot be downloaded.
    """
    if os.path.isdir(os.path.join(directory, subdir)):
        return
    archive_name = url.split("/")[-1]
    try:
        archive = download(url, directory, expect_size=expect_size)
        logger.info("Extracting {} ...".format(archive))
        _extract(archive, directory)
    except (OSError, tarfile.TarError, ValueError) as e:
        raise missing_files_error(
            dataset, directory, expected or [subdir + "/"],
            "{} (unpack {} in that directory)".format(url, archive_name), str(e)) from None
    if not os.path.isdir(os.path.join(directory, subdir)):
        raise missing_files_error(dataset, directory, expected or [subdir + "/"], url,
                                  "{} did not contain {}".format(archive_name, subdir))
