"""Image dataflows: AugmentImageComponent(s), AugmentImageCoordinates, ImageFromFile."""
import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from tensorpack.dataflow import (AugmentImageComponent, AugmentImageComponents,  # noqa: E402
                                 AugmentImageCoordinates, DataFromList, ImageFromFile, imgaug)


def _images(n=4, shape=(12, 16, 3)):
    rs = np.random.RandomState(0)
    return [rs.randint(0, 256, size=shape).astype("uint8") for _ in range(n)]


def test_augment_component_leaves_source_untouched():
    imgs = _images()
    originals = [im.copy() for im in imgs]
    ds = DataFromList([[im, i] for i, im in enumerate(imgs)], shuffle=False)
    ds = AugmentImageComponent(ds, [imgaug.RandomCutout(4, 4, fill=0), imgaug.CenterCrop(10)])
    ds.reset_state()
    out = list(ds)
    assert len(out) == len(imgs) == len(ds)
    for (img, label), i in zip(out, range(len(imgs))):
        assert img.shape == (10, 10, 3) and img.dtype == np.uint8 and label == i
    for im, orig in zip(imgs, originals):  # cutout works in place, but on a copy
        np.testing.assert_array_equal(im, orig)


def test_augment_component_dict_index_and_catch_exceptions():
    ds = DataFromList([{"img": np.zeros((5, 5), "uint8")}, {"img": np.zeros((20, 20), "uint8")}],
                      shuffle=False)
    strict = AugmentImageComponent(ds, [imgaug.CenterCrop(8)], index="img")
    strict.reset_state()
    with pytest.raises(ValueError, match="cannot crop"):
        list(strict)
    lenient = AugmentImageComponent(ds, [imgaug.CenterCrop(8)], index="img",
                                    catch_exceptions=True)
    lenient.reset_state()
    out = list(lenient)
    assert len(out) == 1 and out[0]["img"].shape == (8, 8)


def test_augment_coordinates_follow_flip():
    img = np.zeros((10, 20, 3), "uint8")
    coords = np.array([[1.0, 2.0], [19.0, 9.5]], "float32")
    ds = DataFromList([[img, coords]], shuffle=False)
    ds = AugmentImageCoordinates(ds, [imgaug.Flip(horiz=True, prob=1.0)])
    ds.reset_state()
    (out_img, out_coords), = list(ds)
    np.testing.assert_allclose(out_coords, [[19.0, 2.0], [1.0, 9.5]])
    np.testing.assert_array_equal(coords, [[1.0, 2.0], [19.0, 9.5]])  # source untouched
    bad = AugmentImageCoordinates(DataFromList([[img, np.zeros((2, 3), "f4")]], shuffle=False),
                                  [imgaug.Flip(horiz=True)])
    bad.reset_state()
    with pytest.raises(ValueError, match="Nx2"):
        list(bad)


def test_augment_components_share_one_transform():
    imgs = _images(6, (20, 24, 3))
    masks = [im[:, :, 0].copy() for im in imgs]
    coords = np.array([[5.5, 6.5]], "float32")
    ds = DataFromList([[im, m, coords] for im, m in zip(imgs, masks)], shuffle=False)
    ds = AugmentImageComponents(ds, [imgaug.RandomCrop(16), imgaug.Flip(horiz=True)],
                                index=(0, 1), coords_index=(2,))
    ds.reset_state()
    for img, mask, c in ds:
        # the mask went through exactly the image's crop and flip
        assert img.shape == (16, 16, 3) and mask.shape == (16, 16)
        np.testing.assert_array_equal(img[:, :, 0], mask)
        assert c.shape == (1, 2)


def test_image_from_file(tmp_path):
    bgr = np.zeros((6, 8, 3), "uint8")
    bgr[..., 0] = 200  # blue in OpenCV's BGR order
    paths = []
    for i in range(3):
        p = str(tmp_path / "im{}.png".format(i))
        cv2.imwrite(p, bgr)
        paths.append(p)
    ds = ImageFromFile(paths)
    ds.reset_state()
    out = [dp[0] for dp in ds]
    assert len(out) == 3 == len(ds)
    assert out[0].shape == (6, 8, 3) and out[0][0, 0].tolist() == [0, 0, 200]  # RGB order
    grey = ImageFromFile(paths, channel=1, resize=(3, 4))
    grey.reset_state()
    assert next(iter(grey))[0].shape == (3, 4, 1)
    with pytest.raises(ValueError):
        ImageFromFile([])
    broken = ImageFromFile([str(tmp_path / "missing.png")])
    broken.reset_state()
    with pytest.raises(ValueError, match="missing.png"):
        list(broken)
