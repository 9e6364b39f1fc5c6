"""Upstream's module path ``tensorpack.input_source.input_source_base``."""
from tensorpack.input_source.base import InputSource, build_or_reuse_placeholder  # noqa: F401
from tensorpack.input_source.remap import ProxyInputSource, remap_input_source  # noqa: F401

__all__ = ["InputSource", "remap_input_source"]
