"""Augmentor base classes.

An :class:`ImageAugmentor` is a random policy: ``get_transform(img)`` draws parameters
from ``self.rng`` and returns a deterministic :class:`~.transform.Transform`, which can be
applied to the image and to everything attached to it (masks, keypoints).

Subclasses written for older tensorpack releases, which override ``_get_augment_params``
and ``_augment`` (and optionally ``_augment_coords``) instead of ``get_transform``, keep
working: the default ``get_transform`` wraps those methods into a transform.
"""
import os
import threading
import weakref

from tensorpack.dataflow.image import check_dtype
from tensorpack.dataflow.imgaug._repr import constructor_repr
from tensorpack.utils import logger
from tensorpack.utils.utils import get_rng

__all__ = ["Augmentor", "ImageAugmentor", "AugmentorList", "PhotometricAugmentor"]


class ImagePlaceholder:
    """Stands for an image when only its shape is needed to decide a transform."""

    def __init__(self, shape):
        self.shape = tuple(shape)


# Reseed every live augmentor in a forked child, so that worker processes do not all
# draw the same random numbers (upstream does the same with os.register_at_fork).
_LIVE_AUGMENTORS = {}
_LIVE_LOCK = threading.Lock()


def _track(aug):
    key = id(aug)

    def forget(_, key=key):
        _LIVE_AUGMENTORS.pop(key, None)

    with _LIVE_LOCK:
        _LIVE_AUGMENTORS[key] = weakref.ref(aug, forget)


def _reseed_after_fork():
    for ref in list(_LIVE_AUGMENTORS.values()):
        aug = ref()
        if aug is not None:
            try:
                aug.reset_state()
            except Exception:  # a broken user reset_state must not kill the child at fork
                pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed_after_fork)

_warned_legacy = set()


class ImageAugmentor:
    """Base class of all augmentors.

    Images are ``np.ndarray`` of shape ``(h, w)`` or ``(h, w, c)``: uint8 in [0, 255] or
    floating point in [0, 1] or [0, 255].

    Attributes:
        rng (np.random.RandomState): the augmentor's own random state, reseeded by
            :meth:`reset_state` (the augmentation dataflows call it in the process that
            iterates them; after ``fork`` it is called automatically).
    """

    def __init__(self):
        self.reset_state()
        _track(self)

    def __getattr__(self, name):
        # Subclasses that never call ImageAugmentor.__init__ still get an rng on first use.
        if name == "rng":
            self.rng = get_rng(self)
            return self.rng
        raise AttributeError("{} has no attribute '{}'".format(type(self).__name__, name))

    def _init(self, params=None):
        """Store constructor arguments as attributes (call as ``self._init(locals())``)."""
        for k, v in (params or {}).items():
            if k != "self" and not k.startswith("_"):
                setattr(self, k, v)

    def reset_state(self):
        """Reseed ``self.rng``. Call it in the process that uses the augmentor."""
        self.rng = get_rng(self)

    def _rand_range(self, low=1.0, high=None, size=None):
        """A float32 uniform sample in ``[low, high)`` (``[0, low)`` if ``high`` is None)."""
        if high is None:
            low, high = 0, low
        return self.rng.uniform(low, high, [] if size is None else size).astype("float32")

    def __repr__(self):
        return constructor_repr(self)

    __str__ = __repr__

    def get_transform(self, img):
        """Draw this augmentor's random parameters for ``img`` and return the transform.

        Subclasses override this. The default adapts the older interface
        (``_get_augment_params`` / ``_augment`` / ``_augment_coords``).

        Args:
            img (np.ndarray): the image to be augmented.

        Returns:
            Transform: deterministic; apply it to the image and associated data.
        """
        from tensorpack.dataflow.imgaug.transform import BaseTransform, TransformFactory
        cls = type(self)
        if cls not in _warned_legacy:
            _warned_legacy.add(cls)
            logger.warn("{} uses the old augmentor interface (_augment / _get_augment_params); "
                        "it works, but implementing get_transform() is preferred.".format(
                            cls.__name__))
        params = self._legacy_params(img)
        if isinstance(params, BaseTransform):  # some old augmentors returned a transform
            return params
        return TransformFactory(name="legacy " + cls.__name__,
                                apply_image=lambda im: self._augment(im, params),
                                apply_coords=lambda coords: self._legacy_coords(coords, params))

    def _legacy_params(self, img):
        getter = getattr(self, "get_augment_params", None) or \
            getattr(self, "_get_augment_params", None)
        return getter(img) if getter is not None else None

    def _legacy_coords(self, coords, params):
        own = getattr(self, "_augment_coords", None)
        if own is not None:
            return own(coords, params)
        if type(self).augment_coords is not ImageAugmentor.augment_coords:
            return self.augment_coords(coords, params)
        return coords  # the old default: geometry unchanged

    def augment(self, img):
        """Augment one image (when nothing else needs the same transform).

        Args:
            img (np.ndarray): the image.

        Returns:
            np.ndarray: the augmented image.
        """
        check_dtype(img)
        return self.get_transform(img).apply_image(img)

    # The pre-0.10 interface, still used by old scripts.
    def augment_return_params(self, d):
        """Augment ``d``; return ``(augmented, transform)``. Prefer :meth:`get_transform`."""
        tfm = self.get_transform(d)
        return tfm.apply_image(d), tfm

    def augment_with_params(self, d, param):
        """Apply a transform returned by :meth:`augment_return_params` to ``d``."""
        return param.apply_image(d)

    def augment_coords(self, coords, param):
        """Apply a transform returned by :meth:`augment_return_params` to coordinates."""
        return param.apply_coords(coords)


Augmentor = ImageAugmentor  # upstream's older name


class PhotometricAugmentor(ImageAugmentor):
    """An augmentor that changes pixel values but never geometry.

    Subclasses implement ``_get_augment_params(img)`` (draw the random parameters; the
    default draws nothing) and ``_augment(img, params)``. Coordinates pass through unchanged.
    """

    def get_transform(self, img):
        from tensorpack.dataflow.imgaug.transform import PhotometricTransform
        params = self._get_augment_params(img)
        return PhotometricTransform(lambda im: self._augment(im, params), name=repr(self))

    def _get_augment_params(self, img):
        return None

    def _augment(self, img, params):
        raise NotImplementedError("{} must implement _augment(img, params).".format(
            type(self).__name__))


class AugmentorList(ImageAugmentor):
    """Apply augmentors in sequence; each one sees the previous one's output."""

    def __init__(self, augmentors):
        """
        Args:
            augmentors (list[ImageAugmentor]): applied in order.

        Raises:
            TypeError: if ``augmentors`` is not a list or tuple.
        """
        if not isinstance(augmentors, (list, tuple)):
            raise TypeError("AugmentorList needs a list of augmentors, got {!r}.".format(
                augmentors))
        self.augmentors = list(augmentors)
        super().__init__()

    def reset_state(self):
        super().reset_state()
        for aug in self.augmentors:
            aug.reset_state()

    def get_transform(self, img):
        from tensorpack.dataflow.imgaug.transform import LazyTransform, TransformList
        check_dtype(img)
        if img.ndim not in (2, 3):
            raise ValueError("Images must have 2 or 3 dimensions (h, w[, c]); got shape {}.".format(
                img.shape))
        tfms = []
        for i, aug in enumerate(self.augmentors):
            # Later augmentors decide on the image as the earlier ones left it.
            tfm = aug.get_transform(img) if i == 0 else LazyTransform(aug.get_transform)
            tfms.extend(tfm.tfms if isinstance(tfm, TransformList) else [tfm])
        return TransformList(tfms)

    def __repr__(self):
        return "imgaug.AugmentorList([\n{}])".format(
            ",\n".join("  " + repr(a) for a in self.augmentors))

    __str__ = __repr__
