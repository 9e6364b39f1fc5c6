"""The checkpoint core: read and write TensorFlow checkpoints, npz, npy and safetensors
files with NumPy alone. This package never imports TensorFlow.

The one way in is :func:`open_source`, which takes any path form of a TF checkpoint (prefix,
``.index``, ``.data-*``, the ``checkpoint`` state file, a directory) or an ``.npz`` /
``.npy`` / ``.safetensors`` file or a dict, and returns a :class:`CheckpointSource` that lists
tensors without reading them and reads one on demand. The one way out is
:func:`save_tensors`, which writes a source, a dict or a stream of ``(name, array)`` pairs to
any of those formats, one tensor in memory at a time, atomically.
"""
from tensorpack.checkpoint.bundle import CorruptCheckpointError, TFCheckpointSource
from tensorpack.checkpoint.bundle_writer import write_tf_checkpoint
from tensorpack.checkpoint.formats import (
    DictSource, NpySource, NpzSource, SafetensorsSource, open_source, save_tensors)
from tensorpack.checkpoint.names import get_op_tensor_name, is_training_name, normalize_name
from tensorpack.checkpoint.paths import (
    checkpoint_files, list_checkpoints, resolve_checkpoint_prefix)
from tensorpack.checkpoint.source import CheckpointSource, TensorInfo
from tensorpack.checkpoint.state import (
    CheckpointState, latest_checkpoint, read_checkpoint_state, write_checkpoint_state)

__all__ = [
    "open_source", "save_tensors", "CheckpointSource", "TensorInfo",
    "TFCheckpointSource", "NpzSource", "NpySource", "SafetensorsSource", "DictSource",
    "write_tf_checkpoint", "CorruptCheckpointError",
    "resolve_checkpoint_prefix", "list_checkpoints", "checkpoint_files",
    "CheckpointState", "read_checkpoint_state", "write_checkpoint_state", "latest_checkpoint",
    "get_op_tensor_name", "is_training_name", "normalize_name",
]
