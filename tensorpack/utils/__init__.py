"""Utilities that never import TensorFlow: the logger, file-system helpers."""
from tensorpack.utils import logger
from tensorpack.utils.fs import mkdir_p

__all__ = ["logger", "mkdir_p"]
