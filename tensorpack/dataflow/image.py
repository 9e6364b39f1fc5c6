"""DataFlows for images: read image files, and apply augmentors to datapoint components.

OpenCV and the augmentors are imported when one of these dataflows is created, so importing
this module is cheap.
"""
import copy as copy_mod
from contextlib import contextmanager

import numpy as np

from tensorpack.dataflow import _optional
from tensorpack.dataflow.base import RNGDataFlow
from tensorpack.dataflow.common import MapData, MapDataComponent
from tensorpack.utils import logger

__all__ = ["ImageFromFile", "AugmentImageComponent", "AugmentImageCoordinates",
           "AugmentImageComponents"]


def check_dtype(img):
    """Raise TypeError unless ``img`` is a NumPy array."""
    if not isinstance(img, np.ndarray):
        raise TypeError("Image augmentation needs numpy arrays, got a {}.".format(
            type(img).__name__))


def validate_coords(coords):
    """Raise ValueError unless ``coords`` is an ``Nx2`` floating point array of ``(x, y)``."""
    if not isinstance(coords, np.ndarray) or coords.ndim != 2 or coords.shape[1] != 2 \
            or not np.issubdtype(coords.dtype, np.floating):
        raise ValueError("Coordinates must be an Nx2 floating point numpy array of (x, y) rows; "
                         "got {}.".format(
                             "shape {} dtype {}".format(coords.shape, coords.dtype)
                             if isinstance(coords, np.ndarray) else type(coords).__name__))


class ExceptionHandler:
    """Re-raise errors, or (``catch_exceptions=True``) log them sparingly and go on."""

    def __init__(self, catch_exceptions=False):
        self.catch_exceptions = catch_exceptions
        self._nr_error = 0

    @contextmanager
    def catch(self):
        try:
            yield
        except Exception:
            self._nr_error += 1
            if not self.catch_exceptions:
                raise
            if self._nr_error < 10 or self._nr_error % 100 == 0:
                logger.exception("Augmentation failed ({} errors so far); the datapoint is "
                                 "skipped.".format(self._nr_error))


class _Augmenting:
    """What the augmentation dataflows share: the augmentor list, the copy policy, the
    error policy, and reseeding the augmentors along with the source."""

    def _setup_augmentation(self, augmentors, copy, catch_exceptions):
        from tensorpack.dataflow.imgaug import AugmentorList
        self.augs = augmentors if isinstance(augmentors, AugmentorList) \
            else AugmentorList(augmentors)
        self._copy = copy
        self._exception_handler = ExceptionHandler(catch_exceptions)

    def reset_state(self):
        self.ds.reset_state()
        self.augs.reset_state()


class ImageFromFile(RNGDataFlow):
    """Read image files; each datapoint is ``[image]`` of shape ``(h, w, c)``.

    Colour images come out in RGB order (OpenCV reads BGR; this flow converts).
    """

    def __init__(self, files, channel=3, resize=None, shuffle=False):
        """
        Args:
            files (list[str]): image paths.
            channel (int): 3 for RGB (grey files are converted), 1 for ``(h, w, 1)`` grey.
            resize (int or tuple): if given, resize every image to ``(h, w)``.
            shuffle (bool): shuffle the order on each pass.

        Raises:
            ValueError: for an empty file list or a channel other than 1 or 3.
        """
        from tensorpack.dataflow.imgaug.misc import shape2d
        cv2 = _optional.cv2("ImageFromFile")
        if not len(files):
            raise ValueError("ImageFromFile: the list of image files is empty.")
        self.files = files
        self.channel = int(channel)
        if self.channel not in (1, 3):
            raise ValueError("ImageFromFile: channel must be 1 or 3, got {}.".format(channel))
        self.imread_mode = cv2.IMREAD_GRAYSCALE if self.channel == 1 else cv2.IMREAD_COLOR
        self.resize = shape2d(resize) if resize is not None else None
        self.shuffle = shuffle

    def __len__(self):
        return len(self.files)

    def __iter__(self):
        cv2 = _optional.cv2("ImageFromFile")
        if self.shuffle:
            self.rng.shuffle(self.files)
        for fname in self.files:
            im = cv2.imread(fname, self.imread_mode)
            if im is None:
                raise ValueError("ImageFromFile: cannot read '{}' as an image (missing file or "
                                 "unsupported format).".format(fname))
            if self.channel == 3:
                im = im[:, :, ::-1]
            if self.resize is not None:
                im = cv2.resize(im, (int(self.resize[1]), int(self.resize[0])))
            if self.channel == 1:
                im = im[:, :, np.newaxis]
            yield [im]


class AugmentImageComponent(_Augmenting, MapDataComponent):
    """Augment one image component of every datapoint."""

    def __init__(self, ds, augmentors, index=0, copy=True, catch_exceptions=False):
        """
        Args:
            ds (DataFlow): the source.
            augmentors (list[ImageAugmentor] or AugmentorList): applied in order.
            index (int or str): list index or dict key of the image.
            copy (bool): augment a copy, so that the source's arrays are never modified
                (some augmentors work in place). Turn off only when that is safe.
            catch_exceptions (bool): log augmentation errors and skip the datapoint,
                instead of raising.
        """
        self._setup_augmentation(augmentors, copy, catch_exceptions)
        super().__init__(ds, self._aug_mapper, index)

    def _aug_mapper(self, img):
        check_dtype(img)
        with self._exception_handler.catch():
            if self._copy:
                img = copy_mod.deepcopy(img)
            return self.augs.augment(img)
        return None


class AugmentImageCoordinates(_Augmenting, MapData):
    """Augment an image and an ``Nx2`` array of ``(x, y)`` coordinates the same way."""

    def __init__(self, ds, augmentors, img_index=0, coords_index=1, copy=True,
                 catch_exceptions=False):
        """
        Args:
            ds (DataFlow): the source.
            augmentors (list[ImageAugmentor] or AugmentorList): applied in order.
            img_index (int or str): index or key of the image.
            coords_index (int or str): index or key of the coordinates (float, ``Nx2``).
            copy, catch_exceptions: as in :class:`AugmentImageComponent`.
        """
        self._setup_augmentation(augmentors, copy, catch_exceptions)
        self._img_index = img_index
        self._coords_index = coords_index
        super().__init__(ds, self._aug_mapper)

    def _aug_mapper(self, dp):
        with self._exception_handler.catch():
            dp = list(dp) if isinstance(dp, tuple) else dp
            img, coords = dp[self._img_index], dp[self._coords_index]
            check_dtype(img)
            validate_coords(coords)
            if self._copy:
                img, coords = copy_mod.deepcopy((img, coords))
            tfm = self.augs.get_transform(img)
            dp[self._img_index] = tfm.apply_image(img)
            dp[self._coords_index] = tfm.apply_coords(coords)
            return dp
        return None


class AugmentImageComponents(_Augmenting, MapData):
    """Augment several images (e.g. an image and its mask) and coordinate arrays of a
    datapoint with one shared random transform.

    The transform is decided on the first image of ``index``.

    Example::

        ds = AugmentImageComponents(ds, augs, index=(0, 1), coords_index=(2,))
    """

    def __init__(self, ds, augmentors, index=(0, 1), coords_index=(), copy=True,
                 catch_exceptions=False):
        """
        Args:
            ds (DataFlow): the source.
            augmentors (list[ImageAugmentor] or AugmentorList): applied in order.
            index (tuple): indices or keys of the image components.
            coords_index (tuple): indices or keys of ``Nx2`` coordinate components.
            copy, catch_exceptions: as in :class:`AugmentImageComponent`.
        """
        self._setup_augmentation(augmentors, copy, catch_exceptions)
        self._index = index
        self._coords_index = coords_index
        super().__init__(ds, self._aug_mapper)

    def _aug_mapper(self, dp):
        dp = list(dp) if isinstance(dp, tuple) else dp
        maybe_copy = copy_mod.deepcopy if self._copy else (lambda x: x)
        with self._exception_handler.catch():
            first = maybe_copy(dp[self._index[0]])
            check_dtype(first)
            tfm = self.augs.get_transform(first)
            dp[self._index[0]] = tfm.apply_image(first)
            for idx in self._index[1:]:
                check_dtype(dp[idx])
                dp[idx] = tfm.apply_image(maybe_copy(dp[idx]))
            for idx in self._coords_index:
                coords = maybe_copy(dp[idx])
                validate_coords(coords)
                dp[idx] = tfm.apply_coords(coords)
            return dp
        return None
