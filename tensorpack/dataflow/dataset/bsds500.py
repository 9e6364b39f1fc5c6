"""The Berkeley Segmentation Data Set (BSDS500): images and edge annotations."""
import glob
import os

import numpy as np

from tensorpack.dataflow import _optional
from tensorpack.dataflow.dataset._base import IndexedDataset
from tensorpack.dataflow.dataset._files import dataset_dir, ensure_extracted

__all__ = ["BSDS500"]

DATA_URL = "http://www.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/BSR/BSR_bsds500.tgz"
DATA_SIZE = 70763455
IMG_W, IMG_H = 481, 321


class BSDS500(IndexedDataset):
    """BSDS500 edge detection: ``[image, label]``, image ``321x481x3`` uint8 BGR, label
    ``321x481`` float32 in [0, 1]: the fraction of annotators marking each pixel as an edge.
    Portrait images and their labels are transposed to landscape.
    """

    def __init__(self, name, data_dir=None, shuffle=True):
        """
        Args:
            name (str): ``'train'``, ``'test'`` or ``'val'``.
            data_dir (str): the directory containing ``BSR/`` (as unpacked from
                ``BSR_bsds500.tgz``); defaults to ``$TENSORPACK_DATASET/bsds500_data``.
            shuffle (bool): shuffle on every pass.

        Raises:
            ValueError: for another name or a malformed file.
            FileNotFoundError: when the data is missing and cannot be downloaded.
            ImportError: without OpenCV or SciPy (the ``dataflow`` extra).
        """
        if name not in ("train", "test", "val"):
            raise ValueError("BSDS500: name must be 'train', 'test' or 'val', got {!r}.".format(
                name))
        _optional.cv2("dataset.BSDS500")
        _optional.require("scipy.io", "dataset.BSDS500")
        data_dir = dataset_dir(data_dir, "bsds500_data")
        ensure_extracted("BSDS500", data_dir, "BSR", DATA_URL, DATA_SIZE,
                         ["BSR/BSDS500/data/images/", "BSR/BSDS500/data/groundTruth/"])
        self.data_root = os.path.join(data_dir, "BSR", "BSDS500", "data")
        self.shuffle = shuffle
        self._load(name)

    @staticmethod
    def _read_label(gt_file):
        loadmat = _optional.require("scipy.io", "dataset.BSDS500").loadmat
        try:
            annotations = loadmat(gt_file)["groundTruth"][0]
            edges = sum(annotations[k]["Boundaries"][0][0] for k in range(len(annotations)))
        except (ValueError, OSError, KeyError, IndexError, TypeError) as e:
            raise ValueError("{} is not a BSDS500 ground-truth file: {}".format(gt_file, e)) \
                from None
        label = edges.astype("float32") / len(annotations)
        return label.transpose() if label.shape[0] > label.shape[1] else label

    def _load(self, name):
        image_files = sorted(glob.glob(os.path.join(self.data_root, "images", name, "*.jpg")))
        gt_dir = os.path.join(self.data_root, "groundTruth", name)
        self.data = np.zeros((len(image_files), IMG_H, IMG_W, 3), dtype="uint8")
        self.label = np.zeros((len(image_files), IMG_H, IMG_W), dtype="float32")
        cv2 = _optional.cv2("dataset.BSDS500")
        for idx, f in enumerate(image_files):
            im = cv2.imread(f, cv2.IMREAD_COLOR)
            if im is None:
                raise ValueError("BSDS500: cannot read image {}.".format(f))
            if im.shape[0] > im.shape[1]:
                im = np.transpose(im, (1, 0, 2))
            gt_file = os.path.join(gt_dir, os.path.basename(f).split(".")[0] + ".mat")
            label = self._read_label(gt_file)
            if im.shape[:2] != (IMG_H, IMG_W) or label.shape != (IMG_H, IMG_W):
                raise ValueError("BSDS500: {} and {} should be {}x{}, got {} and {}.".format(
                    f, gt_file, IMG_H, IMG_W, im.shape[:2], label.shape))
            self.data[idx] = im
            self.label[idx] = label

    def __len__(self):
        return self.data.shape[0]

    def __iter__(self):
        for k in self._order():
            yield [self.data[k], self.label[k]]
