"""Layers with upstream's call style (``Layer(name, inputs, ...)``), argument names and
variable names, built on ``tf.nn`` and ``tf.compat.v1`` variables (never Keras)."""
import importlib

# Upstream's public layer modules; their ``__all__`` names are exported from here.
_MODULES = ("batch_norm", "common", "conv2d", "fc", "layer_norm", "linearwrap", "nonlin",
            "pool", "regularize", "shapes")

__all__ = []
for _name in _MODULES:
    _mod = importlib.import_module("tensorpack.models." + _name)
    for _k in _mod.__all__:
        globals()[_k] = getattr(_mod, _k)
        __all__.append(_k)
del _name, _mod, _k

# Kept importable from here (they live in tensorpack.tfutils.argscope, as upstream).
from tensorpack.tfutils.argscope import argscope, get_arg_scope  # noqa: E402,F401
