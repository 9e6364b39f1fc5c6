"""Tiny models shared by the trainer tests (imported by test files in this directory)."""
import numpy as np
import tensorflow as tf

from tensorpack import (Callback, FullyConnected, ModelDesc, SimpleTrainer, TrainConfig,
                        launch_train_with_config)
from tensorpack.compat import tfv1


class TinyModel(ModelDesc):
    """One FullyConnected layer ('fc') on 4 features, 3 classes; outputs 'prob', 'cost'."""

    def __init__(self, lr=0.1, summary=True):
        self.lr = lr
        self.summary = summary

    def inputs(self):
        return [tf.TensorSpec((None, 4), tf.float32, "x"), tf.TensorSpec((None,), tf.int32, "y")]

    def build_graph(self, x, y):
        logits = FullyConnected("fc", x, 3)
        tf.nn.softmax(logits, name="prob")
        cost = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=y, logits=logits), name="cost")
        wrong = tf.cast(tf.not_equal(tf.argmax(logits, 1, output_type=tf.int32), y), tf.float32,
                        name="incorrect_vector")
        if self.summary:
            from tensorpack.tfutils.summary import add_moving_summary
            add_moving_summary(cost, tf.reduce_mean(wrong, name="train_error"))
        return cost

    def optimizer(self):
        return tfv1.train.GradientDescentOptimizer(self.lr)


def make_points(n=48, seed=0, dim=4, classes=3):
    """Datapoints [x, y] of a tiny, learnable classification problem."""
    rng = np.random.RandomState(seed)
    centers = rng.randn(classes, dim).astype("float32") * 3
    pts = []
    for i in range(n):
        y = i % classes
        pts.append([(centers[y] + rng.randn(dim) * 0.3).astype("float32"), np.int32(y)])
    return pts


class Grab(Callback):
    """Fetches the model's inputs 'x' and 'y' as the training tower saw them, every step."""

    def __init__(self):
        self.xs, self.ys = [], []

    def _setup_graph(self):
        tower = self.trainer.towers.training()[0]
        self._t = [tower.get_tensor("x"), tower.get_tensor("y")]

    def _before_run(self, _):
        return self._t

    def _after_run(self, _, values):
        self.xs.append(values.results[0])
        self.ys.append(values.results[1])


def train_tiny(data, steps=3):
    """Train TinyModel (no summaries, no monitors) for one epoch on an input source.

    Returns:
        (SimpleTrainer, Grab)
    """
    grab = Grab()
    config = TrainConfig(model=TinyModel(summary=False), data=data, callbacks=[grab],
                         monitors=[], extra_callbacks=[], steps_per_epoch=steps, max_epoch=1)
    trainer = SimpleTrainer()
    launch_train_with_config(config, trainer)
    return trainer, grab
