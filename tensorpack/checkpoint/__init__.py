"""The checkpoint core: read and write TensorFlow checkpoints, npz, npy and safetensors
files with NumPy alone. This package never imports TensorFlow.
"""
from tensorpack.checkpoint.names import get_op_tensor_name, is_training_name, normalize_name
from tensorpack.checkpoint.source import CheckpointSource, TensorInfo

__all__ = ["CheckpointSource", "TensorInfo", "get_op_tensor_name", "is_training_name",
           "normalize_name"]
