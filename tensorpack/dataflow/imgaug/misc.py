"""Flips, transposes and resizes."""
from tensorpack.dataflow import _optional
from tensorpack.dataflow.imgaug.base import ImageAugmentor
from tensorpack.dataflow.imgaug.transform import (INTER_LINEAR, FlipTransform, NoOpTransform,
                                                  ResizeTransform, TransposeTransform)
from tensorpack.utils import logger

__all__ = ["Flip", "Resize", "RandomResize", "ResizeShortestEdge", "Transpose"]


def shape2d(a):
    """``(h, w)`` from an int or a pair.

    Raises:
        ValueError: for anything else.
    """
    if isinstance(a, int):
        return (a, a)
    if isinstance(a, (list, tuple)) and len(a) == 2:
        return tuple(a)
    raise ValueError("Expected an int or a (h, w) pair, got {!r}.".format(a))


class Flip(ImageAugmentor):
    """Mirror the image left-right or upside down with probability ``prob``."""

    def __init__(self, horiz=False, vert=False, prob=0.5):
        """
        Args:
            horiz (bool): flip left-right.
            vert (bool): flip upside down.
            prob (float): probability of flipping.

        Raises:
            ValueError: unless exactly one of ``horiz`` and ``vert`` is True.
        """
        super().__init__()
        if horiz == vert:
            raise ValueError("Flip needs exactly one of horiz=True or vert=True (use two Flip "
                             "augmentors to flip both ways).")
        self._init(locals())

    def get_transform(self, img):
        if self._rand_range() < self.prob:
            h, w = img.shape[:2]
            return FlipTransform(h, w, self.horiz)
        return NoOpTransform()


class Resize(ImageAugmentor):
    """Resize to a fixed ``(h, w)``."""

    def __init__(self, shape, interp=INTER_LINEAR):
        """
        Args:
            shape (int or tuple): ``(h, w)``, or one int for a square.
            interp (int): OpenCV interpolation flag.
        """
        _optional.cv2("imgaug.Resize")
        shape = shape2d(shape)
        self._init(locals())

    def get_transform(self, img):
        return ResizeTransform(img.shape[0], img.shape[1], self.shape[0], self.shape[1],
                               self.interp)


class ResizeShortestEdge(ImageAugmentor):
    """Resize so that the shorter side becomes ``size``, keeping the aspect ratio."""

    def __init__(self, size, interp=INTER_LINEAR):
        """
        Args:
            size (int): the new length of the shorter side.
            interp (int): OpenCV interpolation flag.
        """
        _optional.cv2("imgaug.ResizeShortestEdge")
        size = int(size)
        self._init(locals())

    def get_transform(self, img):
        h, w = img.shape[:2]
        scale = self.size * 1.0 / min(h, w)
        if h < w:
            new_h, new_w = self.size, int(scale * w + 0.5)
        else:
            new_h, new_w = int(scale * h + 0.5), self.size
        return ResizeTransform(h, w, new_h, new_w, self.interp)


class RandomResize(ImageAugmentor):
    """Resize width and height by random amounts, within an aspect-ratio tolerance."""

    def __init__(self, xrange, yrange=None, minimum=(0, 0), aspect_ratio_thres=0.15,
                 interp=INTER_LINEAR):
        """
        Args:
            xrange (tuple): ``(min, max)`` of the new width: scale factors if floats
                (e.g. ``(0.9, 1.2)``), pixels if ints (e.g. ``(200, 350)``).
            yrange (tuple): the same for the height; unused when ``aspect_ratio_thres == 0``.
            minimum (tuple): ``(min_w, min_h)`` in pixels.
            aspect_ratio_thres (float): redraw when the aspect ratio changes by more than
                this relative amount; 0 keeps the aspect ratio exactly.
            interp (int): OpenCV interpolation flag.

        Raises:
            ValueError: for inconsistent ranges.
        """
        _optional.cv2("imgaug.RandomResize")
        super().__init__()
        if aspect_ratio_thres < 0:
            raise ValueError("RandomResize: aspect_ratio_thres must be >= 0.")
        self._init(locals())
        self._is_scale = self._is_float(xrange)
        if yrange is not None and self._is_float(yrange) != self._is_scale:
            raise ValueError("RandomResize: xrange and yrange must both be scale factors (floats) "
                             "or both pixel sizes (ints).")
        if aspect_ratio_thres == 0:
            if self._is_scale and yrange is not None and tuple(yrange) != tuple(xrange):
                raise ValueError("RandomResize: with aspect_ratio_thres=0, yrange must be None "
                                 "or equal to xrange.")
            if not self._is_scale and yrange is not None:
                logger.warn("RandomResize: aspect_ratio_thres=0, so yrange is not used.")
        elif yrange is None:
            raise ValueError("RandomResize: yrange is needed unless aspect_ratio_thres=0.")

    @staticmethod
    def _is_float(pair):
        return isinstance(pair[0], float) or isinstance(pair[1], float)

    def _draw_size(self, h, w):
        sx = self._rand_range(*self.xrange)
        if self._is_scale:
            sy = sx if self.aspect_ratio_thres == 0 else self._rand_range(*self.yrange)
            new_w, new_h = max(sx * w, self.minimum[0]), max(sy * h, self.minimum[1])
        else:
            sy = sx * 1.0 / w * h if self.aspect_ratio_thres == 0 else \
                self._rand_range(*self.yrange)
            new_w, new_h = max(sx, self.minimum[0]), max(sy, self.minimum[1])
        return int(new_w + 0.5), int(new_h + 0.5)

    def get_transform(self, img):
        h, w = img.shape[:2]
        for _ in range(51):
            new_w, new_h = self._draw_size(h, w)
            if self.aspect_ratio_thres == 0:
                return ResizeTransform(h, w, new_h, new_w, self.interp)
            old_ratio = w * 1.0 / h
            change = abs(new_w * 1.0 / new_h - old_ratio) / old_ratio
            if change < self.aspect_ratio_thres + 1e-5:
                return ResizeTransform(h, w, new_h, new_w, self.interp)
        logger.warn("RandomResize found no size within the aspect-ratio tolerance after 51 "
                    "draws; the image keeps its size.")
        return ResizeTransform(h, w, h, w, self.interp)


class Transpose(ImageAugmentor):
    """Swap height and width with probability ``prob``."""

    def __init__(self, prob=0.5):
        """
        Args:
            prob (float): probability of transposing.
        """
        super().__init__()
        self.prob = prob

    def get_transform(self, _):
        return TransposeTransform() if self.rng.rand() < self.prob else NoOpTransform()
