"""Dataset readers on small files written in each publisher's exact format.

No test touches the network: downloads are disabled (TENSORPACK_NO_DOWNLOAD) or pointed
at a closed port on 127.0.0.1.
"""
import gzip
import os
import pickle
import socket
import struct
import time

import numpy as np
import pytest

from df_fake_data import (RS, py2_pickle, write_cifar10, write_idx, write_imagenet,
                          write_mnist)
from tensorpack.dataflow import dataset


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    monkeypatch.setenv("TENSORPACK_NO_DOWNLOAD", "1")
    monkeypatch.setenv("TENSORPACK_DATASET", str(tmp_path / "default_data"))
    (tmp_path / "default_data").mkdir()


def _check_missing_error(excinfo, *fragments):
    msg = str(excinfo.value)
    for frag in fragments:
        assert frag in msg, (frag, msg)


# ---------------- MNIST (gzip-compressed IDX files) ----------------

@pytest.mark.parametrize("cls", [dataset.Mnist, dataset.FashionMnist])
def test_mnist(tmp_path, cls):
    images, labels = write_mnist(str(tmp_path), "t10k", 7)
    ds = cls("test", shuffle=False, dir=str(tmp_path))
    ds.reset_state()
    out = list(ds)
    assert len(ds) == len(out) == 7
    img, label = out[3]
    assert img.shape == (28, 28) and img.dtype == np.float32
    np.testing.assert_allclose(img, images[3] / 255.0, rtol=1e-6)
    assert label == labels[3] and label.dtype == np.uint8
    shuffled = cls("test", shuffle=True, dir=str(tmp_path))
    shuffled.reset_state()
    assert sorted(int(dp[1]) for dp in shuffled) == sorted(labels.tolist())


def test_mnist_default_dir_and_missing_files(tmp_path):
    write_mnist(str(tmp_path / "default_data" / "mnist_data"), "train", 3)
    assert len(dataset.Mnist("train")) == 3
    with pytest.raises(FileNotFoundError) as e:
        dataset.FashionMnist("train")
    _check_missing_error(e, "train-images-idx3-ubyte.gz", "fashion_mnist_data",
                         "fashion-mnist", "TENSORPACK_NO_DOWNLOAD")


def test_mnist_corrupt_files(tmp_path):
    write_mnist(str(tmp_path), "train", 3)
    labels = str(tmp_path / "train-labels-idx1-ubyte.gz")
    write_idx(labels, 2051, np.zeros((3,), "uint8"))  # an image magic in the label file
    with pytest.raises(ValueError, match="magic"):
        dataset.Mnist("train", dir=str(tmp_path))
    with gzip.open(labels, "wb") as f:
        f.write(struct.pack(">II", 2049, 10) + b"\x01\x02")  # promises 10 labels, has 2
    with pytest.raises(ValueError, match="truncated"):
        dataset.Mnist("train", dir=str(tmp_path))
    with pytest.raises(ValueError):
        dataset.Mnist("val", dir=str(tmp_path))


def test_download_failure_is_quick_and_clear(tmp_path, monkeypatch):
    monkeypatch.delenv("TENSORPACK_NO_DOWNLOAD")
    with socket.socket() as s:  # a port with nothing listening on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(dataset.Mnist, "_SOURCE_URL", "http://127.0.0.1:{}/".format(port))
    start = time.time()
    with pytest.raises(FileNotFoundError) as e:
        dataset.Mnist("test", dir=str(tmp_path))
    assert time.time() - start < 60
    _check_missing_error(e, "t10k-images-idx3-ubyte.gz", str(tmp_path), "download failed")
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".gz")]  # no partial file left


def test_download_from_a_local_server(tmp_path, monkeypatch):
    import functools
    import http.server
    import threading
    served = tmp_path / "served"
    images, labels = write_mnist(str(served), "t10k", 5)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.delenv("TENSORPACK_NO_DOWNLOAD")
        monkeypatch.setattr(dataset.Mnist, "_SOURCE_URL",
                            "http://127.0.0.1:{}/".format(server.server_address[1]))
        ds = dataset.Mnist("test", shuffle=False, dir=str(tmp_path / "fetched"))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    assert len(ds) == 5 and [int(dp[1]) for dp in ds] == labels.tolist()
    assert sorted(os.listdir(tmp_path / "fetched")) == ["t10k-images-idx3-ubyte.gz",
                                                       "t10k-labels-idx1-ubyte.gz"]


# ---------------- CIFAR (Python 2 pickles, as published) ----------------

def test_cifar10(tmp_path):
    written = write_cifar10(str(tmp_path))
    test = dataset.Cifar10("test", dir=str(tmp_path))
    test.reset_state()
    out = list(test)
    assert len(test) == len(out) == 4
    data, labels = written["test_batch"]
    img, label = out[2]  # test split is not shuffled by default
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img, data[2].reshape(3, 32, 32).transpose(1, 2, 0))
    assert label == labels[2] and isinstance(label, int)
    train = dataset.Cifar10("train", dir=str(tmp_path))
    assert len(train) == 20 and train.shuffle
    assert test.get_label_names()[:2] == ["airplane", "automobile"]
    mean = train.get_per_pixel_mean(("test",))
    assert mean.shape == (32, 32, 3) and mean.dtype == np.float32
    assert train.get_per_channel_mean().shape == (3,)


def test_cifar100_and_missing(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    data = RS.randint(0, 256, size=(3, 3072)).astype("uint8")
    batch = {b"data": data, b"fine_labels": [5, 99, 0], b"coarse_labels": [1, 2, 3],
             b"filenames": [b"a", b"b", b"c"], b"batch_label": b"testing batch"}
    (folder / "test").write_bytes(py2_pickle(batch))
    (folder / "meta").write_bytes(py2_pickle({b"fine_label_names": [b"apple"] * 100,
                                               b"coarse_label_names": [b"fruit"] * 20}))
    ds = dataset.Cifar100("test", dir=str(tmp_path))
    ds.reset_state()
    assert [dp[1] for dp in ds] == [5, 99, 0]
    with pytest.raises(FileNotFoundError) as e:
        dataset.Cifar100("train", dir=str(tmp_path))
    _check_missing_error(e, "cifar-100-python/train", str(tmp_path))
    with pytest.raises(FileNotFoundError) as e:
        dataset.Cifar10("train")
    _check_missing_error(e, "cifar-10-batches-py/data_batch_1", "cifar10_data",
                         "cifar-10-python.tar.gz")


def test_cifar_rejects_code_in_pickles(tmp_path):
    write_cifar10(str(tmp_path))
    evil = pickle.dumps({b"data": os.system})  # refers to a callable, like exploits do
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(evil)
    with pytest.raises(ValueError, match="refusing"):
        dataset.Cifar10("test", dir=str(tmp_path))
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"\x80\x02}q\x01(U\x04da")
    with pytest.raises(ValueError, match="not a valid dataset pickle"):
        dataset.Cifar10("test", dir=str(tmp_path))


def test_cifar_reads_python3_pickles(tmp_path):
    # files re-saved from Python 3 (any protocol) load as well
    write_cifar10(str(tmp_path))
    data = RS.randint(0, 256, size=(2, 3072)).astype("uint8")
    for protocol in (2, 4, 5):
        with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
            pickle.dump({b"data": data, b"labels": [1, 2]}, f, protocol=protocol)
        ds = dataset.Cifar10("test", dir=str(tmp_path))
        assert [dp[1] for dp in ds.data] == [1, 2]


# ---------------- SVHN (.mat) ----------------

def test_svhn(tmp_path):
    sio = pytest.importorskip("scipy.io")
    X = RS.randint(0, 256, size=(32, 32, 3, 5)).astype("uint8")
    y = np.array([[1], [10], [3], [10], [9]], dtype="uint8")
    sio.savemat(str(tmp_path / "test_32x32.mat"), {"X": X, "y": y})
    ds = dataset.SVHNDigit("test", data_dir=str(tmp_path), shuffle=False)
    ds.reset_state()
    out = list(ds)
    assert len(ds) == 5
    assert [int(dp[1]) for dp in out] == [1, 0, 3, 0, 9]
    assert out[1][0].shape == (32, 32, 3) and out[1][0].dtype == np.uint8
    np.testing.assert_array_equal(out[1][0], X[:, :, :, 1])
    with pytest.raises(FileNotFoundError) as e:
        dataset.SVHNDigit("extra", data_dir=str(tmp_path))
    _check_missing_error(e, "extra_32x32.mat", "ufldl.stanford.edu")


# ---------------- BSDS500 (.jpg + .mat ground truth) ----------------

def test_bsds500(tmp_path):
    cv2 = pytest.importorskip("cv2")
    sio = pytest.importorskip("scipy.io")
    root = tmp_path / "BSR" / "BSDS500" / "data"
    (root / "images" / "val").mkdir(parents=True)
    (root / "groundTruth" / "val").mkdir(parents=True)
    for name, (h, w) in (("100", (321, 481)), ("200", (481, 321))):  # landscape, portrait
        cv2.imwrite(str(root / "images" / "val" / (name + ".jpg")), np.full((h, w, 3), 128, "u1"))
        gt = np.empty((1, 2), dtype=object)
        for k in range(2):
            edges = np.zeros((h, w), "uint8")
            edges[k, :] = 1
            gt[0, k] = {"Segmentation": np.ones((h, w), "uint16"), "Boundaries": edges}
        sio.savemat(str(root / "groundTruth" / "val" / (name + ".mat")), {"groundTruth": gt})
    ds = dataset.BSDS500("val", data_dir=str(tmp_path), shuffle=False)
    ds.reset_state()
    out = list(ds)
    assert len(out) == 2
    for img, label in out:
        assert img.shape == (321, 481, 3) and img.dtype == np.uint8
        assert label.shape == (321, 481) and label.dtype == np.float32
    assert out[0][1][0, 0] == 0.5 and out[0][1][5, 5] == 0  # 1 of 2 annotators marked row 0
    assert out[1][1][0, 0] == 0.5 and out[1][1][0, 5] == 0  # portrait: transposed
    with pytest.raises(FileNotFoundError) as e:
        dataset.BSDS500("val", data_dir=str(tmp_path / "nothing"))
    _check_missing_error(e, "BSR/BSDS500/data/images/", "BSR_bsds500.tgz")


# ---------------- ILSVRC12 (directory tree + Caffe metadata) ----------------

def test_ilsvrc12(tmp_path):
    meta_dir, data_dir, mean = write_imagenet(tmp_path)
    meta = dataset.ILSVRCMeta(str(meta_dir))
    assert meta.get_synset_1000() == {0: "n01440764", 1: "n01443537", 2: "n01484850"}
    assert meta.get_synset_words_1000()[1] == "n01443537 goldfish"
    np.testing.assert_array_equal(meta.get_per_pixel_mean(), mean.transpose(1, 2, 0))
    assert meta.get_per_pixel_mean((8, 10)).shape == (8, 10, 3)
    assert meta.get_image_list("val", "train")[0] == (os.path.join("n01484850",
                                                                   "ILSVRC2012_val_00000001.JPEG"), 2)

    train = dataset.ILSVRC12(str(data_dir), "train", meta_dir=str(meta_dir))
    assert train.shuffle and len(train) == 6
    train.reset_state()
    seen = sorted((int(img[0, 0, 0]), label, img.shape) for img, label in train)
    assert seen == [(k, k, (10 + k, 12, 3)) for k in range(3) for _ in range(2)]

    val = dataset.ILSVRC12Files(str(data_dir), "val", meta_dir=str(meta_dir))
    val.reset_state()
    assert [(os.path.basename(f), label) for f, label in val] == [
        ("ILSVRC2012_val_00000001.JPEG", 2), ("ILSVRC2012_val_00000002.JPEG", 0)]


def test_ilsvrc12_missing(tmp_path):
    meta_dir, data_dir, _ = write_imagenet(tmp_path)
    with pytest.raises(FileNotFoundError, match="test"):
        dataset.ILSVRC12(str(data_dir), "test", meta_dir=str(meta_dir))
    with pytest.raises(FileNotFoundError) as e:
        dataset.ILSVRCMeta(str(tmp_path / "no_meta"))
    _check_missing_error(e, "synsets.txt", "no_meta", "caffe_ilsvrc12.tar.gz")
    os.remove(os.path.join(data_dir, "val", "ILSVRC2012_val_00000002.JPEG"))
    with pytest.raises(FileNotFoundError, match="ILSVRC2012_val_00000002"):
        dataset.ILSVRC12Files(str(data_dir), "val", meta_dir=str(meta_dir))


def test_training_bbox(tmp_path):
    (tmp_path / "n1").mkdir()
    (tmp_path / "n1" / "n1_1.xml").write_text(
        "<annotation><size><width>10</width><height>8</height></size><object><name>n1</name>"
        "<bndbox><xmin>1</xmin><ymin>2</ymin><xmax>7</xmax><ymax>6</ymax></bndbox></object>"
        "</annotation>")
    boxes = dataset.ILSVRC12.get_training_bbox(str(tmp_path), [("n1/n1_1.JPEG", 0),
                                                               ("n1/n1_2.JPEG", 0)])
    assert boxes[0].tolist() == [1, 2, 7, 6] and boxes[1] is None


# ---------------- smaller readers: TinyImageNet, Caltech 101 Silhouettes, Places365 ----------------

def test_tiny_imagenet(tmp_path):
    cv2 = pytest.importorskip("cv2")
    (tmp_path / "wnids.txt").write_text("n01\nn02\n")
    for label, wnid in enumerate(["n01", "n02"]):
        (tmp_path / "train" / wnid / "images").mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "train" / wnid / "images" / "a.JPEG"),
                    np.full((64, 64, 3), label, "u1"))
    (tmp_path / "val" / "images").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "val" / "images" / "val_0.JPEG"), np.zeros((64, 64, 3), "u1"))
    (tmp_path / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn02\t0\t0\t10\t10\n")
    train = dataset.TinyImageNet(str(tmp_path), "train")
    train.reset_state()
    assert sorted((int(im[0, 0, 0]), label) for im, label in train) == [(0, 0), (1, 1)]
    val = dataset.TinyImageNet(str(tmp_path), "val")
    val.reset_state()
    (img, label), = list(val)
    assert img.shape == (64, 64, 3) and label == 1


def test_caltech101_silhouettes(tmp_path):
    sio = pytest.importorskip("scipy.io")
    mat = {}
    for name, n in (("train", 4), ("val", 3), ("test", 2)):
        mat[name + "_data"] = RS.randint(0, 2, size=(n, 784)).astype("float64")
        mat[name + "_labels"] = np.arange(1, n + 1).reshape(n, 1).astype("float64")
    sio.savemat(str(tmp_path / "caltech101_silhouettes_28_split1.mat"), mat)
    ds = dataset.Caltech101Silhouettes("val", shuffle=False, dir=str(tmp_path))
    ds.reset_state()
    out = list(ds)
    assert len(ds) == 3 and [int(dp[1]) for dp in out] == [0, 1, 2]
    np.testing.assert_array_equal(out[1][0], mat["val_data"][1].reshape(28, 28))
    with pytest.raises(FileNotFoundError) as e:
        dataset.Caltech101Silhouettes("train")
    _check_missing_error(e, "caltech101_silhouettes_28_split1.mat", "caltech101_data")


def test_places365(tmp_path):
    cv2 = pytest.importorskip("cv2")
    lines = []
    for category in ("beach", "airfield"):
        (tmp_path / "val" / category).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "val" / category / "1.jpg"), np.zeros((8, 8, 3), "u1"))
        lines.append("val/{}/1.jpg".format(category))
    (tmp_path / "val.txt").write_text("\n".join(lines) + "\n")
    ds = dataset.Places365Standard(str(tmp_path), "val")
    assert ds.get_label_names() == ["airfield", "beach"] and not ds.shuffle
    ds.reset_state()
    assert [label for _, label in ds] == [1, 0]
    with pytest.raises(FileNotFoundError, match="train.txt"):
        dataset.Places365Standard(str(tmp_path), "train")


def test_default_dataset_directory(tmp_path, monkeypatch):
    pytest.importorskip("scipy.io")
    from tensorpack.utils.fs import get_dataset_path
    monkeypatch.delenv("TENSORPACK_DATASET")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_dataset_path("mnist_data") == str(tmp_path / "home" / "tensorpack_data" /
                                                 "mnist_data")
    assert (tmp_path / "home" / "tensorpack_data").is_dir()
    with pytest.raises(FileNotFoundError, match="tensorpack_data/svhn_data"):
        dataset.SVHNDigit("test")
