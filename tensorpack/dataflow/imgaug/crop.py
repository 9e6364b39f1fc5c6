"""Crops: random, centred, random-shaped, GoogLeNet-style, and cutout."""
import numpy as np

from tensorpack.dataflow import _optional
from tensorpack.dataflow.imgaug.base import ImageAugmentor, ImagePlaceholder
from tensorpack.dataflow.imgaug.misc import ResizeShortestEdge, shape2d
from tensorpack.dataflow.imgaug.transform import (INTER_LINEAR, CropTransform,
                                                  PhotometricTransform, ResizeTransform,
                                                  TransformList)
from tensorpack.utils import logger

__all__ = ["RandomCrop", "CenterCrop", "RandomCropRandomShape", "GoogleNetRandomCropAndResize",
           "RandomCutout"]


def _check_fits(img_shape, crop_shape, who):
    if img_shape[0] < crop_shape[0] or img_shape[1] < crop_shape[1]:
        raise ValueError("{}: cannot crop {}x{} out of an image of shape {}.".format(
            who, crop_shape[0], crop_shape[1], tuple(img_shape)))


class RandomCrop(ImageAugmentor):
    """Cut a window of fixed size at a uniformly random position."""

    def __init__(self, crop_shape):
        """
        Args:
            crop_shape (int or tuple): ``(h, w)`` of the window, or one int for a square.
        """
        crop_shape = tuple(int(x) for x in shape2d(crop_shape))
        super().__init__()
        self._init(locals())

    def get_transform(self, img):
        _check_fits(img.shape, self.crop_shape, "RandomCrop")
        y0 = self.rng.randint(img.shape[0] - self.crop_shape[0] + 1)
        x0 = self.rng.randint(img.shape[1] - self.crop_shape[1] + 1)
        return CropTransform(y0, x0, self.crop_shape[0], self.crop_shape[1])


class CenterCrop(ImageAugmentor):
    """Cut a window of fixed size from the middle of the image."""

    def __init__(self, crop_shape):
        """
        Args:
            crop_shape (int or tuple): ``(h, w)`` of the window, or one int for a square.
        """
        crop_shape = shape2d(crop_shape)
        self._init(locals())

    def get_transform(self, img):
        _check_fits(img.shape, self.crop_shape, "CenterCrop")
        y0 = int((img.shape[0] - self.crop_shape[0]) * 0.5)
        x0 = int((img.shape[1] - self.crop_shape[1]) * 0.5)
        return CropTransform(y0, x0, self.crop_shape[0], self.crop_shape[1])


class RandomCropRandomShape(ImageAugmentor):
    """Cut a window whose size is drawn from ``[min, max]`` (inclusive) at a random place."""

    def __init__(self, wmin, hmin, wmax=None, hmax=None, max_aspect_ratio=None):
        """
        Args:
            wmin, hmin (int): smallest window width and height.
            wmax, hmax (int): largest; None means the image's size.
            max_aspect_ratio: ignored (upstream never implemented it).
        """
        super().__init__()
        if max_aspect_ratio is not None:
            logger.warn("RandomCropRandomShape(max_aspect_ratio=) has no effect.")
        self._init(locals())

    def get_transform(self, img):
        h = self.rng.randint(self.hmin, (self.hmax or img.shape[0]) + 1)
        w = self.rng.randint(self.wmin, (self.wmax or img.shape[1]) + 1)
        _check_fits(img.shape, (h, w), "RandomCropRandomShape")
        dh, dw = img.shape[0] - h, img.shape[1] - w
        # upstream's convention: the offset is drawn from [0, d) (never d itself) when d > 0
        y0 = self.rng.randint(dh) if dh > 0 else 0
        x0 = self.rng.randint(dw) if dw > 0 else 0
        return CropTransform(y0, x0, h, w)


class GoogleNetRandomCropAndResize(ImageAugmentor):
    """The "Inception" crop: a random box of 8%-100% of the area and aspect ratio 3/4-4/3,
    resized to ``target_shape``; after 10 failed draws, shortest-edge resize + centre crop.
    """

    def __init__(self, crop_area_fraction=(0.08, 1.), aspect_ratio_range=(0.75, 1.333),
                 target_shape=224, interp=INTER_LINEAR):
        """
        Args:
            crop_area_fraction (tuple): range of the box area, as a fraction of the image's.
            aspect_ratio_range (tuple): range of the box's width / height.
            target_shape (int): side of the square output.
            interp (int): OpenCV interpolation flag.
        """
        _optional.cv2("imgaug.GoogleNetRandomCropAndResize")
        super().__init__()
        self._init(locals())

    def get_transform(self, img):
        h, w = img.shape[:2]
        area = h * w
        for _ in range(10):
            target_area = self.rng.uniform(*self.crop_area_fraction) * area
            ratio = self.rng.uniform(*self.aspect_ratio_range)
            ww = int(np.sqrt(target_area * ratio) + 0.5)
            hh = int(np.sqrt(target_area / ratio) + 0.5)
            if self.rng.uniform() < 0.5:
                ww, hh = hh, ww
            if hh <= h and ww <= w:
                x0 = self.rng.randint(0, w - ww + 1)
                y0 = self.rng.randint(0, h - hh + 1)
                return TransformList([
                    CropTransform(y0, x0, hh, ww),
                    ResizeTransform(hh, ww, self.target_shape, self.target_shape, self.interp)])
        resize = ResizeShortestEdge(self.target_shape, interp=self.interp).get_transform(img)
        crop = CenterCrop(self.target_shape).get_transform(
            ImagePlaceholder((resize.new_h, resize.new_w)))
        return TransformList([resize, crop])


class RandomCutout(ImageAugmentor):
    """Fill a random rectangle with a constant (cutout, arXiv:1708.04552)."""

    def __init__(self, h_range, w_range, fill=0.):
        """
        Args:
            h_range (int or tuple): the rectangle's height, or a ``[low, high)`` range for it.
            w_range (int or tuple): the same for the width.
            fill (float): the value written into the rectangle.
        """
        super().__init__()
        self._init(locals())

    def _size(self, rng_range):
        return rng_range if isinstance(rng_range, int) else self.rng.randint(*rng_range)

    def get_transform(self, img):
        h, w = self._size(self.h_range), self._size(self.w_range)
        x0 = self.rng.randint(0, img.shape[1] + 1 - w)
        y0 = self.rng.randint(0, img.shape[0] + 1 - h)

        def cut(im):
            im[y0:y0 + h, x0:x0 + w] = self.fill
            return im
        return PhotometricTransform(cut, "cutout")
