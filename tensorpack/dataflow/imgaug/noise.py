"""Random noise: JPEG artefacts, Gaussian noise, salt and pepper."""
import numpy as np

from tensorpack.dataflow import _optional
from tensorpack.dataflow.imgaug.base import PhotometricAugmentor

__all__ = ["JpegNoise", "GaussianNoise", "SaltPepperNoise"]


class JpegNoise(PhotometricAugmentor):
    """Encode as JPEG at a random quality and decode again."""

    def __init__(self, quality_range=(40, 100)):
        """
        Args:
            quality_range (tuple): the quality is drawn from ``[low, high)``.
        """
        _optional.cv2("imgaug.JpegNoise")
        super().__init__()
        self._init(locals())

    def _get_augment_params(self, img):
        return self.rng.randint(*self.quality_range)

    def _augment(self, img, quality):
        cv2 = _optional.cv2("imgaug.JpegNoise")
        encoded = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])[1]
        return cv2.imdecode(encoded, cv2.IMREAD_COLOR).astype(img.dtype)


class GaussianNoise(PhotometricAugmentor):
    """Add independent ``N(0, sigma^2)`` noise to every value."""

    def __init__(self, sigma=1, clip=True):
        """
        Args:
            sigma (float): standard deviation.
            clip (bool): clip to [0, 255] also for float images.
        """
        super().__init__()
        self._init(locals())

    def _get_augment_params(self, img):
        return self.rng.randn(*img.shape)

    def _augment(self, img, noise):
        old_dtype = img.dtype
        out = img + noise * self.sigma
        if self.clip or old_dtype == np.uint8:
            out = np.clip(out, 0, 255)
        return out.astype(old_dtype)


class SaltPepperNoise(PhotometricAugmentor):
    """Set random values to 255 (salt) or 0 (pepper), each channel independently."""

    def __init__(self, white_prob=0.05, black_prob=0.05):
        """
        Args:
            white_prob (float): probability of a value becoming 255.
            black_prob (float): probability of a value becoming 0.

        Raises:
            ValueError: if the probabilities add up to more than 1.
        """
        if white_prob + black_prob > 1:
            raise ValueError("SaltPepperNoise: white_prob + black_prob must not exceed 1.")
        super().__init__()
        self._init(locals())

    def _get_augment_params(self, img):
        return self.rng.uniform(low=0, high=1, size=img.shape)

    def _augment(self, img, draws):
        img[draws > (1 - self.white_prob)] = 255
        img[draws < self.black_prob] = 0
        return img
