"""TensorFlow compatibility: ``tfv1`` is ``tf.compat.v1`` in graph mode."""
import tensorflow as tf

tfv1 = tf.compat.v1
# Graph-mode training needs TF2 behaviour off (eager execution, resource semantics stay on).
if tf.executing_eagerly():
    tfv1.disable_eager_execution()

__all__ = ["tfv1"]
