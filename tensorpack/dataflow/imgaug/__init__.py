"""Image augmentation: random augmentors and the deterministic transforms they produce.

Importing this package needs neither OpenCV nor SciPy; augmentors that need OpenCV raise
an ImportError naming the ``dataflow`` extra when they are created without it.
"""
from tensorpack.dataflow.imgaug.base import (Augmentor, AugmentorList, ImageAugmentor,
                                             PhotometricAugmentor)
from tensorpack.dataflow.imgaug.convert import ColorSpace, Grayscale, ToFloat32, ToUint8
from tensorpack.dataflow.imgaug.crop import (CenterCrop, GoogleNetRandomCropAndResize,
                                             RandomCrop, RandomCropRandomShape, RandomCutout)
from tensorpack.dataflow.imgaug.external import Albumentations, IAAugmentor
from tensorpack.dataflow.imgaug.geometry import Affine, Rotation, RotationAndCropValid, Shift
from tensorpack.dataflow.imgaug.imgproc import (Brightness, BrightnessScale, Clip, Contrast, Gamma,
                                                GaussianBlur, Hue, Lighting, MeanVarianceNormalize,
                                                MinMaxNormalize, Saturation)
from tensorpack.dataflow.imgaug.meta import (Identity, MapImage, RandomApplyAug, RandomChooseAug,
                                             RandomOrderAug)
from tensorpack.dataflow.imgaug.misc import Flip, RandomResize, Resize, ResizeShortestEdge, Transpose
from tensorpack.dataflow.imgaug.noise import GaussianNoise, JpegNoise, SaltPepperNoise
from tensorpack.dataflow.imgaug.paste import (BackgroundFiller, CenterPaste,
                                              ConstantBackgroundFiller, RandomPaste)
from tensorpack.dataflow.imgaug.transform import (CropTransform, FlipTransform, ResizeTransform,
                                                  Transform, TransformFactory, TransformList)

__all__ = [
    "ImageAugmentor", "Augmentor", "AugmentorList", "PhotometricAugmentor",
    "Transform", "ResizeTransform", "CropTransform", "FlipTransform", "TransformList",
    "TransformFactory",
    "Flip", "Resize", "RandomResize", "ResizeShortestEdge", "Transpose",
    "RandomCrop", "CenterCrop", "RandomCropRandomShape", "GoogleNetRandomCropAndResize",
    "RandomCutout",
    "Shift", "Rotation", "RotationAndCropValid", "Affine",
    "Hue", "Brightness", "BrightnessScale", "Contrast", "MeanVarianceNormalize", "GaussianBlur",
    "Gamma", "Clip", "Saturation", "Lighting", "MinMaxNormalize",
    "ColorSpace", "Grayscale", "ToUint8", "ToFloat32",
    "JpegNoise", "GaussianNoise", "SaltPepperNoise",
    "RandomChooseAug", "MapImage", "Identity", "RandomApplyAug", "RandomOrderAug",
    "CenterPaste", "BackgroundFiller", "ConstantBackgroundFiller", "RandomPaste",
    "IAAugmentor", "Albumentations",
]
