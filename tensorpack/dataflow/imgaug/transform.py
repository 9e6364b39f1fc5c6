"""Deterministic transforms: what an augmentor decided to do to one image.

An augmentor draws its random parameters in ``get_transform(img)`` and returns a
:class:`Transform`; the transform then applies the very same operation to the image
(``apply_image``), to other images of the same size (masks, depth maps) and to point
coordinates (``apply_coords``, an ``Nx2`` float array of ``(x, y)`` rows, where pixel ``i``
covers ``[i, i + 1)``).
"""
import numpy as np

from tensorpack.dataflow import _optional
from tensorpack.dataflow.imgaug._repr import constructor_repr

__all__ = ["Transform", "ResizeTransform", "CropTransform", "FlipTransform",
           "TransformList", "TransformFactory"]

# OpenCV's enum values (stable across OpenCV releases). Spelled out so that building an
# augmentor needs no OpenCV import; they are the defaults of upstream's signatures.
INTER_NEAREST, INTER_LINEAR, INTER_CUBIC, INTER_AREA = 0, 1, 2, 3
BORDER_CONSTANT, BORDER_REPLICATE = 0, 1


def _keep_channel_axis(src, out):
    """OpenCV drops a trailing channel axis of size 1; put it back."""
    if src.ndim == 3 and out.ndim == 2:
        return out[:, :, np.newaxis]
    return out


class BaseTransform:
    """Common root of transforms and of composite transforms (for ``isinstance`` checks)."""

    def _init(self, params=None):
        """Store constructor arguments as attributes (call as ``self._init(locals())``)."""
        for k, v in (params or {}).items():
            if k != "self" and not k.startswith("_"):
                setattr(self, k, v)


class Transform(BaseTransform):
    """A deterministic operation on an image and the data attached to it.

    Subclasses implement ``apply_image(img)`` and, when meaningful, ``apply_coords(coords)``.
    Any other ``apply_<something>`` a subclass does not define raises NotImplementedError.
    Implementations may modify their input in place.
    """

    def __init__(self):
        pass

    def __getattr__(self, name):
        if name.startswith("apply_"):
            def not_implemented(_):
                raise NotImplementedError("{} does not implement {}().".format(
                    type(self).__name__, name))
            return not_implemented
        raise AttributeError("{} has no attribute '{}'".format(type(self).__name__, name))

    def __repr__(self):
        return constructor_repr(self)

    __str__ = __repr__


class ResizeTransform(Transform):
    """Resize an image of size ``(h, w)`` to ``(new_h, new_w)``."""

    def __init__(self, h, w, new_h, new_w, interp):
        """
        Args:
            h, w (int): the input size.
            new_h, new_w (int): the output size.
            interp (int): an OpenCV interpolation flag (``cv2.INTER_*``).
        """
        super().__init__()
        self._init(locals())

    def apply_image(self, img):
        if tuple(img.shape[:2]) != (self.h, self.w):
            raise ValueError("ResizeTransform was made for images of size {}x{}, got an image "
                             "of shape {}.".format(self.h, self.w, img.shape))
        cv2 = _optional.cv2("imgaug resizing")
        out = cv2.resize(img, (int(self.new_w), int(self.new_h)), interpolation=self.interp)
        return _keep_channel_axis(img, out)

    def apply_coords(self, coords):
        coords = np.array(coords, copy=True)
        coords[:, 0] = coords[:, 0] * (self.new_w * 1.0 / self.w)
        coords[:, 1] = coords[:, 1] * (self.new_h * 1.0 / self.h)
        return coords


class CropTransform(Transform):
    """Cut the ``h x w`` window whose top-left pixel is ``(y0, x0)``."""

    def __init__(self, y0, x0, h, w):
        super().__init__()
        self._init(locals())

    def apply_image(self, img):
        return img[self.y0:self.y0 + self.h, self.x0:self.x0 + self.w]

    def apply_coords(self, coords):
        coords = np.array(coords, copy=True)
        coords[:, 0] -= self.x0
        coords[:, 1] -= self.y0
        return coords


class WarpAffineTransform(Transform):
    """Warp with a 2x3 affine matrix (``cv2.warpAffine``) into an image of size ``dsize``."""

    def __init__(self, mat, dsize, interp=INTER_LINEAR, borderMode=BORDER_CONSTANT,
                 borderValue=0):
        """
        Args:
            mat (np.ndarray): 2x3 matrix mapping input (x, y, 1) to output (x, y).
            dsize (tuple): output ``(width, height)``.
            interp, borderMode, borderValue: as in ``cv2.warpAffine``.
        """
        super().__init__()
        self._init(locals())

    def apply_image(self, img):
        cv2 = _optional.cv2("imgaug affine warps")
        out = cv2.warpAffine(img, self.mat, tuple(int(x) for x in self.dsize), flags=self.interp,
                             borderMode=self.borderMode, borderValue=self.borderValue)
        return _keep_channel_axis(img, out)

    def apply_coords(self, coords):
        coords = np.asarray(coords)
        homogeneous = np.concatenate([coords, np.ones((coords.shape[0], 1), dtype="f4")], axis=1)
        return np.dot(homogeneous, np.asarray(self.mat).T)


class FlipTransform(Transform):
    """Mirror an ``h x w`` image left-right (``horiz=True``) or upside down."""

    def __init__(self, h, w, horiz=True):
        super().__init__()
        self._init(locals())

    def apply_image(self, img):
        return img[:, ::-1] if self.horiz else img[::-1]

    def apply_coords(self, coords):
        coords = np.array(coords, copy=True)
        if self.horiz:
            coords[:, 0] = self.w - coords[:, 0]
        else:
            coords[:, 1] = self.h - coords[:, 1]
        return coords


class TransposeTransform(Transform):
    """Swap the two spatial axes."""

    def apply_image(self, img):
        return np.ascontiguousarray(np.swapaxes(img, 0, 1))

    def apply_coords(self, coords):
        return np.asarray(coords)[:, ::-1]


class NoOpTransform(Transform):
    """Every ``apply_*`` returns its input unchanged."""

    def __getattr__(self, name):
        if name.startswith("apply_"):
            return lambda x: x
        raise AttributeError("NoOpTransform has no attribute '{}'".format(name))


class PhotometricTransform(Transform):
    """Change pixel values only: ``apply_image`` runs ``func``; coordinates stay as they are."""

    def __init__(self, func, name=None):
        """
        Args:
            func (callable): image -> image.
            name (str): shown in ``repr``.
        """
        super().__init__()
        self._func = func
        self._name = name

    def apply_image(self, img):
        return self._func(img)

    def apply_coords(self, coords):
        return coords

    def __repr__(self):
        return "imgaug.PhotometricTransform({})".format(self._name or "")

    __str__ = __repr__


class TransformFactory(Transform):
    """A transform made of user functions: ``TransformFactory(apply_image=f, apply_coords=g)``."""

    def __init__(self, name=None, **kwargs):
        """
        Args:
            name (str): shown in ``repr``.
            kwargs: ``apply_<what>=function`` pairs.

        Raises:
            KeyError: for a keyword not starting with ``apply_``.
        """
        super().__init__()
        for key, func in kwargs.items():
            if not key.startswith("apply_"):
                raise KeyError("TransformFactory takes only apply_* functions (and name=), "
                               "got '{}'.".format(key))
            setattr(self, key, func)
        self._name = name

    def __repr__(self):
        return "imgaug.TransformFactory({})".format(self._name or "")

    __str__ = __repr__


class TransformList(BaseTransform):
    """Several transforms applied one after the other; ``+`` concatenates lists."""

    def __init__(self, tfms):
        """
        Args:
            tfms (list[Transform]): applied in order.

        Raises:
            TypeError: if an element is not a transform.
        """
        for t in tfms:
            if not isinstance(t, BaseTransform):
                raise TypeError("TransformList needs Transform objects, got {!r}.".format(t))
        self.tfms = list(tfms)

    def __getattr__(self, name):
        if name.startswith("apply_"):
            def apply_all(x):
                for t in self.tfms:
                    x = getattr(t, name)(x)
                return x
            return apply_all
        raise AttributeError("TransformList has no attribute '{}'".format(name))

    @staticmethod
    def _as_list(other):
        return list(other.tfms) if isinstance(other, TransformList) else [other]

    def __add__(self, other):
        return TransformList(self.tfms + self._as_list(other))

    def __radd__(self, other):
        return TransformList(self._as_list(other) + self.tfms)

    def __iadd__(self, other):
        self.tfms.extend(self._as_list(other))
        return self

    def __repr__(self):
        return "imgaug.TransformList([\n{}])".format(",\n".join("  " + repr(t) for t in self.tfms))

    __str__ = __repr__


class LazyTransform(BaseTransform):
    """A transform decided only when the first image reaches it.

    In a chain, each augmentor must see the output of the previous one to draw its
    parameters (e.g. a crop after a resize), so its transform is created on the first
    ``apply_image``. Other ``apply_*`` methods are valid only after that.
    """

    def __init__(self, get_transform):
        """
        Args:
            get_transform (callable): image -> Transform.
        """
        self.get_transform = get_transform
        self._transform = None

    def apply_image(self, img):
        if self._transform is None:
            self._transform = self.get_transform(img)
        return self._transform.apply_image(img)

    def _delegate(self, name):
        if self._transform is None:
            raise RuntimeError("LazyTransform.{}() was called before apply_image(): the transform "
                               "is decided by the image it is first applied to.".format(name))
        return getattr(self._transform, name)

    def apply_coords(self, coords):
        return self._delegate("apply_coords")(coords)

    def __getattr__(self, name):
        if name.startswith("apply_"):
            return lambda x: self._delegate(name)(x)
        raise AttributeError("LazyTransform has no attribute '{}'".format(name))

    def __repr__(self):
        if self._transform is None:
            return "LazyTransform(get_transform={})".format(self.get_transform)
        return repr(self._transform)

    __str__ = __repr__


def __getattr__(name):
    # upstream's legacy alias, resolved lazily because base.py is imported after this module
    if name == "TransformAugmentorBase":
        from tensorpack.dataflow.imgaug.base import ImageAugmentor
        return ImageAugmentor
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
