"""Shape-manipulating layers."""
import tensorflow as tf

from tensorpack.models.common import layer_register

__all__ = ["ConcatWith"]


@layer_register(use_scope=None)
def ConcatWith(x, tensor, dim):
    """``tf.concat([x] + tensor, dim)``, in a form that chains in :class:`LinearWrap`.

    Args:
        x (tf.Tensor): the first tensor.
        tensor (tf.Tensor or list[tf.Tensor]): the tensors to append after ``x``.
        dim (int): the axis to concatenate along.

    Returns:
        tf.Tensor
    """
    if not isinstance(tensor, list):
        tensor = list(tensor) if isinstance(tensor, tuple) else [tensor]
    return tf.concat([x] + tensor, dim)
