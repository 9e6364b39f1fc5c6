"""ImageNet (ILSVRC12) from its directory layout plus Caffe's metadata files, and TinyImageNet."""
import os
import xml.etree.ElementTree as ET

import numpy as np

from tensorpack.dataflow import _optional
from tensorpack.dataflow.dataset._base import IndexedDataset
from tensorpack.dataflow.dataset._caffe_blob import read_blob_proto
from tensorpack.dataflow.dataset._files import dataset_dir, missing_files_error
from tensorpack.utils import logger
from tensorpack.utils.fs import download, mkdir_p

__all__ = ["ILSVRCMeta", "ILSVRC12", "ILSVRC12Files", "TinyImageNet"]

CAFFE_ILSVRC12_URL = ("http://dl.caffe.berkeleyvision.org/caffe_ilsvrc12.tar.gz", 17858008)
_META_FILES = ["synsets.txt", "synset_words.txt", "train.txt", "val.txt", "test.txt",
               "imagenet_mean.binaryproto"]


def _read_lines(fname):
    with open(fname) as f:
        return [line.strip() for line in f if line.strip()]


class ILSVRCMeta:
    """The ILSVRC12 metadata shipped in Caffe's ``caffe_ilsvrc12.tar.gz``: class ids
    (``synsets.txt``), class names (``synset_words.txt``), image lists with labels
    (``train.txt`` / ``val.txt`` / ``test.txt``) and the mean image.
    """

    def __init__(self, dir=None):
        """
        Args:
            dir (str): the directory with those files; defaults to
                ``$TENSORPACK_DATASET/ilsvrc_metadata``. Downloaded when ``synsets.txt``
                is missing.

        Raises:
            FileNotFoundError: when the files are missing and cannot be downloaded.
        """
        self.dir = dataset_dir(dir, "ilsvrc_metadata")
        if not os.path.isfile(os.path.join(self.dir, "synsets.txt")):
            self._download_caffe_meta()
        self.caffepb = None  # upstream's attribute; the mean file is parsed without protobuf

    def _download_caffe_meta(self):
        from tensorpack.dataflow.dataset._files import _extract
        url, size = CAFFE_ILSVRC12_URL
        try:
            mkdir_p(self.dir)
            _extract(download(url, self.dir, expect_size=size), self.dir)
        except (OSError, ValueError) as e:
            raise missing_files_error("ILSVRC12 metadata", self.dir, _META_FILES,
                                      "{} (unpack it in that directory)".format(url), str(e)) \
                from None

    def _path(self, name):
        fname = os.path.join(self.dir, name)
        if not os.path.isfile(fname):
            raise missing_files_error("ILSVRC12 metadata", self.dir, [name],
                                      CAFFE_ILSVRC12_URL[0])
        return fname

    def get_synset_words_1000(self):
        """
        Returns:
            dict: ``{label: "synset_id description"}`` from ``synset_words.txt``.
        """
        return dict(enumerate(_read_lines(self._path("synset_words.txt"))))

    def get_synset_1000(self):
        """
        Returns:
            dict: ``{label: synset_id}`` from ``synsets.txt``.
        """
        return dict(enumerate(_read_lines(self._path("synsets.txt"))))

    def get_image_list(self, name, dir_structure="original"):
        """The images of a split and their labels.

        Args:
            name (str): ``'train'``, ``'val'`` or ``'test'``.
            dir_structure (str): as in :class:`ILSVRC12`; with ``'train'`` structure, val and
                test file names get their synset directory prepended.

        Returns:
            list[tuple[str, int]]: ``(relative file name, label)``.

        Raises:
            ValueError: for bad arguments or a malformed or empty list file.
        """
        if name not in ("train", "val", "test"):
            raise ValueError("get_image_list: name must be 'train', 'val' or 'test'.")
        if dir_structure not in ("original", "train"):
            raise ValueError("get_image_list: dir_structure must be 'original' or 'train'.")
        add_synset_dir = name != "train" and dir_structure != "original"
        synsets = self.get_synset_1000() if add_synset_dir else None
        fname = self._path(name + ".txt")
        ret = []
        for line in _read_lines(fname):
            parts = line.split()
            if len(parts) != 2:
                raise ValueError("{}: expected '<file> <label>' lines, got {!r}.".format(
                    fname, line))
            img, label = parts[0], int(parts[1])
            if add_synset_dir:
                img = os.path.join(synsets[label], img)
            ret.append((img, label))
        if not ret:
            raise ValueError("{} lists no images.".format(fname))
        return ret

    def get_per_pixel_mean(self, size=None):
        """The mean image of ``imagenet_mean.binaryproto``.

        Args:
            size (tuple): ``(h, w)`` to resize to; defaults to the stored 256x256.

        Returns:
            np.ndarray: float32 ``(h, w, 3)`` in BGR order, range [0, 255].
        """
        arr = read_blob_proto(self._path("imagenet_mean.binaryproto")).astype("float32")
        arr = np.transpose(arr, [1, 2, 0])
        if size is not None:
            arr = _optional.cv2("ILSVRCMeta.get_per_pixel_mean").resize(
                arr, (int(size[1]), int(size[0])))
        return arr

    @staticmethod
    def guess_dir_structure(dir):
        """``'train'`` if ``dir`` holds synset sub-directories (``n01440764/...``), else
        ``'original'`` (a flat directory of images)."""
        entries = sorted(os.listdir(dir))
        if not entries:
            raise FileNotFoundError("ILSVRC12: directory {} is empty.".format(dir))
        first = entries[0]
        structure = "train" if first.startswith("n") and \
            os.path.isdir(os.path.join(dir, first)) else "original"
        logger.info("[ILSVRC12] Assuming directory {} has '{}' structure.".format(
            dir, structure))
        return structure


class ILSVRC12Files(IndexedDataset):
    """Like :class:`ILSVRC12`, but datapoints are ``[file name, label]`` (decode them
    yourself, e.g. in parallel)."""

    def __init__(self, dir, name, meta_dir=None, shuffle=None, dir_structure=None):
        """Arguments as in :class:`ILSVRC12`."""
        if name not in ("train", "test", "val"):
            raise ValueError("ILSVRC12: name must be 'train', 'val' or 'test', got {!r}.".format(
                name))
        dir = os.path.expanduser(dir)
        self.full_dir = os.path.join(dir, name)
        self.name = name
        if not os.path.isdir(self.full_dir):
            raise FileNotFoundError(
                "ILSVRC12: directory {} not found. Expected {}/{{train,val,test}}/ holding the "
                "images extracted from ILSVRC2012_img_{}.tar (from https://image-net.org/); "
                "see the ILSVRC12 docstring for the layout.".format(self.full_dir, dir, name))
        if meta_dir is not None and not os.path.isdir(meta_dir):
            raise FileNotFoundError("ILSVRC12: meta_dir {} is not a directory.".format(meta_dir))
        self.shuffle = (name == "train") if shuffle is None else shuffle
        if name == "train":
            dir_structure = "train"
        if dir_structure is None:
            dir_structure = ILSVRCMeta.guess_dir_structure(self.full_dir)
        self.imglist = ILSVRCMeta(meta_dir).get_image_list(name, dir_structure)
        missing = [f for f, _ in self.imglist[:10]
                   if not os.path.isfile(os.path.join(self.full_dir, f))]
        if missing:
            raise FileNotFoundError(
                "ILSVRC12: images listed in {}.txt are missing from {}: {} ...; check "
                "dir_structure (now '{}') and the directory layout.".format(
                    name, self.full_dir, ", ".join(missing[:3]), dir_structure))

    def __len__(self):
        return len(self.imglist)

    def __iter__(self):
        for k in self._order():
            fname, label = self.imglist[k]
            yield [os.path.join(self.full_dir, fname), label]


class ILSVRC12(ILSVRC12Files):
    """ImageNet ILSVRC12 classification: ``[image, label]``, image uint8 ``(h, w, 3)`` BGR,
    label 0-999 following Caffe's ``synsets.txt`` (see :class:`ILSVRCMeta`).

    Layout of ``dir`` (``dir_structure='original'``, as the tar files unpack)::

        dir/train/n02134418/n02134418_198.JPEG ...
        dir/val/ILSVRC2012_val_00000001.JPEG ...
        dir/test/ILSVRC2012_test_00000001.JPEG ...

    With ``dir_structure='train'``, ``val/`` is split into synset directories like
    ``train/`` (``dir/val/n01440764/ILSVRC2012_val_00000293.JPEG``).
    """

    def __init__(self, dir, name, meta_dir=None, shuffle=None, dir_structure=None):
        """
        Args:
            dir (str): the directory containing ``name``.
            name (str): ``'train'``, ``'val'`` or ``'test'``.
            meta_dir (str): the :class:`ILSVRCMeta` directory (default: its default).
            shuffle (bool): defaults to True for ``'train'``.
            dir_structure (str): ``'original'`` or ``'train'`` (for ``val``); guessed by
                default. ``train`` always has the ``'train'`` structure.

        Raises:
            FileNotFoundError: for missing directories, metadata or images.
            ImportError: without OpenCV (the ``dataflow`` extra).
        """
        _optional.cv2("dataset.ILSVRC12")
        super().__init__(dir, name, meta_dir, shuffle, dir_structure)

    def __iter__(self):
        cv2 = _optional.cv2("dataset.ILSVRC12")
        for fname, label in super().__iter__():
            im = cv2.imread(fname, cv2.IMREAD_COLOR)
            if im is None:
                raise ValueError("ILSVRC12: cannot read image {}.".format(fname))
            yield [im, label]

    @staticmethod
    def get_training_bbox(bbox_dir, imglist):
        """Bounding boxes of the training images from the ImageNet XML annotations.

        Args:
            bbox_dir (str): the directory of extracted ``ILSVRC2012_bbox_train`` XML files.
            imglist (list): ``(file name, label)`` pairs, e.g. from
                :meth:`ILSVRCMeta.get_image_list`.

        Returns:
            list: per image, a float32 ``[xmin, ymin, xmax, ymax]`` of its first object, or
            None when it has no (readable) annotation.
        """
        ret = []
        for fname, _ in imglist:
            xml = os.path.join(bbox_dir, os.path.splitext(fname)[0] + ".xml")
            try:
                box = ET.parse(xml).getroot().find("object").find("bndbox")
                ret.append(np.asarray([float(box.find(k).text)
                                       for k in ("xmin", "ymin", "xmax", "ymax")], "float32"))
            except (OSError, ET.ParseError, AttributeError, TypeError, ValueError):
                ret.append(None)
        logger.info("{}/{} images have bounding boxes.".format(
            sum(b is not None for b in ret), len(ret)))
        return ret


class TinyImageNet(IndexedDataset):
    """TinyImageNet (200 classes): ``[image, label]``, image ``64x64x3`` uint8 BGR."""

    def __init__(self, dir, name, shuffle=None):
        """
        Args:
            dir (str): the unpacked ``tiny-imagenet-200`` directory.
            name (str): ``'train'`` or ``'val'``.
            shuffle (bool): defaults to True for ``'train'``.
        """
        if name not in ("train", "val"):
            raise ValueError("TinyImageNet: name must be 'train' or 'val', got {!r}.".format(name))
        _optional.cv2("dataset.TinyImageNet")
        dir = os.path.expanduser(dir)
        wnids_file = os.path.join(dir, "wnids.txt")
        if not os.path.isfile(wnids_file):
            raise missing_files_error("TinyImageNet", dir, ["wnids.txt", name + "/"],
                                      "http://cs231n.stanford.edu/tiny-imagenet-200.zip")
        self.full_dir = os.path.join(dir, name)
        self.shuffle = (name == "train") if shuffle is None else shuffle
        wnids = _read_lines(wnids_file)
        cls_to_id = {w: i for i, w in enumerate(wnids)}
        self.imglist = []
        if name == "train":
            for clsid, wnid in enumerate(wnids):
                img_dir = os.path.join(self.full_dir, wnid, "images")
                for img in sorted(os.listdir(img_dir)):
                    self.imglist.append((os.path.join(img_dir, img), clsid))
        else:
            for line in _read_lines(os.path.join(self.full_dir, "val_annotations.txt")):
                img, wnid = line.split()[:2]
                self.imglist.append((os.path.join(self.full_dir, "images", img), cls_to_id[wnid]))

    def __len__(self):
        return len(self.imglist)

    def __iter__(self):
        cv2 = _optional.cv2("dataset.TinyImageNet")
        for k in self._order():
            fname, label = self.imglist[k]
            im = cv2.imread(fname, cv2.IMREAD_COLOR)
            if im is None:
                raise ValueError("TinyImageNet: cannot read image {}.".format(fname))
            yield [im, label]
