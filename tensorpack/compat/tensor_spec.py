"""Upstream's module path for ``TensorSpec`` (a backport for old TF); it is ``tf.TensorSpec``."""
import tensorflow as tf

TensorSpec = tf.TensorSpec

__all__ = ["TensorSpec"]
