"""Callbacks that write tensor values to the logger directory: ``.npz`` files every step,
or images when triggered. (Upstream defines them in ``callbacks.graph``; they are importable
from there too.)"""
import os

import numpy as np

from tensorpack.checkpoint.names import get_op_tensor_name
from tensorpack.compat import tfv1
from tensorpack.utils import logger

from .base import Callback
from .graph import ProcessTensors

__all__ = ["DumpTensors", "DumpTensor", "DumpTensorAsImage", "DumpParamAsImage"]


def _value_tensor(t):
    """The value of a resource variable when ``t`` is its handle (``'w:0'`` names the handle
    of a TF2 resource variable, where TF1's named its value); otherwise ``t``."""
    if getattr(t, "dtype", None) is None or t.dtype != tfv1.resource:
        return t
    for var in tfv1.global_variables() + tfv1.local_variables():
        if var.handle.name == t.name:
            return var.value()  # the variable's existing read op: no new op
    return t


def _require_logger_dir(who):
    d = logger.get_logger_dir()
    if d is None:
        raise ValueError("{} writes into the logger directory, but none is set: call "
                         "logger.set_logger_dir() (or logger.auto_set_dir()) first.".format(who))
    return d


class DumpTensors(ProcessTensors):
    """Fetch tensors with every step and save them to ``DumpTensor-<global_step>.npz`` in
    the logger directory (keys are the tensor names as given).

    Load a dump with ``dict(np.load(filename))``.
    """

    def __init__(self, names):
        """
        Args:
            names (list[str]): names of the tensors.

        Raises:
            TypeError: if ``names`` is not a list.
            ValueError: if no logger directory is set.
        """
        if not isinstance(names, (list, tuple)):
            raise TypeError("DumpTensors: names must be a list of tensor names, got "
                            "{!r}.".format(names))
        self._dir = _require_logger_dir("DumpTensors")
        super().__init__(names, self._save)

    def _setup_graph(self):
        tensors = [_value_tensor(t) for t in self.get_tensors_maybe_in_tower(self._names)]
        self._fetch = tfv1.train.SessionRunArgs(fetches=tensors)

    def _save(self, *values):
        path = os.path.join(self._dir, "DumpTensor-{}.npz".format(self.global_step))
        np.savez(path, **dict(zip(self._names, values)))


DumpTensor = DumpTensors


def _import_cv2():
    try:
        import cv2
    except ImportError as e:
        raise ImportError("DumpTensorAsImage needs OpenCV: pip install "
                          "opencv-python-headless") from e
    return cv2


class DumpTensorAsImage(Callback):
    """When triggered, evaluate a tensor and save it as PNG image(s)
    ``<prefix>-ep<epoch>.png`` in the logger directory (the following images of a batch
    get ``-1``, ``-2``, ... suffixes); also sends them to the
    monitors (``put_image``).

    The tensor must be computable without feeding inputs (e.g. a weight), or the inputs
    must be feed-free.
    """

    def __init__(self, tensor_name, prefix=None, map_func=None, scale=255):
        """
        Args:
            tensor_name (str): the tensor.
            prefix (str): file name prefix; defaults to the op name.
            map_func: maps the value to an image (``[h, w]`` or ``[h, w, c]``) or a list of
                them; a 4-D value is a batch of images.
            scale (float): pixel values are multiplied by it, then clipped to [0, 255].

        Raises:
            ImportError: without OpenCV.
            ValueError: if no logger directory is set.
        """
        self._cv2 = _import_cv2()
        op_name, self.tensor_name = get_op_tensor_name(tensor_name)
        self.prefix = op_name if prefix is None else prefix
        self.func = map_func
        self.scale = scale
        self.log_dir = _require_logger_dir("DumpTensorAsImage")

    def _setup_graph(self):
        self._tensor = _value_tensor(self.graph.get_tensor_by_name(self.tensor_name))

    def _trigger(self):
        val = self.trainer.sess.run(self._tensor)
        if self.func is not None:
            val = self.func(val)
        images = list(val) if isinstance(val, list) or val.ndim == 4 else [val]
        for idx, im in enumerate(images):
            self._write(np.asarray(im), idx)
        self.trainer.monitors.put_image(self.prefix, val)

    def _write(self, im, idx):
        if im.ndim not in (2, 3):
            raise ValueError("DumpTensorAsImage: '{}' gives an image of shape {}; expected "
                             "[h, w] or [h, w, c] (use map_func).".format(self.tensor_name,
                                                                           im.shape))
        suffix = "-{}".format(idx) if idx else ""  # upstream's names: no suffix on the first
        path = os.path.join(self.log_dir,
                            "{}-ep{:03d}{}.png".format(self.prefix, self.epoch_num, suffix))
        self._cv2.imwrite(path, np.clip(im * self.scale, 0, 255).astype("uint8"))


DumpParamAsImage = DumpTensorAsImage
