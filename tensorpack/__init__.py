"""tensorpack: TF1-style graph training and a TensorFlow-free checkpoint core.

``import tensorpack`` is cheap and never imports TensorFlow. Upstream's top-level names
(``TrainConfig``, ``ModelSaver``, ``SmartInit``, ...) are still available as
``tensorpack.X`` and through ``from tensorpack import *``: they are resolved on first use,
which is when TensorFlow gets imported.
"""
import importlib
import importlib.util

from tensorpack.libinfo import __version__
from tensorpack.utils import *  # noqa: F401,F403  (cheap, TensorFlow-free)
from tensorpack.utils import logger

# Subpackages whose public names are re-exported here, in upstream's order. Later ones win.
_TF_FREE = ("tensorpack.utils", "tensorpack.dataflow")
_TF_BACKED = ("tensorpack.models", "tensorpack.callbacks", "tensorpack.tfutils",
              "tensorpack.train", "tensorpack.input_source", "tensorpack.predict")
_SUBPACKAGES = {"utils", "dataflow", "checkpoint", "compat", "tfutils", "callbacks", "train",
                "predict", "input_source", "models", "tools", "graph_builder", "libinfo"}
# Module names upstream's ``from tensorpack import *`` binds (TensorFlow-backed ones only
# when TensorFlow is installed; graph_builder only once it exists).
_STAR_TF_FREE = ("utils", "dataflow", "libinfo")
_STAR_TF_BACKED = ("models", "callbacks", "tfutils", "train", "input_source", "predict",
                   "compat", "graph_builder", "tfv1")


def _has_tensorflow():
    return importlib.util.find_spec("tensorflow") is not None


def _exporting_modules():
    mods = list(_TF_FREE)
    if _has_tensorflow():
        mods += _TF_BACKED
    for name in mods:
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:  # a real missing dependency, not an absent subpackage
                raise


def _star_modules():
    names = list(_STAR_TF_FREE)
    if _has_tensorflow():
        names += [n for n in _STAR_TF_BACKED
                  if n == "tfv1" or importlib.util.find_spec("tensorpack." + n) is not None]
    return names


def _public_names():
    names = {}
    for mod in _exporting_modules():
        for n in getattr(mod, "__all__", ()):
            names[n] = mod
    return names


def __getattr__(name):
    if name in _SUBPACKAGES:
        try:
            return importlib.import_module("tensorpack." + name)
        except ModuleNotFoundError as e:
            if e.name != "tensorpack." + name:
                raise
            raise AttributeError("module 'tensorpack' has no attribute '{}' (the subpackage "
                                 "is not in this installation)".format(name)) from e
    if name == "tfv1":  # tf.compat.v1, upstream's ``from tensorpack import tfv1``
        return importlib.import_module("tensorpack.compat").tfv1
    if name == "__all__":
        return ["__version__", "logger"] + sorted(set(_public_names()) | set(_star_modules()))
    if name.startswith("__"):
        raise AttributeError(name)
    for mod in _exporting_modules():
        if name in getattr(mod, "__all__", ()):
            value = getattr(mod, name)
            globals()[name] = value
            return value
    raise AttributeError("module 'tensorpack' has no attribute '{}'".format(name))


def __dir__():
    return sorted(set(globals()) | _SUBPACKAGES | {"tfv1"})
