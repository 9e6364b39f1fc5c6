"""Colour-space and dtype conversions."""
import numpy as np

from tensorpack.dataflow import _optional
from tensorpack.dataflow.imgaug.base import PhotometricAugmentor

__all__ = ["ColorSpace", "Grayscale", "ToUint8", "ToFloat32"]


class ColorSpace(PhotometricAugmentor):
    """Convert with ``cv2.cvtColor(img, mode)``."""

    def __init__(self, mode, keepdims=True):
        """
        Args:
            mode (int): an OpenCV conversion code, e.g. ``cv2.COLOR_BGR2HSV``.
            keepdims (bool): keep a channel axis when the result has a single channel.
        """
        _optional.cv2("imgaug.{}".format(type(self).__name__))
        super().__init__()
        self._init(locals())

    def _augment(self, img, _):
        out = _optional.cv2("imgaug.ColorSpace").cvtColor(img, self.mode)
        if self.keepdims and out.ndim != img.ndim:
            out = out[..., np.newaxis]
        return out


class Grayscale(ColorSpace):
    """Convert a BGR (or RGB) image to grey."""

    def __init__(self, keepdims=True, rgb=False, keepshape=False):
        """
        Args:
            keepdims (bool): return ``(h, w, 1)`` instead of ``(h, w)``.
            rgb (bool): the input is RGB (else BGR).
            keepshape (bool): repeat the grey channel 3 times, so the shape is unchanged
                (needs ``keepdims``).

        Raises:
            ValueError: for ``keepshape`` without ``keepdims``.
        """
        if keepshape and not keepdims:
            raise ValueError("Grayscale: keepshape=True needs keepdims=True.")
        cv2 = _optional.cv2("imgaug.Grayscale")
        super().__init__(cv2.COLOR_RGB2GRAY if rgb else cv2.COLOR_BGR2GRAY, keepdims)
        self.keepshape = keepshape
        self.rgb = rgb

    def _augment(self, img, params):
        out = super()._augment(img, params)
        return np.concatenate([out] * 3, axis=2) if self.keepshape else out


class ToUint8(PhotometricAugmentor):
    """Clip to [0, 255] and convert to uint8 (e.g. to send less data between processes)."""

    def _augment(self, img, _):
        return np.clip(img, 0, 255).astype(np.uint8)


class ToFloat32(PhotometricAugmentor):
    """Convert to float32 (later augmentors then work without rounding)."""

    def _augment(self, img, _):
        return img.astype(np.float32)
