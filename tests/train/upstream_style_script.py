"""A training script written for upstream tensorpack 0.11, unchanged.

Usage: python upstream_style_script.py LOGDIR [INIT_CHECKPOINT]
Trains 2 epochs (ModelSaver, InferenceRunner, MinSaver, optional session_init), then predicts
with OfflinePredictor from LOGDIR/checkpoint and prints "PRED <shape> <mean prob>".
"""
import os
import sys

import numpy as np
import tensorflow as tf

from tensorpack import *  # noqa: F401,F403 - the classic way scripts import tensorpack
from tensorpack.tfutils.summary import add_moving_summary


def fc(name, x, units):
    with tf.compat.v1.variable_scope(name):
        w = tf.compat.v1.get_variable("W", [x.shape[1], units])
        b = tf.compat.v1.get_variable("b", [units], initializer=tf.compat.v1.zeros_initializer())
        return tf.matmul(x, w) + b


class Model(ModelDesc):
    def inputs(self):
        return [tf.TensorSpec((None, 4), tf.float32, "input"),
                tf.TensorSpec((None,), tf.int32, "label")]

    def build_graph(self, image, label):
        logits = fc("linear", tf.nn.relu(fc("hidden", image, 8)), 3)
        tf.nn.softmax(logits, name="prob")
        cost = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=label, logits=logits), name="cost")
        wrong = tf.cast(tf.logical_not(tf.nn.in_top_k(predictions=logits, targets=label, k=1)),
                        tf.float32, name="incorrect_vector")
        add_moving_summary(cost, tf.reduce_mean(wrong, name="train_error"))
        return cost

    def optimizer(self):
        return tf.compat.v1.train.GradientDescentOptimizer(0.1)


def get_data(n, seed):
    rng = np.random.RandomState(seed)
    pts = [[rng.randn(4).astype("float32") + (i % 3), np.int32(i % 3)] for i in range(n)]
    return DataFromList(pts, shuffle=False)


if __name__ == "__main__":
    logdir = sys.argv[1]
    logger.set_logger_dir(logdir, action="k")
    config = TrainConfig(
        model=Model(),
        dataflow=BatchData(get_data(48, 0), 8),
        callbacks=[ModelSaver(),
                   InferenceRunner(BatchData(get_data(16, 1), 8),
                                   [ScalarStats("cost"), ClassificationError("incorrect_vector")]),
                   MinSaver("validation_error")],
        session_init=SmartInit(sys.argv[2]) if len(sys.argv) > 2 else None,
        max_epoch=2,
    )
    launch_train_with_config(config, SimpleTrainer())

    pred = OfflinePredictor(PredictConfig(
        model=Model(), session_init=get_model_loader(os.path.join(logdir, "checkpoint")),
        input_names=["input"], output_names=["prob"]))
    prob = pred(np.ones((3, 4), "float32"))[0]
    print("PRED", prob.shape, float(prob.mean()))
