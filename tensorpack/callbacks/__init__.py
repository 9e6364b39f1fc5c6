"""Callbacks: everything that runs around the training loop (saving, monitoring,
hyperparameter schedules, inference, progress).

All public names of the submodules are available here, as in upstream tensorpack.
"""
import importlib

_MODULES = ("base", "hooks", "group", "steps", "trigger", "graph", "summary", "monitor",
            "monitor_writers", "param", "saver", "best_saver", "inference", "inference_runner",
            "misc", "concurrency", "dump", "prof", "monitor_external")

__all__ = []
for _name in _MODULES:
    _mod = importlib.import_module("tensorpack.callbacks." + _name)
    for _k in getattr(_mod, "__all__", ()):
        globals()[_k] = getattr(_mod, _k)
        if _k not in __all__:
            __all__.append(_k)
del _name, _mod, _k
