"""tensorpack.dataflow.imgaug: shapes, dtypes, determinism, exact geometric results,
coordinates that follow the image, and old-style user augmentors."""
import os
import subprocess
import sys

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from tensorpack.dataflow import imgaug  # noqa: E402
from tensorpack.dataflow.imgaug.transform import TransformList  # noqa: E402
from tensorpack.utils import utils as tp_utils  # noqa: E402

EIG = dict(eigval=[0.2175, 0.0188, 0.0045],
           eigvec=[[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140],
                   [-0.5836, -0.6948, 0.4203]])

# name -> (factory, expected output shape for a 40x50x3 input or None for "same")
AUGMENTORS = {
    "Flip": (lambda: imgaug.Flip(horiz=True), None),
    "FlipVert": (lambda: imgaug.Flip(vert=True), None),
    "Resize": (lambda: imgaug.Resize((20, 30)), (20, 30, 3)),
    "ResizeShortestEdge": (lambda: imgaug.ResizeShortestEdge(20), (20, 25, 3)),
    "RandomResize": (lambda: imgaug.RandomResize((0.8, 1.2), (0.8, 1.2)), "any"),
    "RandomCrop": (lambda: imgaug.RandomCrop((30, 30)), (30, 30, 3)),
    "CenterCrop": (lambda: imgaug.CenterCrop(30), (30, 30, 3)),
    "RandomCropRandomShape": (lambda: imgaug.RandomCropRandomShape(10, 12), "any"),
    "GoogleNetRandomCropAndResize": (
        lambda: imgaug.GoogleNetRandomCropAndResize(target_shape=16), (16, 16, 3)),
    "Shift": (lambda: imgaug.Shift(0.2, 0.2), None),
    "Rotation": (lambda: imgaug.Rotation(30), None),
    "RotationAndCropValid": (lambda: imgaug.RotationAndCropValid(20), "any"),
    "Affine": (lambda: imgaug.Affine(scale=(0.8, 1.2), translate_frac=(0.1, 0.1),
                                     rotate_max_deg=20, shear=10), None),
    "Transpose": (lambda: imgaug.Transpose(prob=1.0), (50, 40, 3)),
    "Hue": (lambda: imgaug.Hue((-20, 20)), None),
    "Brightness": (lambda: imgaug.Brightness(63), None),
    "BrightnessScale": (lambda: imgaug.BrightnessScale((0.6, 1.4)), None),
    "Contrast": (lambda: imgaug.Contrast((0.2, 1.8)), None),
    "ContrastRGB": (lambda: imgaug.Contrast((0.2, 1.8), rgb=True), None),
    "Saturation": (lambda: imgaug.Saturation(0.4), None),
    "Lighting": (lambda: imgaug.Lighting(0.1, **EIG), None),
    "GaussianBlur": (lambda: imgaug.GaussianBlur(size_range=(0, 4), sigma_range=(0.5, 2)), None),
    "Gamma": (lambda: imgaug.Gamma(), None),
    "Clip": (lambda: imgaug.Clip(20, 200), None),
    "GaussianNoise": (lambda: imgaug.GaussianNoise(5), None),
    "SaltPepperNoise": (lambda: imgaug.SaltPepperNoise(), None),
    "JpegNoise": (lambda: imgaug.JpegNoise(), None),
    "Grayscale": (lambda: imgaug.Grayscale(), (40, 50, 1)),
    "GrayscaleKeepShape": (lambda: imgaug.Grayscale(keepshape=True), None),
    "ColorSpace": (lambda: imgaug.ColorSpace(cv2.COLOR_BGR2HSV), None),
    "RandomCutout": (lambda: imgaug.RandomCutout(8, 10), None),
    "CenterPaste": (lambda: imgaug.CenterPaste((50, 60)), (50, 60, 3)),
    "RandomPaste": (lambda: imgaug.RandomPaste((50, 60)), (50, 60, 3)),
    "RandomApplyAug": (lambda: imgaug.RandomApplyAug(imgaug.Brightness(30), 0.5), None),
    "RandomChooseAug": (lambda: imgaug.RandomChooseAug(
        [(imgaug.Flip(horiz=True), 0.3), (imgaug.Brightness(20), 0.7)]), None),
    "RandomOrderAug": (lambda: imgaug.RandomOrderAug(
        [imgaug.Brightness(30), imgaug.Contrast((0.5, 1.5)), imgaug.Saturation(0.3)]), None),
    "AugmentorList": (lambda: imgaug.AugmentorList(
        [imgaug.ResizeShortestEdge(36), imgaug.RandomCrop(32), imgaug.Flip(horiz=True)]),
        (32, 32, 3)),
    "Identity": (lambda: imgaug.Identity(), None),
    "MapImage": (lambda: imgaug.MapImage(lambda x: x[::2]), (20, 50, 3)),
}
FLOAT_OUTPUT = {"MeanVarianceNormalize", "MinMaxNormalize", "ToFloat32"}


@pytest.fixture
def fixed_seed():
    old = tp_utils._RNG_SEED
    tp_utils.fix_rng_seed(123)
    yield
    tp_utils._RNG_SEED = old


def _image(dtype="uint8", shape=(40, 50, 3), seed=0):
    rs = np.random.RandomState(seed)
    img = rs.randint(0, 256, size=shape)
    return img.astype(dtype)


@pytest.mark.parametrize("name", sorted(AUGMENTORS))
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_shape_dtype_and_determinism(name, dtype, fixed_seed):
    make, shape = AUGMENTORS[name]
    img = _image(dtype)
    if name in ("Hue", "JpegNoise", "Gamma") and dtype == "float32":
        img = img.astype("uint8")  # these work on 8-bit images as upstream's do
    outs = []
    for _ in range(2):
        aug = make()
        aug.reset_state()
        outs.append([aug.augment(img.copy()) for _ in range(3)])
    for a, b in zip(*outs):
        assert a.dtype == img.dtype
        np.testing.assert_array_equal(a, b)
        if shape is None:
            assert a.shape == img.shape
        elif shape != "any":
            assert a.shape == shape
        else:
            assert a.ndim == 3 and a.shape[2] == 3


@pytest.mark.parametrize("aug", [imgaug.MeanVarianceNormalize(), imgaug.ToFloat32(),
                                 imgaug.MinMaxNormalize(all_channel=False)])
def test_float_outputs(aug):
    out = aug.augment(_image())
    assert out.dtype == np.float32 and out.shape == (40, 50, 3)


def test_normalizers_exact():
    img = np.array([[1, 3], [5, 7]], dtype="uint8")
    out = imgaug.MeanVarianceNormalize().augment(img)
    np.testing.assert_allclose(out, (img - 4.0) / np.std([1, 3, 5, 7]), rtol=1e-6)
    out = imgaug.MinMaxNormalize(0, 1).augment(img)
    np.testing.assert_allclose(out, [[0, 1 / 3.], [2 / 3., 1]], rtol=1e-6)
    assert imgaug.ToUint8().augment(np.array([[-3.0, 300.0]])).tolist() == [[0, 255]]
    assert imgaug.Clip(2, 6).augment(img).tolist() == [[2, 3], [5, 6]]


def test_seeded_draws_follow_the_rng():
    img = _image()
    aug = imgaug.RandomCrop((30, 20))
    aug.rng = np.random.RandomState(7)
    ref = np.random.RandomState(7)
    y0, x0 = ref.randint(40 - 30 + 1), ref.randint(50 - 20 + 1)
    np.testing.assert_array_equal(aug.augment(img), img[y0:y0 + 30, x0:x0 + 20])

    bright = imgaug.Brightness(50)
    bright.rng = np.random.RandomState(3)
    delta = np.float32(np.random.RandomState(3).uniform(-50, 50))
    expected = np.clip(img.astype("float32") + delta, 0, 255).astype("uint8")
    np.testing.assert_array_equal(bright.augment(img), expected)


def test_reset_state_reseeds():
    aug = imgaug.RandomCrop(10)
    aug.reset_state()
    first = aug.rng.randint(1 << 30, size=4)
    aug.reset_state()
    assert not np.array_equal(first, aug.rng.randint(1 << 30, size=4))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_gets_a_new_stream():
    aug = imgaug.Brightness(10)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report the next draw, exit at once
        try:
            os.write(w, str(aug.rng.randint(1 << 30)).encode())
        finally:
            os._exit(0)
    os.close(w)
    child_draw = int(os.read(r, 64).decode())
    os.close(r)
    os.waitpid(pid, 0)
    assert child_draw != aug.rng.randint(1 << 30)


# ---- exact results of the geometric augmentors on small inputs ----

def test_flip_exact():
    img = np.arange(6, dtype="uint8").reshape(2, 3)
    tfm = imgaug.Flip(horiz=True, prob=1.0).get_transform(img)
    assert tfm.apply_image(img).tolist() == [[2, 1, 0], [5, 4, 3]]
    np.testing.assert_allclose(tfm.apply_coords(np.array([[0.5, 1.0]], "f4")), [[2.5, 1.0]])
    tfm = imgaug.Flip(vert=True, prob=1.0).get_transform(img)
    assert tfm.apply_image(img).tolist() == [[3, 4, 5], [0, 1, 2]]
    assert imgaug.Flip(horiz=True, prob=0.0).augment(img).tolist() == img.tolist()
    with pytest.raises(ValueError):
        imgaug.Flip()


def test_center_crop_and_transpose_exact():
    img = np.arange(30).reshape(5, 6).astype("float32")
    np.testing.assert_array_equal(imgaug.CenterCrop((3, 4)).augment(img), img[1:4, 1:5])
    np.testing.assert_array_equal(imgaug.Transpose(prob=1.0).augment(img), img.T)
    with pytest.raises(ValueError, match="cannot crop"):
        imgaug.CenterCrop(7).augment(img)


def test_resize_exact():
    img = np.array([[0, 10], [20, 30]], dtype="uint8")
    out = imgaug.Resize((4, 4), interp=cv2.INTER_NEAREST).augment(img)
    assert out.tolist() == [[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30], [20, 20, 30, 30]]
    out = imgaug.Resize(4, interp=cv2.INTER_NEAREST).augment(img[:, :, None])
    assert out.shape == (4, 4, 1)
    rse = imgaug.ResizeShortestEdge(15).augment(np.zeros((30, 60, 3), "uint8"))
    assert rse.shape == (15, 30, 3)


@pytest.mark.parametrize("seed", range(4))
def test_rotation_by_right_angles_is_exact(seed):
    img = np.arange(16, dtype="uint8").reshape(4, 4)
    aug = imgaug.Rotation(180, center_range=(0.5, 0.5), step_deg=90, interp=cv2.INTER_NEAREST)
    aug.rng = np.random.RandomState(seed)
    tfm = aug.get_transform(img)
    quarter_turns = int(round(np.degrees(np.arctan2(tfm.mat[0, 1], tfm.mat[0, 0])) / 90)) % 4
    np.testing.assert_array_equal(tfm.apply_image(img), np.rot90(img, quarter_turns))


def test_shift_exact():
    img = np.arange(20, dtype="uint8").reshape(4, 5)
    aug = imgaug.Shift(horiz_frac=0.5, border=cv2.BORDER_CONSTANT)
    aug.rng = np.random.RandomState(0)
    tfm = aug.get_transform(img)
    dx = int(tfm.mat[0, 2])
    expected = np.zeros_like(img)
    if dx >= 0:
        expected[:, dx:] = img[:, :5 - dx]
    else:
        expected[:, :5 + dx] = img[:, -dx:]
    np.testing.assert_array_equal(tfm.apply_image(img), expected)


def test_largest_rotated_rect():
    f = imgaug.RotationAndCropValid.largest_rotated_rect
    assert f(100, 50, 0) == (100, 50)
    assert f(100, 50, 90) == (50, 100)
    w, h = f(100, 100, 45)
    assert w == h == 71  # the inscribed square of a square turned by 45 degrees


# ---- coordinates follow the image ----

GEOMETRIC = ["Flip", "FlipVert", "Resize", "ResizeShortestEdge", "RandomResize", "RandomCrop",
             "CenterCrop", "RandomCropRandomShape", "GoogleNetRandomCropAndResize", "Shift",
             "Rotation", "RotationAndCropValid", "Affine", "Transpose", "AugmentorList"]


@pytest.mark.parametrize("name", GEOMETRIC)
@pytest.mark.parametrize("seed", range(3))
def test_coords_follow_the_image(name, seed):
    # a bright 3x3 blob on black: its centroid after the transform must be where the
    # transformed coordinate of its centre lands
    img = np.zeros((40, 50, 3), "float32")
    cy, cx = 20, 24
    img[cy - 1:cy + 2, cx - 1:cx + 2] = 255
    aug = AUGMENTORS[name][0]()
    aug.rng = np.random.RandomState(seed)
    for sub in getattr(aug, "augmentors", []):
        sub.rng = np.random.RandomState(seed + 1)
    tfm = aug.get_transform(img)
    out = tfm.apply_image(img.copy())
    coords = tfm.apply_coords(np.array([[cx + 0.5, cy + 0.5]], "float32"))
    weights = out[..., 0]
    if weights.sum() < 255:  # the blob was cropped away; nothing to compare
        return
    ys, xs = np.mgrid[:out.shape[0], :out.shape[1]]
    centroid = np.array([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum() + 0.5
    np.testing.assert_allclose(centroid, coords[0], atol=1.0)


def test_transform_list_and_factory():
    img = np.arange(12, dtype="uint8").reshape(3, 4)
    flip = imgaug.FlipTransform(3, 4)
    crop = imgaug.CropTransform(1, 1, 2, 2)
    both = TransformList([flip]) + crop
    np.testing.assert_array_equal(both.apply_image(img), img[:, ::-1][1:3, 1:3])
    fac = imgaug.TransformFactory(name="x2", apply_image=lambda x: x * 2)
    assert fac.apply_image(img).tolist() == (img * 2).tolist()
    with pytest.raises(NotImplementedError):
        fac.apply_coords(np.zeros((1, 2), "f4"))
    with pytest.raises(KeyError):
        imgaug.TransformFactory(image=lambda x: x)
    assert "Flip" in repr(imgaug.Flip(horiz=True)) and "horiz=True" in repr(imgaug.Flip(horiz=True))


def test_photometric_keeps_coords():
    tfm = imgaug.Brightness(10).get_transform(_image())
    coords = np.array([[1.5, 2.5]], "float32")
    np.testing.assert_array_equal(tfm.apply_coords(coords), coords)


# ---- augmentors written for older tensorpack ----

class OldStyleShift(imgaug.ImageAugmentor):
    """Written against the pre-0.10 interface, never calls ImageAugmentor.__init__."""

    def __init__(self, max_shift):
        self._init(locals())

    def _get_augment_params(self, img):
        return self.rng.randint(0, self.max_shift + 1)

    def _augment(self, img, shift):
        return np.roll(img, shift, axis=1)

    def _augment_coords(self, coords, shift):
        coords = coords.copy()
        coords[:, 0] += shift
        return coords


class OldStylePixels(imgaug.ImageAugmentor):
    def __init__(self):
        super().__init__()

    def _augment(self, img, _):
        return img + 1


def test_old_style_subclass():
    img = _image()
    aug = OldStyleShift(5)
    aug.rng = np.random.RandomState(1)
    shift = np.random.RandomState(1).randint(0, 6)
    np.testing.assert_array_equal(aug.augment(img), np.roll(img, shift, axis=1))

    out, params = aug.augment_return_params(img)
    np.testing.assert_array_equal(aug.augment_with_params(img, params), out)
    moved = aug.augment_coords(np.array([[1.0, 2.0]], "f4"), params)
    assert moved[0, 1] == 2.0 and moved[0, 0] - 1.0 in range(6)

    chain = imgaug.AugmentorList([OldStylePixels(), aug, imgaug.CenterCrop(30)])
    chain.reset_state()
    assert chain.augment(img).shape == (30, 30, 3)
    # no _augment_coords: coordinates pass through, as they did before
    tfm = OldStylePixels().get_transform(img)
    np.testing.assert_array_equal(tfm.apply_coords(np.ones((2, 2), "f4")), np.ones((2, 2)))


class UserPhotometric(imgaug.PhotometricAugmentor):
    def __init__(self, amount):
        super().__init__()
        self._init(locals())

    def _get_augment_params(self, img):
        return self.rng.uniform(0, self.amount)

    def _augment(self, img, v):
        return img * 0 + v


def test_user_photometric_subclass():
    aug = UserPhotometric(3.0)
    out = aug.augment(np.zeros((2, 2), "float32"))
    assert 0 <= out[0, 0] < 3.0 and np.all(out == out[0, 0])


def test_import_is_lazy_and_missing_opencv_is_explained():
    code = ("import sys\n"
            "import tensorpack.dataflow\n"
            "assert 'cv2' not in sys.modules and 'scipy' not in sys.modules\n"
            "assert 'tensorpack.dataflow.imgaug' not in sys.modules\n"
            "sys.modules['cv2'] = None\n"
            "from tensorpack.dataflow import imgaug, dataset\n"
            "import tensorpack.dataflow.image\n"
            "assert 'tensorflow' not in sys.modules and 'scipy' not in sys.modules\n"
            "import numpy as np\n"
            "assert imgaug.Flip(horiz=True, prob=1.0).augment(np.eye(2)).tolist() == "
            "[[0, 1], [1, 0]]\n"
            "try:\n"
            "    imgaug.Resize(3)\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "tensorpack[dataflow]" in out.stdout and "opencv-python-headless" in out.stdout


def test_one_transform_applies_identically_twice():
    # a chain's transform is decided once; applying it to a second copy (e.g. a mask)
    # repeats exactly the same operations, including old-style and noise augmentors
    chain = imgaug.AugmentorList([OldStyleShift(3), imgaug.Contrast((0.8, 1.2)),
                                  imgaug.Flip(horiz=True), imgaug.Resize((30, 30)),
                                  imgaug.SaltPepperNoise()])
    chain.reset_state()
    img = np.random.RandomState(0).rand(20, 20).astype("float32")
    tfm = chain.get_transform(img)
    first = tfm.apply_image(img.copy())
    assert "LazyTransform" not in repr(tfm)  # all decided by the first application
    np.testing.assert_array_equal(tfm.apply_image(img.copy()), first)
    assert first.shape == (30, 30)
    out = tfm.apply_coords(np.array([[0.0, 0.0], [10.0, 12.0]], "float32"))
    assert out.shape == (2, 2)
    lazy = chain.get_transform(img)
    with pytest.raises(RuntimeError, match="before apply_image"):
        lazy.apply_coords(np.zeros((1, 2), "float32"))


def test_legacy_names():
    from tensorpack.dataflow.imgaug import transform
    assert transform.TransformAugmentorBase is imgaug.ImageAugmentor
    assert imgaug.Augmentor is imgaug.ImageAugmentor
