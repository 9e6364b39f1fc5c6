"""Caltech 101 Silhouettes (28x28), read from the publisher's ``.mat`` file."""
import os

import numpy as np

from tensorpack.dataflow import _optional
from tensorpack.dataflow.dataset._base import IndexedDataset
from tensorpack.dataflow.dataset._files import dataset_dir, ensure_files

__all__ = ["Caltech101Silhouettes"]


class Caltech101Silhouettes(IndexedDataset):
    """Caltech 101 Silhouettes: ``[image, label]``, image ``28x28`` in [0, 1], label 0-100."""

    _DIR_NAME = "caltech101_data"
    _SOURCE_URL = "https://people.cs.umass.edu/~marlin/data/"
    _FILE = "caltech101_silhouettes_28_split1.mat"

    def __init__(self, name, shuffle=True, dir=None):
        """
        Args:
            name (str): ``'train'``, ``'test'`` or ``'val'``.
            shuffle (bool): shuffle on every pass.
            dir (str): the directory with ``caltech101_silhouettes_28_split1.mat``;
                defaults to ``$TENSORPACK_DATASET/caltech101_data``. Downloaded when missing.

        Raises:
            ValueError: for another name or a malformed file.
            FileNotFoundError: when the file is missing and cannot be downloaded.
            ImportError: without SciPy (the ``dataflow`` extra).
        """
        if name not in ("train", "test", "val"):
            raise ValueError("Caltech101Silhouettes: name must be 'train', 'test' or 'val', "
                             "got {!r}.".format(name))
        sio = _optional.require("scipy.io", "dataset.Caltech101Silhouettes")
        self.name = name
        self.shuffle = shuffle
        directory = dataset_dir(dir, self._DIR_NAME)
        fname, = ensure_files("Caltech101Silhouettes", directory, [self._FILE], self._SOURCE_URL)
        try:
            self.data = sio.loadmat(fname)
            images, labels = self.data[name + "_data"], self.data[name + "_labels"]
        except (ValueError, OSError, KeyError, TypeError) as e:
            raise ValueError("{} is not the Caltech 101 Silhouettes file: {}".format(
                fname, e)) from None
        self.images = np.asarray(images).reshape((-1, 28, 28))
        self.labels = np.asarray(labels).ravel() - 1
        if len(self.images) != len(self.labels):
            raise ValueError("{}: {} images but {} labels in '{}'.".format(
                os.path.basename(fname), len(self.images), len(self.labels), name))

    def __len__(self):
        return self.images.shape[0]

    def __iter__(self):
        for k in self._order():
            yield [self.images[k], self.labels[k]]
