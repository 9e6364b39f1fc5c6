"""Augmentors made of other augmentors or of plain functions."""
from tensorpack.dataflow.imgaug.base import ImageAugmentor
from tensorpack.dataflow.imgaug.transform import NoOpTransform, TransformFactory, TransformList

__all__ = ["RandomChooseAug", "MapImage", "Identity", "RandomApplyAug", "RandomOrderAug"]


class Identity(ImageAugmentor):
    """Leave everything unchanged."""

    def get_transform(self, img):
        return NoOpTransform()


class RandomApplyAug(ImageAugmentor):
    """Apply ``aug`` with probability ``prob``, otherwise do nothing."""

    def __init__(self, aug, prob):
        """
        Args:
            aug (ImageAugmentor): the augmentor.
            prob (float): probability of applying it.
        """
        self._init(locals())
        super().__init__()

    def reset_state(self):
        super().reset_state()
        self.aug.reset_state()

    def get_transform(self, img):
        if self.rng.rand() < self.prob:
            return self.aug.get_transform(img)
        return NoOpTransform()


class _ChoosesAmongAugmentors(ImageAugmentor):
    """Reseeds the augmentors in ``self.aug_lists`` along with itself."""

    def reset_state(self):
        super().reset_state()
        for aug in self.aug_lists:
            aug.reset_state()


class RandomChooseAug(_ChoosesAmongAugmentors):
    """Apply one augmentor picked at random (uniformly, or with given probabilities)."""

    def __init__(self, aug_lists):
        """
        Args:
            aug_lists (list): augmentors, or ``(augmentor, probability)`` pairs.
        """
        if isinstance(aug_lists[0], (tuple, list)):
            prob = [p for _, p in aug_lists]
            aug_lists = [a for a, _ in aug_lists]
        else:
            prob = [1.0 / len(aug_lists)] * len(aug_lists)
        self._init(locals())
        super().__init__()

    def get_transform(self, img):
        chosen = self.rng.choice(len(self.aug_lists), p=self.prob)
        return self.aug_lists[chosen].get_transform(img)


class RandomOrderAug(_ChoosesAmongAugmentors):
    """Apply all augmentors in a random order.

    Every augmentor decides its transform on the input image, so they should not change
    the image's shape.
    """

    def __init__(self, aug_lists):
        """
        Args:
            aug_lists (list[ImageAugmentor]): the augmentors.
        """
        self._init(locals())
        super().__init__()

    def get_transform(self, img):
        order = self.rng.permutation(len(self.aug_lists))
        tfms = [aug.get_transform(img) for aug in self.aug_lists]
        return TransformList([tfms[k] for k in order])


class MapImage(ImageAugmentor):
    """Apply a plain function to the image (and optionally another to the coordinates)."""

    def __init__(self, func, coord_func=None):
        """
        Args:
            func (callable): image -> image.
            coord_func (callable): ``Nx2`` array of ``(x, y)`` -> same. Without it,
                applying the transform to coordinates raises NotImplementedError.
        """
        super().__init__()
        self.func = func
        self.coord_func = coord_func

    def get_transform(self, img):
        if self.coord_func:
            return TransformFactory(name="MapImage", apply_image=self.func,
                                    apply_coords=self.coord_func)
        return TransformFactory(name="MapImage", apply_image=self.func)
