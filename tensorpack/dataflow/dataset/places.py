"""Places365-Standard (low resolution), from its "easy directory structure"."""
import os

from tensorpack.dataflow import _optional
from tensorpack.dataflow.dataset._base import IndexedDataset
from tensorpack.dataflow.dataset._files import missing_files_error
from tensorpack.utils import logger

__all__ = ["Places365Standard"]


class Places365Standard(IndexedDataset):
    """Places365-Standard: ``[image, label]``, image uint8 BGR (256x256 in the low-resolution
    release), label the index of the category in sorted order."""

    def __init__(self, dir, name, shuffle=None):
        """
        Args:
            dir (str): the dataset directory, holding ``train.txt`` / ``val.txt`` and the
                images they list, one path per line (``train/airfield/00000001.jpg``).
            name (str): ``'train'`` or ``'val'``.
            shuffle (bool): defaults to True for ``'train'``.

        Raises:
            ValueError: for another name.
            FileNotFoundError: when the list file is missing.
            ImportError: without OpenCV (the ``dataflow`` extra).
        """
        if name not in ("train", "val"):
            raise ValueError("Places365Standard: name must be 'train' or 'val', got "
                             "{!r}.".format(name))
        _optional.cv2("dataset.Places365Standard")
        dir = os.path.expanduser(dir)
        label_file = os.path.join(dir, name + ".txt")
        if not os.path.isfile(label_file):
            raise missing_files_error("Places365-Standard", dir, [name + ".txt", name + "/"],
                                      "http://places2.csail.mit.edu/download.html (\"easy "
                                      "directory structure\", small images)")
        self.name = name
        self.shuffle = (name == "train") if shuffle is None else shuffle
        entries = []
        with open(label_file) as f:
            for line in f:
                if not line.strip():
                    continue
                rel = line.split()[0].strip("/")
                # the category is the second path component: train/airfield/00000001.jpg
                entries.append((os.path.join(dir, rel), rel.split("/")[1]))
        self._labels = sorted({category for _, category in entries})
        ids = {category: i for i, category in enumerate(self._labels)}
        self._files = [(path, ids[category]) for path, category in entries]
        logger.info("Found {} images in {}.".format(len(self._files), label_file))

    def get_label_names(self):
        """
        Returns:
            list[str]: the category names, indexed by label.
        """
        return self._labels

    def __len__(self):
        return len(self._files)

    def __iter__(self):
        cv2 = _optional.cv2("dataset.Places365Standard")
        for k in self._order():
            fname, label = self._files[k]
            im = cv2.imread(fname, cv2.IMREAD_COLOR)
            if im is None:
                raise ValueError("Places365Standard: cannot read image {}.".format(fname))
            yield [im, label]
