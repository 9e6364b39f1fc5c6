#!/usr/bin/env python
"""Training-loop overhead: steps per second of a tiny model, this project vs upstream 0.11.

The same worker script (a tiny 2-layer MLP, FeedInput through SimpleTrainer, ModelSaver plus
the default callbacks and monitors) runs in separate processes: once with this project
(``PYTHONPATH`` = the repository) and once with upstream tensorpack 0.11 in its own virtualenv
(``--upstream-python``, default ``/work/venvs/upstream/bin/python``). Runs alternate, each side
``--repeat`` times; the best steps/s of each side is reported, and their ratio (target >= 1.0x).

Usage: ``python bench/bench_train_loop.py [--steps 2000] [--epochs 3] [--repeat 3]
[--input feed|queue]``
"""
import argparse
import os
import sys
import tempfile

from tabulate import tabulate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import UPSTREAM_PYTHON, ratio, run_python  # noqa: E402

WORKER = r'''
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
tf.compat.v1.disable_eager_execution()   # upstream needs graph mode set up front
from tensorpack import (BatchData, Callback, DataFromList, ModelDesc, ModelSaver, QueueInput,
                        SimpleTrainer, TrainConfig, launch_train_with_config, logger)
tfv1 = tf.compat.v1

def fc(name, x, units):
    # plain variables: upstream's FullyConnected needs tf.layers, gone with Keras 3
    with tfv1.variable_scope(name):
        w = tfv1.get_variable("W", [x.shape[1], units])
        b = tfv1.get_variable("b", [units], initializer=tfv1.zeros_initializer())
        return tf.matmul(x, w) + b

steps, epochs, logdir, input_kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]

class Tiny(ModelDesc):
    def inputs(self):
        return [tf.TensorSpec((None, 16), tf.float32, "x"), tf.TensorSpec((None,), tf.int32, "y")]
    def build_graph(self, x, y):
        h = tf.nn.relu(fc("fc0", x, 32))
        logits = fc("fc1", h, 4)
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=y, logits=logits), name="cost")
    def optimizer(self):
        return tf.compat.v1.train.GradientDescentOptimizer(0.01)

class Clock(Callback):
    """Times epochs 2..N (epoch 1 warms up), ModelSaver's saves included."""
    def _before_epoch(self):
        if self.epoch_num == 2:
            self.t0 = time.perf_counter()
    def _after_train(self):
        self.t1 = time.perf_counter()

rng = np.random.RandomState(0)
points = [[rng.rand(16).astype("float32"), np.int32(i % 4)] for i in range(256)]
logger.set_logger_dir(logdir, action="d")
clock = Clock()
df = BatchData(DataFromList(points, shuffle=False), 8)
data = dict(dataflow=df) if input_kind == "feed" else dict(data=QueueInput(df))
config = TrainConfig(model=Tiny(), callbacks=[clock, ModelSaver()], steps_per_epoch=steps,
                     max_epoch=epochs, **data)
launch_train_with_config(config, SimpleTrainer())
timed_steps = steps * (epochs - 1)
print("RESULT " + json.dumps({"steps_per_sec": timed_steps / (clock.t1 - clock.t0),
                              "steps": timed_steps}))
'''


def run_worker(python, ours, steps, epochs, workdir, label, input_kind):
    logdir = os.path.join(workdir, "log-" + label)
    # cwd is a temp dir, so upstream's python cannot pick up this repository by accident
    res = run_python(WORKER, args=[steps, epochs, logdir, input_kind], python=python, ours=ours,
                     env={"TENSORPACK_PROGRESS_REFRESH": "1000"}, cwd=workdir)
    return res.json()


def main():
    parser = argparse.ArgumentParser(description="Training-loop steps/s: ours vs upstream 0.11")
    parser.add_argument("--steps", type=int, default=2000, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="epochs (the first is warm-up)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--input", choices=["feed", "queue"], default="feed",
                        help="FeedInput (SimpleTrainer's default) or QueueInput")
    parser.add_argument("--upstream-python", default=UPSTREAM_PYTHON)
    args = parser.parse_args()

    sides = {"ours": (sys.executable, True), "upstream 0.11": (args.upstream_python, False)}
    best = {k: 0.0 for k in sides}
    with tempfile.TemporaryDirectory(prefix="bench_train_loop_") as work:
        for rep in range(args.repeat):
            for label, (python, ours) in sides.items():
                res = run_worker(python, ours, args.steps, args.epochs, work,
                                 label.split()[0], args.input)
                best[label] = max(best[label], res["steps_per_sec"])
                print("run {} {:>14}: {:8.1f} steps/s".format(rep + 1, label,
                                                              res["steps_per_sec"]),
                      flush=True)
    print()
    print(tabulate([["ours", "{:.1f}".format(best["ours"])],
                    ["upstream 0.11", "{:.1f}".format(best["upstream 0.11"])],
                    ["ratio ours/upstream", ratio(best["ours"], best["upstream 0.11"])]],
                   headers=["training loop (tiny MLP, {}, ModelSaver, {} timed steps)".format(
                       "FeedInput" if args.input == "feed" else "QueueInput",
                       args.steps * (args.epochs - 1)), "best steps/s of {}".format(
                           args.repeat)]))


if __name__ == "__main__":
    main()
