"""MNIST and Fashion-MNIST, read from the publishers' gzip-compressed IDX files."""
import gzip

import numpy as np

from tensorpack.dataflow.dataset._base import IndexedDataset
from tensorpack.dataflow.dataset._files import dataset_dir, ensure_files

__all__ = ["Mnist", "FashionMnist"]

_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049


def _read_idx(filename, magic, ndim):
    """The array in an IDX file (big-endian header: magic, then one uint32 per dimension)."""
    try:
        with gzip.open(filename, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise ValueError("{} is not a readable gzip file: {}".format(filename, e)) from None
    header = 4 * (1 + ndim)
    if len(raw) < header:
        raise ValueError("{} is truncated: no complete IDX header.".format(filename))
    fields = np.frombuffer(raw[:header], dtype=">u4")
    if int(fields[0]) != magic:
        raise ValueError("{} has magic number {}, expected {} (wrong or corrupt file).".format(
            filename, int(fields[0]), magic))
    shape = tuple(int(x) for x in fields[1:])
    count = int(np.prod(shape))
    if len(raw) - header < count:
        raise ValueError("{} is truncated: the header promises {} bytes of data, found {}.".format(
            filename, count, len(raw) - header))
    return np.frombuffer(raw, dtype=np.uint8, count=count, offset=header).reshape(shape)


def extract_images(filename):
    """Images of an IDX file as float32 in [0, 1], shape ``(n, rows, cols, 1)``."""
    data = _read_idx(filename, _IMAGES_MAGIC, 3)
    return (data.astype("float32") / 255.0)[..., np.newaxis]


def extract_labels(filename):
    """Labels of an IDX file as uint8, shape ``(n,)``."""
    return _read_idx(filename, _LABELS_MAGIC, 1)


class Mnist(IndexedDataset):
    """MNIST digits: datapoints ``[image, label]``, image float32 ``28x28`` in [0, 1],
    label an integer 0-9.

    Reads ``train-images-idx3-ubyte.gz`` / ``train-labels-idx1-ubyte.gz`` (or the ``t10k-``
    pair) from ``dir``, downloading them when missing.
    """

    _DIR_NAME = "mnist_data"
    _SOURCE_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
    _SOURCE_PAGE = "http://yann.lecun.com/exdb/mnist/ (mirror: " \
                   "https://ossci-datasets.s3.amazonaws.com/mnist/)"

    def __init__(self, train_or_test, shuffle=True, dir=None):
        """
        Args:
            train_or_test (str): ``'train'`` or ``'test'``.
            shuffle (bool): shuffle on every pass.
            dir (str): directory with the ``.gz`` files; defaults to
                ``$TENSORPACK_DATASET/mnist_data`` (``fashion_mnist_data`` for Fashion-MNIST).

        Raises:
            ValueError: for another split name, or a corrupt file.
            FileNotFoundError: when the files are missing and cannot be downloaded.
        """
        if train_or_test not in ("train", "test"):
            raise ValueError("{}: train_or_test must be 'train' or 'test', got {!r}.".format(
                type(self).__name__, train_or_test))
        self.train_or_test = train_or_test
        self.shuffle = shuffle
        directory = dataset_dir(dir, self._DIR_NAME)
        prefix = "train" if train_or_test == "train" else "t10k"
        names = [prefix + "-images-idx3-ubyte.gz", prefix + "-labels-idx1-ubyte.gz"]
        image_file, label_file = ensure_files(type(self).__name__, directory, names,
                                              self._SOURCE_URL, self._SOURCE_PAGE)
        self.images = extract_images(image_file)
        self.labels = extract_labels(label_file)
        if self.images.shape[0] != self.labels.shape[0]:
            raise ValueError("{} has {} images but {} has {} labels.".format(
                image_file, self.images.shape[0], label_file, self.labels.shape[0]))
        self.dir = directory

    def __len__(self):
        return self.images.shape[0]

    def __iter__(self):
        for k in self._order():
            yield [self.images[k].reshape(self.images.shape[1:3]), self.labels[k]]


class FashionMnist(Mnist):
    """Fashion-MNIST: the same files and interface as :class:`Mnist`, clothing classes."""

    _DIR_NAME = "fashion_mnist_data"
    _SOURCE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    _SOURCE_PAGE = "https://github.com/zalandoresearch/fashion-mnist"

    def get_label_names(self):
        """
        Returns:
            list[str]: the class names, indexed by label.
        """
        return ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
