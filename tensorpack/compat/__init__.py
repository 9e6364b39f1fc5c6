"""TensorFlow compatibility: ``tfv1`` is ``tf.compat.v1`` in graph mode."""
import tensorflow as tf

tfv1 = tf.compat.v1
# Graph-mode training needs TF2 behaviour off (eager execution, resource semantics stay on).
if tf.executing_eagerly():
    tfv1.disable_eager_execution()

__all__ = ["tfv1"]


def is_tfv2():
    """Returns: bool: whether TensorFlow runs with its 2.x behaviour enabled (it does on TF 2.x
    even when this package turns eager execution off for graph mode)."""
    try:
        from tensorflow.python import tf2
        return tf2.enabled()
    except ImportError:
        return False
