"""Upstream's old module name for :mod:`tensorpack.utils.serialize`."""
from tensorpack.utils.serialize import dumps, loads  # noqa: F401

__all__ = ["dumps", "loads"]
