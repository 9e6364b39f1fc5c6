"""Wrappers for augmentors of the third-party ``imgaug`` and ``albumentations`` libraries."""
import numpy as np

from tensorpack.dataflow.imgaug.base import ImageAugmentor
from tensorpack.dataflow.imgaug.transform import Transform

__all__ = ["IAAugmentor", "Albumentations"]


class IAATransform(Transform):
    def __init__(self, aug, img_shape):
        super().__init__()
        self._init(locals())

    def apply_image(self, img):
        return self.aug.augment_image(img)

    def apply_coords(self, coords):
        import imgaug as ia  # the aleju/imgaug library
        points = ia.KeypointsOnImage([ia.Keypoint(x=x, y=y) for x, y in coords],
                                     shape=self.img_shape)
        moved = self.aug.augment_keypoints([points])[0].keypoints
        return np.asarray([[p.x, p.y] for p in moved])


class IAAugmentor(ImageAugmentor):
    """Use an augmenter of the ``imgaug`` library (aleju/imgaug; uint8 images only)."""

    def __init__(self, augmentor):
        """
        Args:
            augmentor: an ``imgaug.augmenters.Augmenter``.
        """
        super().__init__()
        self._aug = augmentor

    def get_transform(self, img):
        return IAATransform(self._aug.to_deterministic(), img.shape)


class AlbumentationsTransform(Transform):
    def __init__(self, aug, param):
        super().__init__()
        self._init(locals())

    def apply_image(self, img):
        return self.aug.apply(img, **self.param)


class Albumentations(ImageAugmentor):
    """Use a transform of the ``albumentations`` library (images only, no coordinates)."""

    def __init__(self, augmentor):
        """
        Args:
            augmentor: an ``albumentations`` transform.
        """
        super().__init__()
        self._aug = augmentor

    def get_transform(self, img):
        return AlbumentationsTransform(self._aug, self._aug.get_params())
