"""Readers for standard datasets, from the files their publishers distribute.

Files are looked for in ``dir=`` (or ``data_dir=``), else in ``$TENSORPACK_DATASET/<name>``
(default ``~/tensorpack_data/<name>``); missing ones are downloaded when possible, with a
network timeout (``TENSORPACK_NO_DOWNLOAD=1`` forbids it). Otherwise one FileNotFoundError
names the files expected, the directory searched and where to get them.
"""
from tensorpack.dataflow.base import RNGDataFlow
from tensorpack.dataflow.dataset.bsds500 import BSDS500
from tensorpack.dataflow.dataset.caltech101 import Caltech101Silhouettes
from tensorpack.dataflow.dataset.cifar import Cifar10, Cifar100, CifarBase
from tensorpack.dataflow.dataset.ilsvrc import ILSVRC12, ILSVRC12Files, ILSVRCMeta, TinyImageNet
from tensorpack.dataflow.dataset.mnist import FashionMnist, Mnist
from tensorpack.dataflow.dataset.places import Places365Standard
from tensorpack.dataflow.dataset.svhn import SVHNDigit

__all__ = ["BSDS500", "CifarBase", "Cifar10", "Cifar100", "FashionMnist", "Mnist",
           "ILSVRCMeta", "ILSVRC12", "ILSVRC12Files", "TinyImageNet", "SVHNDigit",
           "Caltech101Silhouettes", "Places365Standard", "RNGDataFlow"]
