"""Photometric augmentors: brightness, contrast, colour, blur, normalisation."""
import numpy as np

from tensorpack.dataflow import _optional
from tensorpack.dataflow.imgaug.base import PhotometricAugmentor
from tensorpack.utils import logger

__all__ = ["Hue", "Brightness", "BrightnessScale", "Contrast", "MeanVarianceNormalize",
           "GaussianBlur", "Gamma", "Clip", "Saturation", "Lighting", "MinMaxNormalize"]


def _clip_and_cast(img, old_dtype, clip):
    """Back to the input dtype; uint8 results are always clipped to [0, 255] first."""
    if clip or old_dtype == np.uint8:
        img = np.clip(img, 0, 255)
    return img.astype(old_dtype)


class Hue(PhotometricAugmentor):
    """Rotate the hue by a random offset (in OpenCV's 0-180 hue units)."""

    def __init__(self, range=(0, 180), rgb=True):
        """
        Args:
            range (tuple): the offset is drawn from this interval.
            rgb (bool): the input is RGB (else BGR).
        """
        _optional.cv2("imgaug.Hue")
        super().__init__()
        rgb = bool(rgb)
        self._init(locals())

    def _get_augment_params(self, _):
        return self._rand_range(*self.range)

    def _augment(self, img, hue):
        cv2 = _optional.cv2("imgaug.Hue")
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV if self.rgb else cv2.COLOR_BGR2HSV)
        if hsv.dtype.itemsize == 1:  # 8-bit hue lives in [0, 180)
            hsv[..., 0] = (hsv[..., 0] + hue) % 180
        else:  # floating point hue lives in [0, 360)
            hsv[..., 0] = (hsv[..., 0] + 2 * hue) % 360
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB if self.rgb else cv2.COLOR_HSV2BGR)


class Brightness(PhotometricAugmentor):
    """Add a random value from ``[-delta, delta)`` to every pixel."""

    def __init__(self, delta, clip=True):
        """
        Args:
            delta (float): positive; the largest absolute change.
            clip (bool): clip to [0, 255] also for float images.
        """
        super().__init__()
        if not delta > 0:
            raise ValueError("Brightness: delta must be positive, got {}.".format(delta))
        self._init(locals())

    def _get_augment_params(self, _):
        return self._rand_range(-self.delta, self.delta)

    def _augment(self, img, v):
        old_dtype = img.dtype
        out = img.astype("float32")
        out += v
        return _clip_and_cast(out, old_dtype, self.clip)


class BrightnessScale(PhotometricAugmentor):
    """Multiply every pixel by a random factor from ``range``."""

    def __init__(self, range, clip=True):
        """
        Args:
            range (tuple): ``(low, high)`` of the factor.
            clip (bool): clip to [0, 255] also for float images.
        """
        super().__init__()
        self._init(locals())

    def _get_augment_params(self, _):
        return self._rand_range(*self.range)

    def _augment(self, img, v):
        old_dtype = img.dtype
        out = img.astype("float32")
        out *= v
        return _clip_and_cast(out, old_dtype, self.clip)


class Contrast(PhotometricAugmentor):
    """``x = (x - mean) * factor + mean``, with a random factor."""

    def __init__(self, factor_range, rgb=None, clip=True):
        """
        Args:
            factor_range (tuple): ``(low, high)`` of the contrast factor.
            rgb (bool or None): None uses each channel's own mean; True / False uses the
                mean of the grey image, reading the input as RGB / BGR.
            clip (bool): clip to [0, 255] also for float images.
        """
        super().__init__()
        self._init(locals())

    def _get_augment_params(self, _):
        return self._rand_range(*self.factor_range)

    def _augment(self, img, r):
        old_dtype = img.dtype
        if img.ndim == 3 and self.rgb is not None:
            cv2 = _optional.cv2("imgaug.Contrast(rgb=...)")
            grey = cv2.cvtColor(img.astype("float32"),
                                cv2.COLOR_RGB2GRAY if self.rgb else cv2.COLOR_BGR2GRAY)
            mean = np.mean(grey)
        elif img.ndim == 3:
            mean = np.mean(img, axis=(0, 1), keepdims=True)
        else:
            mean = np.mean(img)
        return _clip_and_cast(img * r + mean * (1 - r), old_dtype, self.clip)


class MeanVarianceNormalize(PhotometricAugmentor):
    """``(x - mean) / max(std, 1 / sqrt(number of values))``; returns float32."""

    def __init__(self, all_channel=True):
        """
        Args:
            all_channel (bool): one mean and std for the whole image (else per channel).
        """
        self._init(locals())

    def _augment(self, img, _):
        img = img.astype("float32")
        axes = None if self.all_channel else (0, 1)
        mean = np.mean(img, axis=axes, keepdims=axes is not None)
        std = np.std(img, axis=axes, keepdims=axes is not None)
        # a float32 floor keeps the result float32 under NumPy 2's casting rules, as documented
        std = np.maximum(std, np.float32(1.0 / np.sqrt(np.prod(img.shape))))
        return (img - mean) / std


class GaussianBlur(PhotometricAugmentor):
    """Gaussian blur with a random odd window size ``2 * size + 1``."""

    def __init__(self, size_range=(0, 3), sigma_range=(0, 0), symmetric=True, max_size=None):
        """
        Args:
            size_range (tuple or int): ``size`` is drawn from ``[low, high)``; an int ``n``
                means ``(0, n)``.
            sigma_range (tuple): range of sigma; 0 lets OpenCV derive it from the size.
            symmetric (bool): the same size and sigma along x and y.
            max_size (int): deprecated spelling of ``size_range=(0, max_size)``.
        """
        _optional.cv2("imgaug.GaussianBlur")
        super().__init__()
        if not isinstance(size_range, (list, tuple)):
            size_range = (0, size_range)
        if not isinstance(sigma_range, (list, tuple)):
            raise ValueError("GaussianBlur: sigma_range must be a (low, high) pair.")
        if max_size is not None:
            logger.warn("GaussianBlur(max_size=) is deprecated; use size_range=(0, max_size).")
            size_range = (0, max_size)
        self._init(locals())

    def _get_augment_params(self, _):
        size_xy = self.rng.randint(self.size_range[0], self.size_range[1], size=(2,)) * 2 + 1
        sigma_xy = self._rand_range(*self.sigma_range, size=(2,))
        if self.symmetric:
            size_xy[1] = size_xy[0]
            sigma_xy[1] = sigma_xy[0]
        return tuple(size_xy), tuple(sigma_xy)

    def _augment(self, img, params):
        cv2 = _optional.cv2("imgaug.GaussianBlur")
        size, sigma = params
        out = cv2.GaussianBlur(img, tuple(int(s) for s in size), sigmaX=float(sigma[0]),
                               sigmaY=float(sigma[1]), borderType=cv2.BORDER_REPLICATE)
        return np.reshape(out, img.shape)


class Gamma(PhotometricAugmentor):
    """Random gamma correction through a 256-entry lookup table (output in the input dtype)."""

    def __init__(self, range=(-0.5, 0.5)):
        """
        Args:
            range (tuple): ``g`` is drawn from it; pixels become ``255 * (x/255) ** (1/(1+g))``.
        """
        _optional.cv2("imgaug.Gamma")
        super().__init__()
        self._init(locals())

    def _get_augment_params(self, _):
        return self._rand_range(*self.range)

    def _augment(self, img, gamma):
        cv2 = _optional.cv2("imgaug.Gamma")
        old_dtype = img.dtype
        lut = ((np.arange(256, dtype="float32") / 255) ** (1. / (1. + gamma)) * 255).astype("uint8")
        as_uint8 = np.clip(img, 0, 255).astype("uint8")
        out = cv2.LUT(as_uint8, lut).astype(old_dtype)
        if as_uint8.ndim == 3 and out.ndim == 2:
            out = out[:, :, np.newaxis]
        return out


class Clip(PhotometricAugmentor):
    """Clip pixel values to ``[min, max]``."""

    def __init__(self, min=0, max=255):
        self._init(locals())

    def _augment(self, img, _):
        return np.clip(img, self.min, self.max)


class Saturation(PhotometricAugmentor):
    """Blend with the grey image by a random factor (as fb.resnet.torch does)."""

    def __init__(self, alpha=0.4, rgb=True, clip=True):
        """
        Args:
            alpha (float): below 1; the factor is drawn from ``1 + [-alpha, alpha)``.
            rgb (bool): the input is RGB (else BGR).
            clip (bool): clip to [0, 255] also for float images.
        """
        _optional.cv2("imgaug.Saturation")
        super().__init__()
        rgb = bool(rgb)
        if not alpha < 1:
            raise ValueError("Saturation: alpha must be below 1, got {}.".format(alpha))
        self._init(locals())

    def _get_augment_params(self, _):
        return 1 + self._rand_range(-self.alpha, self.alpha)

    def _augment(self, img, v):
        cv2 = _optional.cv2("imgaug.Saturation")
        old_dtype = img.dtype
        grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY if self.rgb else cv2.COLOR_BGR2GRAY)
        out = img * v + (grey * (1 - v))[:, :, np.newaxis]
        return _clip_and_cast(out, old_dtype, self.clip)


class Lighting(PhotometricAugmentor):
    """AlexNet-style PCA lighting noise (as fb.resnet.torch does)."""

    def __init__(self, std, eigval, eigvec, clip=True):
        """
        Args:
            std (float): standard deviation of the random weights.
            eigval: the 3 eigenvalues of the pixel covariance.
            eigvec: 3x3 matrix whose columns are the eigenvectors.
            clip (bool): clip to [0, 255] also for float images.

        Raises:
            ValueError: for wrongly shaped ``eigval`` / ``eigvec``.
        """
        super().__init__()
        eigval = np.asarray(eigval, dtype="float32")
        eigvec = np.asarray(eigvec, dtype="float32")
        if eigval.shape != (3,) or eigvec.shape != (3, 3):
            raise ValueError("Lighting needs eigval of shape (3,) and eigvec of shape (3, 3); "
                             "got {} and {}.".format(eigval.shape, eigvec.shape))
        self._init(locals())

    def _get_augment_params(self, img):
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError("Lighting works on 3-channel images, got shape {}.".format(img.shape))
        return (self.rng.randn(3) * self.std).astype("float32")

    def _augment(self, img, v):
        old_dtype = img.dtype
        shift = np.dot(self.eigvec, (v * self.eigval).reshape((3, 1))).reshape((3,))
        return _clip_and_cast(np.add(img, shift), old_dtype, self.clip)


class MinMaxNormalize(PhotometricAugmentor):
    """Rescale linearly so that the values span ``[min, max]``; returns float32."""

    def __init__(self, min=0, max=255, all_channel=True):
        """
        Args:
            min, max (float): the new range.
            all_channel (bool): one min and max for the whole image (else per channel).
        """
        self._init(locals())

    def _augment(self, img, _):
        img = img.astype("float32")
        axes = None if self.all_channel else (0, 1)
        lo = np.min(img, axis=axes, keepdims=axes is not None)
        hi = np.max(img, axis=axes, keepdims=axes is not None)
        return (self.max - self.min) * (img - lo) / (hi - lo) + self.min
