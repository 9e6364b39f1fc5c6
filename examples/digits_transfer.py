#!/usr/bin/env python
"""Train, save, transfer, predict: the whole save/load story on real data in a few seconds.

1. Train a small classifier of the 10 digits of scikit-learn's bundled 8x8 digits (no
   download). ModelSaver keeps checkpoints; an InferenceRunner measures the validation error
   every epoch and MinSaver keeps a copy of the best model as ``min-validation_error``.
2. Fine-tune it on a new task, "is the digit even or odd?", from only a few labelled
   examples: the same network with its last layer *renamed* (``linear`` -> ``linear_parity``,
   10 -> 2 outputs). Step 1's best checkpoint is first reduced to the model's weights
   (``dump-model-params``: no step counter, no optimizer slots), as tensorpack recommends for
   transfer learning, so fine-tuning starts its own step count and optimizer state. SmartInit
   loads every weight whose name matches; the renamed layer matches nothing, so it starts
   fresh and is trained.
3. Load the best fine-tuned checkpoint into an OfflinePredictor and print the accuracy on
   held-out test images, next to the same network trained from scratch on the same examples.

Run: ``python examples/digits_transfer.py`` (outputs in ``train_log/digits_transfer/``).
"""
import argparse
import glob
import os

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from tensorpack import (BatchData, ClassificationError, DataFromList, FullyConnected,
                        InferenceRunner, MinSaver, ModelDesc, ModelSaver, OfflinePredictor,
                        PredictConfig, ScalarStats, SimpleTrainer, SmartInit, TrainConfig,
                        launch_train_with_config, logger)
from tensorpack.compat import tfv1
from tensorpack.tfutils.summary import add_moving_summary
from tensorpack.tools.dump_model_params import main as dump_model_params


class DigitsModel(ModelDesc):
    """A 64-128-64-N multilayer perceptron; the last layer's name is configurable."""

    def __init__(self, num_classes, last_layer="linear", learning_rate=0.05):
        self.num_classes = num_classes
        self.last_layer = last_layer
        self.learning_rate = learning_rate

    def inputs(self):
        return [tf.TensorSpec((None, 64), tf.float32, "input"),
                tf.TensorSpec((None,), tf.int32, "label")]

    def build_graph(self, image, label):
        x = FullyConnected("fc0", image, 128, activation=tf.nn.relu)
        x = FullyConnected("fc1", x, 64, activation=tf.nn.relu)
        logits = FullyConnected(self.last_layer, x, self.num_classes)
        tf.nn.softmax(logits, name="prob")

        cost = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=label, logits=logits), name="cross_entropy_loss")
        wrong = tf.cast(tf.logical_not(tf.nn.in_top_k(predictions=logits, targets=label, k=1)),
                        tf.float32, name="incorrect_vector")
        add_moving_summary(cost, tf.reduce_mean(wrong, name="train_error"))
        return cost

    def optimizer(self):
        return tfv1.train.MomentumOptimizer(self.learning_rate, 0.9)


def split(digits, seed):
    """Images scaled to [0, 1] and digit labels, split into train / validation / test."""
    images = (digits.data / 16.0).astype("float32")
    labels = digits.target.astype("int32")
    x_train, x_rest, y_train, y_rest = train_test_split(
        images, labels, test_size=0.3, random_state=seed, stratify=labels)
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=seed, stratify=y_rest)
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def datapoints(x, y):
    """Pair images with labels: the datapoints ``[image, label]`` of a DataFlow."""
    return [[a, b] for a, b in zip(x, y)]


def train(model, train_dps, val_dps, logdir, epochs, session_init=None, batch=32):
    """Train ``model`` with checkpoints in ``logdir``; return the best checkpoint's path."""
    logger.set_logger_dir(logdir, action="d")  # 'd': start clean, never prompt
    config = TrainConfig(
        model=model,
        dataflow=BatchData(DataFromList(train_dps, shuffle=True), min(batch, len(train_dps))),
        callbacks=[
            ModelSaver(max_to_keep=2),
            InferenceRunner(BatchData(DataFromList(val_dps, shuffle=False), 64, remainder=True),
                            [ScalarStats("cross_entropy_loss"), ClassificationError()]),
            MinSaver("validation_error"),  # copies the best checkpoint to min-validation_error
        ],
        session_init=session_init,
        max_epoch=epochs,
    )
    launch_train_with_config(config, SimpleTrainer())
    return os.path.join(logdir, "min-validation_error")


def weights_only(checkpoint, logdir, out):
    """Keep the model's weights of a checkpoint, as ``dump-model-params`` does: the variables
    its metagraph marks trainable or model variables. The global step and the optimizer's
    slots stay behind, so a run loading the result starts at step 0 with a fresh optimizer."""
    meta = max(glob.glob(os.path.join(logdir, "graph-*.meta")), key=os.path.getmtime)
    if dump_model_params(["--meta", meta, checkpoint, out]) != 0:
        raise RuntimeError("dump-model-params failed on {}".format(checkpoint))
    return out


def accuracy(model, checkpoint, test):
    """Accuracy of ``checkpoint`` on ``test``, through an OfflinePredictor."""
    predictor = OfflinePredictor(PredictConfig(
        model=model, session_init=SmartInit(checkpoint),
        input_names=["input"], output_names=["prob"]))
    x, y = test
    prob, = predictor(x)
    return float(np.mean(prob.argmax(axis=1) == y))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logdir", default=os.path.join("train_log", "digits_transfer"))
    parser.add_argument("--epochs", type=int, default=20, help="epochs of each stage")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--few", type=int, default=30,
                        help="labelled examples of the new task for fine-tuning")
    args = parser.parse_args()
    np.random.seed(args.seed)
    tfv1.set_random_seed(args.seed)

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = split(load_digits(), args.seed)

    logger.info("==== Stage 1: train a 10-digit classifier ====")
    best_a = train(DigitsModel(10), datapoints(x_train, y_train), datapoints(x_val, y_val),
                   os.path.join(args.logdir, "pretrain"), args.epochs)
    acc_a = accuracy(DigitsModel(10), best_a, (x_test, y_test))

    logger.info("==== Stage 2: fine-tune for even/odd from {} examples, last layer renamed ===="
                .format(args.few))
    tfv1.reset_default_graph()
    parity = [datapoints(x, y % 2) for x, y in [(x_train, y_train), (x_val, y_val)]]
    few = parity[0][:args.few]
    test_b = (x_test, y_test % 2)
    model_b = DigitsModel(2, last_layer="linear_parity", learning_rate=0.02)
    weights = weights_only(best_a, os.path.join(args.logdir, "pretrain"),
                           os.path.join(args.logdir, "pretrain-weights.npz"))
    # Loads fc0/* and fc1/*; 'linear/*' in the file and 'linear_parity/*' in the graph match
    # nothing, which the restore report lists.
    best_b = train(model_b, few, parity[1], os.path.join(args.logdir, "finetune"),
                   args.epochs, session_init=SmartInit(weights), batch=10)
    acc_b = accuracy(DigitsModel(2, last_layer="linear_parity"), best_b, test_b)

    logger.info("==== For comparison: the same {} examples, trained from scratch ====".format(
        args.few))
    tfv1.reset_default_graph()
    best_c = train(DigitsModel(2, last_layer="linear_parity", learning_rate=0.02), few,
                   parity[1], os.path.join(args.logdir, "scratch"), args.epochs, batch=10)
    acc_c = accuracy(DigitsModel(2, last_layer="linear_parity"), best_c, test_b)

    logger.info("Test accuracy, 10 digits (best checkpoint {}): {:.2%}".format(best_a, acc_a))
    logger.info("Test accuracy, even/odd fine-tuned from {} examples ({}): {:.2%}".format(
        len(few), best_b, acc_b))
    logger.info("Test accuracy, even/odd from scratch on the same examples: {:.2%}".format(acc_c))
    print("digits   accuracy (10 classes, pre-trained):     {:.4f}".format(acc_a))
    print("even/odd accuracy (fine-tuned, {:3d} examples):    {:.4f}".format(len(few), acc_b))
    print("even/odd accuracy (from scratch, same examples): {:.4f}".format(acc_c))


if __name__ == "__main__":
    main()
