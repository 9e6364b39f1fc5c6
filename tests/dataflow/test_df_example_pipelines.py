"""The data pipelines of upstream's example scripts (cifar-convnet, cifar10-resnet,
svhn-digit-convnet, the ImageNet fb.resnet.torch augmentation), built the way those scripts
build them, on small local files of the published formats. Parallel runners are left out:
they are tested with the parallel dataflows."""
import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
sio = pytest.importorskip("scipy.io")

from df_fake_data import write_cifar10, write_imagenet  # noqa: E402
from tensorpack.dataflow import (AugmentImageComponent, BatchData, RandomMixData,  # noqa: E402
                                 dataset, imgaug)


@pytest.fixture(autouse=True)
def local_data(monkeypatch, tmp_path):
    monkeypatch.setenv("TENSORPACK_NO_DOWNLOAD", "1")
    monkeypatch.setenv("TENSORPACK_DATASET", str(tmp_path))
    return tmp_path


def _first(ds):
    ds.reset_state()
    return next(iter(ds))


def test_cifar_convnet_pipeline(local_data):
    write_cifar10(str(local_data / "cifar10_data"), n_per_batch=8)
    for split in ("train", "test"):
        ds = dataset.Cifar10(split)
        if split == "train":
            augs = [imgaug.RandomCrop((30, 30)), imgaug.Flip(horiz=True), imgaug.Brightness(63),
                    imgaug.Contrast((0.2, 1.8)), imgaug.MeanVarianceNormalize(all_channel=True)]
        else:
            augs = [imgaug.CenterCrop((30, 30)), imgaug.MeanVarianceNormalize(all_channel=True)]
        ds = BatchData(AugmentImageComponent(ds, augs), 4, remainder=split != "train")
        images, labels = _first(ds)
        assert images.shape == (4, 30, 30, 3) and images.dtype == np.float32
        assert labels.shape == (4,) and labels.dtype == np.int32
        np.testing.assert_allclose(images.reshape(4, -1).mean(axis=1), 0, atol=1e-4)


def test_cifar10_resnet_pipeline(local_data):
    write_cifar10(str(local_data / "cifar10_data"), n_per_batch=8)
    ds = dataset.Cifar10("train")
    pp_mean = ds.get_per_pixel_mean(("train",))
    augs = [imgaug.CenterPaste((40, 40)), imgaug.RandomCrop((32, 32)), imgaug.Flip(horiz=True),
            imgaug.MapImage(lambda x: x - pp_mean)]
    images, labels = _first(BatchData(AugmentImageComponent(ds, augs), 5))
    assert images.shape == (5, 32, 32, 3) and images.dtype == np.float32


def test_svhn_pipeline(local_data):
    folder = local_data / "svhn_data"
    folder.mkdir()
    rs = np.random.RandomState(0)
    for name in ("train", "extra", "test"):
        sio.savemat(str(folder / (name + "_32x32.mat")),
                    {"X": rs.randint(0, 256, (32, 32, 3, 6)).astype("uint8"),
                     "y": rs.randint(1, 11, (6, 1)).astype("uint8")})
    train = RandomMixData([dataset.SVHNDigit("train"), dataset.SVHNDigit("extra")])
    augs = [imgaug.Resize((40, 40)), imgaug.Brightness(30), imgaug.Contrast((0.5, 1.5))]
    images, labels = _first(BatchData(AugmentImageComponent(train, augs), 4))
    assert images.shape == (4, 40, 40, 3) and images.dtype == np.uint8
    assert set(labels.tolist()) <= set(range(10))


def _fbresnet_augmentor(is_train):
    interp = cv2.INTER_CUBIC
    if not is_train:
        return [imgaug.ResizeShortestEdge(256, interp=interp), imgaug.CenterCrop((224, 224))]
    eigvec = np.array([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140],
                       [-0.5836, -0.6948, 0.4203]], dtype="float32")[::-1, ::-1]
    return [
        imgaug.GoogleNetRandomCropAndResize(interp=interp),
        imgaug.ToFloat32(),
        imgaug.RandomOrderAug([
            imgaug.BrightnessScale((0.6, 1.4)),
            imgaug.Contrast((0.6, 1.4), rgb=False),
            imgaug.Saturation(0.4, rgb=False),
            imgaug.Lighting(0.1, eigval=np.asarray([0.2175, 0.0188, 0.0045][::-1]) * 255.0,
                            eigvec=eigvec)]),
        imgaug.ToUint8(),
        imgaug.Flip(horiz=True),
    ]


@pytest.mark.parametrize("is_train", [True, False])
def test_fbresnet_augmentor(is_train):
    augs = imgaug.AugmentorList(_fbresnet_augmentor(is_train))
    augs.reset_state()
    rs = np.random.RandomState(0)
    for shape in ((300, 400, 3), (500, 333, 3)):
        out = augs.augment(rs.randint(0, 256, shape).astype("uint8"))
        assert out.shape == (224, 224, 3) and out.dtype == np.uint8


def test_imagenet_pipeline(local_data):
    meta_dir, data_dir, _ = write_imagenet(local_data)
    ds = dataset.ILSVRC12(str(data_dir), "train", meta_dir=str(meta_dir), shuffle=True)
    ds = AugmentImageComponent(ds, _fbresnet_augmentor(True), copy=False)
    images, labels = _first(BatchData(ds, 3))
    assert images.shape == (3, 224, 224, 3) and labels.dtype == np.int32

    files = dataset.ILSVRC12Files(str(data_dir), "val", meta_dir=str(meta_dir), shuffle=False)
    aug = imgaug.AugmentorList(_fbresnet_augmentor(False))
    files.reset_state()
    for fname, label in files:
        im = aug.augment(cv2.imread(fname, cv2.IMREAD_COLOR))
        assert im.shape == (224, 224, 3)
