"""Paste the image onto a larger canvas."""
from abc import abstractmethod

import numpy as np

from tensorpack.dataflow.imgaug.base import ImageAugmentor
from tensorpack.dataflow.imgaug.transform import TransformFactory

__all__ = ["CenterPaste", "BackgroundFiller", "ConstantBackgroundFiller", "RandomPaste"]


class BackgroundFiller:
    """Makes the canvas an image is pasted on."""

    def fill(self, background_shape, img):
        """
        Args:
            background_shape (tuple): ``(h, w)`` of the canvas.
            img (np.ndarray): the image to be pasted (gives dtype and channels).

        Returns:
            np.ndarray: the canvas.
        """
        return self._fill(tuple(background_shape), img)

    @abstractmethod
    def _fill(self, background_shape, img):
        pass


class ConstantBackgroundFiller(BackgroundFiller):
    """A canvas filled with one value."""

    def __init__(self, value):
        """
        Args:
            value (float): the fill value.
        """
        self.value = value

    def _fill(self, background_shape, img):
        shape = background_shape + tuple(img.shape[2:3])
        return np.zeros(shape, dtype=img.dtype) + self.value


def _paste(canvas, img, y0, x0):
    canvas[y0:y0 + img.shape[0], x0:x0 + img.shape[1]] = img
    return canvas


class CenterPaste(ImageAugmentor):
    """Paste the image into the middle of a canvas of ``background_shape``."""

    def __init__(self, background_shape, background_filler=None):
        """
        Args:
            background_shape (tuple): ``(h, w)`` of the canvas.
            background_filler (BackgroundFiller): defaults to zeros.
        """
        if background_filler is None:
            background_filler = ConstantBackgroundFiller(0)
        self._init(locals())

    def _check(self, img, strict):
        h, w = img.shape[:2]
        bh, bw = self.background_shape[:2]
        if (strict and not (bh > h and bw > w)) or not (bh >= h and bw >= w):
            raise ValueError("{}: canvas {} is too small for an image of shape {}.".format(
                type(self).__name__, tuple(self.background_shape), img.shape))

    def _impl(self, img):
        self._check(img, strict=False)
        y0 = int((self.background_shape[0] - img.shape[0]) * 0.5)
        x0 = int((self.background_shape[1] - img.shape[1]) * 0.5)
        return _paste(self.background_filler.fill(self.background_shape, img), img, y0, x0)

    def get_transform(self, _):
        return TransformFactory(name=repr(self), apply_image=self._impl)


class RandomPaste(CenterPaste):
    """Paste the image at a random place in a larger canvas."""

    def get_transform(self, img):
        self._check(img, strict=True)
        y0 = int(self._rand_range(self.background_shape[0] - img.shape[0]))
        x0 = int(self._rand_range(self.background_shape[1] - img.shape[1]))
        return TransformFactory(
            name=repr(self),
            apply_image=lambda im: _paste(self.background_filler.fill(self.background_shape, im),
                                          im, y0, x0))
