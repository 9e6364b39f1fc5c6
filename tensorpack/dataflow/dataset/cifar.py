"""CIFAR-10 and CIFAR-100, read from the publisher's "python version" batch files."""
import os

import numpy as np

from tensorpack.dataflow.dataset._base import IndexedDataset
from tensorpack.dataflow.dataset._files import dataset_dir, ensure_extracted, missing_files_error
from tensorpack.dataflow.dataset._pickle import load_restricted

__all__ = ["CifarBase", "Cifar10", "Cifar100"]

_SOURCES = {
    10: ("cifar-10-batches-py", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
         170498071),
    100: ("cifar-100-python", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
          169001437),
}


def get_filenames(dir, cifar_classnum):
    """``(train_files, test_files, meta_file)`` of a CIFAR directory."""
    folder = os.path.join(dir, _SOURCES[cifar_classnum][0])
    if cifar_classnum == 10:
        train = [os.path.join(folder, "data_batch_%d" % i) for i in range(1, 6)]
        return train, [os.path.join(folder, "test_batch")], os.path.join(folder, "batches.meta")
    return ([os.path.join(folder, "train")], [os.path.join(folder, "test")],
            os.path.join(folder, "meta"))


def _get(d, key):
    """A batch dict's entry; the files use bytes keys, but accept str keys as well."""
    if key in d:
        return d[key]
    alt = key.decode() if isinstance(key, bytes) else key.encode()
    return d[alt]


def read_cifar(filenames, cifar_classnum):
    """``[image, label]`` pairs of CIFAR batch files; images ``32x32x3`` uint8 (RGB)."""
    label_key = b"labels" if cifar_classnum == 10 else b"fine_labels"
    ret = []
    for fname in filenames:
        batch = load_restricted(fname)
        try:
            data = np.asarray(_get(batch, b"data"), dtype=np.uint8)
            labels = _get(batch, label_key)
        except (KeyError, TypeError) as e:
            raise ValueError("{} is not a CIFAR-{} batch file (missing {}).".format(
                fname, cifar_classnum, e)) from None
        if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != data.shape[0]:
            raise ValueError("{}: expected an Nx3072 image array and N labels, got {} and {} "
                             "labels.".format(fname, data.shape, len(labels)))
        images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        ret.extend([img, int(label)] for img, label in zip(images, labels))
    return ret


def _parse_meta(filename, cifar_classnum):
    meta = load_restricted(filename, encoding="latin1")
    names = _get(meta, "label_names" if cifar_classnum == 10 else "fine_label_names")
    return [n.decode() if isinstance(n, bytes) else n for n in names]


class CifarBase(IndexedDataset):
    """CIFAR datapoints ``[image, label]``: image ``32x32x3`` uint8 RGB in [0, 255], label int.
    """

    def __init__(self, train_or_test, shuffle=None, dir=None, cifar_classnum=10):
        """
        Args:
            train_or_test (str): ``'train'`` or ``'test'``.
            shuffle (bool): shuffle every pass; defaults to True for ``'train'``.
            dir (str): the directory holding ``cifar-10-batches-py/`` (or
                ``cifar-100-python/``); defaults to ``$TENSORPACK_DATASET/cifar10_data``
                (``cifar100_data``). Downloaded and extracted there when missing.
            cifar_classnum (int): 10 or 100.

        Raises:
            ValueError: for a bad argument or a corrupt file.
            FileNotFoundError: when the files are missing and cannot be downloaded.
        """
        if train_or_test not in ("train", "test"):
            raise ValueError("Cifar: train_or_test must be 'train' or 'test', got {!r}.".format(
                train_or_test))
        if cifar_classnum not in (10, 100):
            raise ValueError("Cifar: cifar_classnum must be 10 or 100, got {}.".format(
                cifar_classnum))
        self.cifar_classnum = cifar_classnum
        dir = dataset_dir(dir, "cifar{}_data".format(cifar_classnum))
        folder, url, size = _SOURCES[cifar_classnum]
        train_files, test_files, meta_file = get_filenames(dir, cifar_classnum)
        self.fs = train_files if train_or_test == "train" else test_files
        expected = [os.path.relpath(f, dir) for f in self.fs + [meta_file]]
        ensure_extracted("CIFAR-{}".format(cifar_classnum), dir, folder, url, size, expected)
        missing = [f for f in self.fs + [meta_file] if not os.path.isfile(f)]
        if missing:
            raise missing_files_error("CIFAR-{}".format(cifar_classnum), dir,
                                      [os.path.relpath(f, dir) for f in missing], url)
        self._label_names = _parse_meta(meta_file, cifar_classnum)
        self.train_or_test = train_or_test
        self.data = read_cifar(self.fs, cifar_classnum)
        self.dir = dir
        self.shuffle = (train_or_test == "train") if shuffle is None else shuffle

    def __len__(self):
        return len(self.data)

    def __iter__(self):
        for k in self._order():
            yield list(self.data[k])  # a fresh list, so consumers may replace components

    def get_per_pixel_mean(self, names=("train", "test")):
        """The mean image (``32x32x3`` float32) over the given splits."""
        for name in names:
            if name not in ("train", "test"):
                raise ValueError("get_per_pixel_mean: unknown split {!r}.".format(name))
        train_files, test_files, _ = get_filenames(self.dir, self.cifar_classnum)
        files = (train_files if "train" in names else []) + (test_files if "test" in names else [])
        images = np.array([dp[0] for dp in read_cifar(files, self.cifar_classnum)],
                          dtype="float32")
        return np.mean(images, axis=0)

    def get_per_channel_mean(self, names=("train", "test")):
        """The 3 channel means over the given splits."""
        return np.mean(self.get_per_pixel_mean(names), axis=(0, 1))

    def get_label_names(self):
        """
        Returns:
            list[str]: the class names, indexed by label.
        """
        return self._label_names


class Cifar10(CifarBase):
    """CIFAR-10: ``[image, label]``, image ``32x32x3`` uint8 RGB, label 0-9."""

    def __init__(self, train_or_test, shuffle=None, dir=None):
        """
        Args:
            train_or_test (str): ``'train'`` or ``'test'``.
            shuffle (bool): defaults to True for ``'train'``.
            dir (str): see :class:`CifarBase`.
        """
        super().__init__(train_or_test, shuffle, dir, 10)


class Cifar100(CifarBase):
    """CIFAR-100: ``[image, label]``, image ``32x32x3`` uint8 RGB, fine label 0-99."""

    def __init__(self, train_or_test, shuffle=None, dir=None):
        super().__init__(train_or_test, shuffle, dir, 100)
