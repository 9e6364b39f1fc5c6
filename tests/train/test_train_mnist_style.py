"""A model written like upstream's mnist-convnet example (argscope, LinearWrap, Dropout,
regularize_cost, param summaries, a decaying learning rate, MaxSaver) trains unchanged."""
import glob
import json
import os

import numpy as np
import tensorflow as tf

from tensorpack import *  # noqa: F401,F403 - the way upstream's examples import
from tensorpack.compat import tfv1
from tensorpack.tfutils import summary


class Model(ModelDesc):
    def inputs(self):
        return [tf.TensorSpec((None, 8, 8), tf.float32, "input"),
                tf.TensorSpec((None,), tf.int32, "label")]

    def build_graph(self, image, label):
        image = tf.expand_dims(image, 3) * 2 - 1
        with argscope(Conv2D, kernel_size=3, activation=tf.nn.relu, filters=4):
            logits = (LinearWrap(image)
                      .Conv2D("conv0")
                      .MaxPooling("pool0", 2)
                      .Conv2D("conv1")
                      .FullyConnected("fc0", 16, activation=tf.nn.relu)
                      .Dropout("dropout", rate=0.5)
                      .FullyConnected("fc1", 3, activation=tf.identity)())
        tf.nn.softmax(logits, name="prob")
        cost = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            logits=logits, labels=label), name="cross_entropy_loss")
        correct = tf.cast(tf.nn.in_top_k(predictions=logits, targets=label, k=1), tf.float32,
                          name="correct")
        accuracy = tf.reduce_mean(correct, name="accuracy")
        wd_cost = tf.multiply(1e-5, regularize_cost("fc.*/W", tf.nn.l2_loss),
                              name="regularize_loss")
        total_cost = tf.add_n([wd_cost, cost], name="total_cost")
        summary.add_moving_summary(cost, wd_cost, total_cost, accuracy)
        summary.add_param_summary((".*/W", ["histogram", "rms"]))
        return total_cost

    def optimizer(self):
        lr = tfv1.train.exponential_decay(learning_rate=1e-2, global_step=get_global_step_var(),
                                          decay_steps=10, decay_rate=0.5, staircase=True,
                                          name="learning_rate")
        tfv1.summary.scalar("lr", lr)
        return tfv1.train.AdamOptimizer(lr)


def _data(n, seed):
    rng = np.random.RandomState(seed)
    return [[rng.rand(8, 8).astype("float32") + (i % 3), i % 3] for i in range(n)]


def test_mnist_style_script(logdir, fresh_graph):
    config = TrainConfig(
        model=Model(),
        dataflow=BatchData(DataFromList(_data(64, 0)), 16),
        callbacks=[ModelSaver(),
                   InferenceRunner(BatchData(DataFromList(_data(16, 1), shuffle=False), 8),
                                   ScalarStats(["cross_entropy_loss", "accuracy"])),
                   MaxSaver("validation_accuracy")],
        steps_per_epoch=4, max_epoch=3)
    launch_train_with_config(config, SimpleTrainer())
    with open(os.path.join(logdir, "stats.json")) as f:
        stats = json.load(f)
    assert len(stats) == 3
    for key in ["validation_accuracy", "validation_cross_entropy_loss", "total_cost",
                "regularize_loss", "lr"]:
        assert key in stats[-1], (key, sorted(stats[-1]))
    assert stats[-1]["lr"] < stats[0]["lr"]  # the staircase decay followed the global step
    assert glob.glob(os.path.join(logdir, "max-validation_accuracy.index"))
    assert glob.glob(os.path.join(logdir, "model-12.index"))

    tfv1.reset_default_graph()
    pred = OfflinePredictor(PredictConfig(
        model=Model(), session_init=SmartInit(os.path.join(logdir, "checkpoint")),
        input_names=["input"], output_names=["prob"]))
    prob = pred(np.zeros((2, 8, 8), "float32"))[0]
    np.testing.assert_allclose(prob.sum(1), 1, rtol=1e-5)
