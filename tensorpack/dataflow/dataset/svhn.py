"""SVHN cropped digits, read from the publisher's ``{train,test,extra}_32x32.mat`` files."""
import os

import numpy as np

from tensorpack.dataflow import _optional
from tensorpack.dataflow.dataset._base import IndexedDataset
from tensorpack.dataflow.dataset._files import dataset_dir, ensure_files
from tensorpack.utils import logger

__all__ = ["SVHNDigit"]

SVHN_URL = "http://ufldl.stanford.edu/housenumbers/"


class SVHNDigit(IndexedDataset):
    """SVHN cropped digits: ``[image, label]``, image ``32x32x3`` uint8 in [0, 255], label 0-9
    (the files' label 10 for the digit 0 becomes 0).
    """

    _Cache = {}

    def __init__(self, name, data_dir=None, shuffle=True):
        """
        Args:
            name (str): ``'train'``, ``'test'`` or ``'extra'``.
            data_dir (str): the directory with ``<name>_32x32.mat``; defaults to
                ``$TENSORPACK_DATASET/svhn_data``. Downloaded when missing.
            shuffle (bool): shuffle on every pass.

        Raises:
            ValueError: for another name or a malformed file.
            FileNotFoundError: when the file is missing and cannot be downloaded.
            ImportError: without SciPy (the ``dataflow`` extra).
        """
        if name not in ("train", "test", "extra"):
            raise ValueError("SVHNDigit: name must be 'train', 'test' or 'extra', got "
                             "{!r}.".format(name))
        self.shuffle = shuffle
        sio = _optional.require("scipy.io", "dataset.SVHNDigit")
        directory = dataset_dir(data_dir, "svhn_data")
        filename = os.path.join(directory, name + "_32x32.mat")
        key = os.path.abspath(filename)
        if key in SVHNDigit._Cache:
            self.X, self.Y = SVHNDigit._Cache[key]
            return
        ensure_files("SVHN", directory, [os.path.basename(filename)], SVHN_URL,
                     SVHN_URL + " (the 'Format 2: cropped digits' .mat files)")
        logger.info("Loading {} ...".format(filename))
        try:
            data = sio.loadmat(filename)
            X, Y = data["X"], data["y"]
        except (ValueError, OSError, KeyError, TypeError) as e:
            raise ValueError("{} is not an SVHN cropped-digits .mat file: {}".format(
                filename, e)) from None
        if X.ndim != 4 or X.shape[:3] != (32, 32, 3) or Y.size != X.shape[3]:
            raise ValueError("{}: expected X of shape 32x32x3xN and N labels, got X {} and y "
                             "{}.".format(filename, X.shape, Y.shape))
        self.X = X.transpose(3, 0, 1, 2)
        self.Y = Y.reshape((-1,)).copy()
        self.Y[self.Y == 10] = 0
        SVHNDigit._Cache[key] = (self.X, self.Y)

    def __len__(self):
        return self.X.shape[0]

    def __iter__(self):
        for k in self._order():
            yield [self.X[k], self.Y[k]]

    @staticmethod
    def get_per_pixel_mean(names=("train", "test", "extra")):
        """The mean ``32x32x3`` image of the given splits (from the default directory)."""
        return np.concatenate([SVHNDigit(x).X for x in names]).mean(axis=0)
