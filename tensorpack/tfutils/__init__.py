"""TensorFlow utilities: session initializers, variable manipulation, session creation."""
import importlib

# Upstream exports these submodules' public names from ``tensorpack.tfutils``.
_MODULES = ("common", "sessinit", "varmanip", "sesscreate", "summary", "tower", "argscope")

__all__ = []
for _name in _MODULES:
    _mod = importlib.import_module("tensorpack.tfutils." + _name)
    for _k in getattr(_mod, "__all__", ()):
        globals()[_k] = getattr(_mod, _k)
        __all__.append(_k)
__all__ += ["sessinit", "summary", "varmanip", "sesscreate"]
