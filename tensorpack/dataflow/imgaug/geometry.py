"""Affine geometry: shifts, rotations (optionally cropped to the valid area), general affine."""
import math

import numpy as np

from tensorpack.dataflow import _optional
from tensorpack.dataflow.imgaug.base import ImageAugmentor
from tensorpack.dataflow.imgaug.transform import (BORDER_REPLICATE, INTER_LINEAR, CropTransform,
                                                  TransformList, WarpAffineTransform)

__all__ = ["Shift", "Rotation", "RotationAndCropValid", "Affine"]


def _check_step(max_deg, step_deg, who):
    if step_deg is not None and not (max_deg == 180 and max_deg % step_deg == 0):
        raise ValueError("{}: step_deg needs max_deg == 180 and must divide 180; got max_deg={}, "
                         "step_deg={}.".format(who, max_deg, step_deg))


def _rotation_matrix(center, deg, scale=1.0):
    """The 2x3 matrix rotating by ``deg`` degrees (counter-clockwise) about ``center`` (x, y)."""
    return _optional.cv2("imgaug rotations").getRotationMatrix2D(
        (float(center[0]), float(center[1])), float(deg), float(scale))


class Shift(ImageAugmentor):
    """Translate by a random offset of up to a fraction of the width / height."""

    def __init__(self, horiz_frac=0, vert_frac=0, border=BORDER_REPLICATE, border_value=0):
        """
        Args:
            horiz_frac (float): largest horizontal shift, as a fraction of the width (< 1).
            vert_frac (float): largest vertical shift, as a fraction of the height (< 1).
            border (int): OpenCV border mode for pixels shifted in.
            border_value: fill value when ``border`` is ``cv2.BORDER_CONSTANT``.
        """
        _optional.cv2("imgaug.Shift")
        if not (horiz_frac < 1.0 and vert_frac < 1.0):
            raise ValueError("Shift: horiz_frac and vert_frac must be below 1.")
        super().__init__()
        self._init(locals())

    def get_transform(self, img):
        max_dx = self.horiz_frac * img.shape[1]
        max_dy = self.vert_frac * img.shape[0]
        dx = np.round(self._rand_range(-max_dx, max_dx))
        dy = np.round(self._rand_range(-max_dy, max_dy))
        mat = np.array([[1, 0, dx], [0, 1, dy]], dtype="float32")
        return WarpAffineTransform(mat, img.shape[1::-1], borderMode=self.border,
                                   borderValue=self.border_value)


class Rotation(ImageAugmentor):
    """Rotate by a random angle about a random centre; the output keeps the input size."""

    def __init__(self, max_deg, center_range=(0, 1), interp=INTER_LINEAR,
                 border=BORDER_REPLICATE, step_deg=None, border_value=0):
        """
        Args:
            max_deg (float): the angle is drawn from ``[-max_deg, max_deg)`` degrees.
            center_range (tuple): the centre is drawn, per axis, from this range of
                fractions of the image size.
            interp (int): OpenCV interpolation flag.
            border (int): OpenCV border mode.
            step_deg (float): if given, round the angle down to a multiple of it (needs
                ``max_deg == 180`` and a divisor of 180).
            border_value: fill value when ``border`` is ``cv2.BORDER_CONSTANT``.
        """
        _optional.cv2("imgaug.Rotation")
        _check_step(max_deg, step_deg, "Rotation")
        super().__init__()
        self._init(locals())

    def get_transform(self, img):
        center = img.shape[1::-1] * self._rand_range(self.center_range[0], self.center_range[1],
                                                     (2,))
        deg = self._rand_range(-self.max_deg, self.max_deg)
        if self.step_deg:
            deg = deg // self.step_deg * self.step_deg
        # Pixel centres sit at integer indices in OpenCV, so the middle of a size-n axis is
        # at n/2 - 0.5: rotating four times by 90 degrees about it is then exact.
        mat = _rotation_matrix(center - 0.5, deg)
        return WarpAffineTransform(mat, img.shape[1::-1], interp=self.interp,
                                   borderMode=self.border, borderValue=self.border_value)


class RotationAndCropValid(ImageAugmentor):
    """Rotate about the centre, then crop the largest upright rectangle with no border pixels.

    Output sizes vary from image to image.
    """

    def __init__(self, max_deg, interp=INTER_LINEAR, step_deg=None):
        """
        Args:
            max_deg, interp, step_deg: as in :class:`Rotation`.
        """
        _optional.cv2("imgaug.RotationAndCropValid")
        _check_step(max_deg, step_deg, "RotationAndCropValid")
        super().__init__()
        self._init(locals())

    def _get_deg(self, img):
        deg = self._rand_range(-self.max_deg, self.max_deg)
        if self.step_deg:
            deg = deg // self.step_deg * self.step_deg
        return float(deg)

    def get_transform(self, img):
        deg = self._get_deg(img)
        h, w = img.shape[:2]
        cx, cy = w * 0.5, h * 0.5
        rotate = WarpAffineTransform(_rotation_matrix((cx - 0.5, cy - 0.5), deg), (w, h),
                                     interp=self.interp)
        new_w, new_h = self.largest_rotated_rect(w, h, deg)
        new_w, new_h = min(new_w, w), min(new_h, h)
        crop = CropTransform(int(cy - new_h * 0.5), int(cx - new_w * 0.5), new_h, new_w)
        return TransformList([rotate, crop])

    @staticmethod
    def largest_rotated_rect(w, h, angle):
        """Size ``(w, h)`` of the largest axis-aligned rectangle inside a ``w x h`` rectangle
        rotated by ``angle`` degrees.
        """
        if w <= 0 or h <= 0:
            return 0, 0
        rad = math.radians(angle)
        sin_a, cos_a = abs(math.sin(rad)), abs(math.cos(rad))
        long_side, short_side = max(w, h), min(w, h)
        if short_side <= 2.0 * sin_a * cos_a * long_side:
            # two corners of the crop touch the long side; the other two lie on the midline
            half = 0.5 * short_side
            wr, hr = (half / sin_a, half / cos_a) if w >= h else (half / cos_a, half / sin_a)
        else:
            # all four sides of the rotated rectangle touch the crop
            cos_2a = cos_a * cos_a - sin_a * sin_a
            wr, hr = (w * cos_a - h * sin_a) / cos_2a, (h * cos_a - w * sin_a) / cos_2a
        return int(np.round(wr)), int(np.round(hr))


class Affine(ImageAugmentor):
    """Random scale, translation, rotation and shear about the image centre."""

    def __init__(self, scale=None, translate_frac=None, rotate_max_deg=0.0, shear=0.0,
                 interp=INTER_LINEAR, border=BORDER_REPLICATE, border_value=0):
        """
        Args:
            scale (tuple): ``(low, high)`` range of the zoom factor; None keeps the scale.
            translate_frac (tuple): largest horizontal and vertical shift as fractions of
                width and height; None for no shift.
            rotate_max_deg (float): largest absolute rotation in degrees.
            shear (float): largest absolute shear in degrees (0 to 180).
            interp, border, border_value: as in :class:`Rotation`.

        Raises:
            ValueError: for malformed ranges.
        """
        _optional.cv2("imgaug.Affine")
        if scale is not None and not (isinstance(scale, tuple) and len(scale) == 2):
            raise ValueError("Affine: scale must be a (low, high) tuple, got {!r}.".format(scale))
        if translate_frac is not None and not (isinstance(translate_frac, tuple)
                                               and len(translate_frac) == 2):
            raise ValueError("Affine: translate_frac must be a tuple of two floats, got "
                             "{!r}.".format(translate_frac))
        if shear < 0:
            raise ValueError("Affine: shear must be between 0 and 180 degrees.")
        super().__init__()
        self._init(locals())

    def get_transform(self, img):
        scale = self._rand_range(*self.scale) if self.scale is not None else 1.0
        if self.translate_frac is not None:
            max_dx = self.translate_frac[0] * img.shape[1]
            max_dy = self.translate_frac[1] * img.shape[0]
            dx = np.round(self._rand_range(-max_dx, max_dx))
            dy = np.round(self._rand_range(-max_dy, max_dy))
        else:
            dx = dy = 0
        if self.shear > 0.0:
            shear = math.radians(self._rand_range(-self.shear, self.shear))
            sin_s, cos_s = math.sin(shear), math.cos(shear)
        center = img.shape[1::-1] * np.array((0.5, 0.5)) - 0.5
        deg = self._rand_range(-self.rotate_max_deg, self.rotate_max_deg)
        mat = _rotation_matrix(center, deg, scale)
        if self.shear > 0.0:
            m00, m01, m10, m11 = mat[0, 0], mat[0, 1], mat[1, 0], mat[1, 1]
            mat[0, 1] = m01 * cos_s + m00 * sin_s
            mat[1, 1] = m11 * cos_s + m10 * sin_s
            # re-centre so that the image centre stays where it was
            mat[0, 2] = center[0] * (1.0 - m00) - center[1] * mat[0, 1]
            mat[1, 2] = -center[0] * m10 + center[1] * (1.0 - mat[1, 1])
        mat[0, 2] += dx
        mat[1, 2] += dy
        return WarpAffineTransform(mat, img.shape[1::-1], self.interp, self.border,
                                   self.border_value)
