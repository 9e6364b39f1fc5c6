#!/usr/bin/env python
"""Several devices: training steps/s of a small convnet on 2 towers placed on 2 CPU devices,
this project vs upstream 0.11, and ModelSaver's save time with 2 towers vs one device.

Both sides run the same worker script (plain ``tf.nn`` layers, since upstream's layers need
``tf.layers``, gone with Keras 3; QueueInput; the session configured with
``device_count={'CPU': 2}``) in separate processes, alternating, ``--repeat`` times; the best
steps/s of each side is compared (target >= 1.0x). Upstream places towers on ``/gpu:k`` and
relies on soft placement, so on a machine without GPU its towers share one CPU device.

The save time is measured in this project only: after training, ``ModelSaver`` saves the same
model ``--saves`` times from a 2-tower replicated run and from a one-device run, one after
the other in each repetition; the median of the per-repetition ratios is reported (target
<= 1.1x: replicas are not written).

Usage: ``python bench/bench_multidevice.py [--steps 200] [--epochs 3] [--repeat 3]``
"""
import argparse
import os
import sys
import tempfile

from tabulate import tabulate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import UPSTREAM_PYTHON, median, ratio, run_python  # noqa: E402

WORKER = r'''
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
tf.compat.v1.disable_eager_execution()
from tensorpack import (BatchData, Callback, DataFromList, ModelDesc, ModelSaver, QueueInput,
                        SimpleTrainer, SyncMultiGPUTrainerParameterServer,
                        SyncMultiGPUTrainerReplicated, TrainConfig, launch_train_with_config,
                        logger)
tfv1 = tf.compat.v1
kind, steps, epochs, logdir, saves, width = sys.argv[1:7]
steps, epochs, saves, width = int(steps), int(epochs), int(saves), int(width)

def var(name, shape, init=None):
    return tfv1.get_variable(name, shape, initializer=init)

class ConvNet(ModelDesc):
    def inputs(self):
        return [tf.TensorSpec((None, 24, 24, 3), tf.float32, "x"),
                tf.TensorSpec((None,), tf.int32, "y")]
    def build_graph(self, x, y):
        h = x
        for i, ch in enumerate([width, width * 2]):
            with tfv1.variable_scope("conv{}".format(i)):
                w = var("W", [3, 3, h.shape[-1], ch])
                b = var("b", [ch], tfv1.zeros_initializer())
                h = tf.nn.relu(tf.nn.conv2d(h, w, 1, "SAME") + b)
                h = tf.nn.max_pool2d(h, 2, 2, "VALID")
        h = tf.reshape(h, [-1, int(np.prod(h.shape[1:]))])
        with tfv1.variable_scope("fc0"):
            h = tf.nn.relu(tf.matmul(h, var("W", [h.shape[1], 256])) +
                           var("b", [256], tfv1.zeros_initializer()))
        with tfv1.variable_scope("fc1"):
            logits = tf.matmul(h, var("W", [256, 10])) + var("b", [10], tfv1.zeros_initializer())
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=y, logits=logits), name="cost")
    def optimizer(self):
        return tfv1.train.MomentumOptimizer(0.01, 0.9)

class Clock(Callback):
    """Times epochs 2..N (epoch 1 warms up); then times ModelSaver's saves."""
    def __init__(self, saver):
        self.saver = saver
        self.save_times = []
    def _before_epoch(self):
        if self.epoch_num == 2:
            self.t0 = time.perf_counter()
    def _after_train(self):
        self.t1 = time.perf_counter()
        self.t0 = getattr(self, "t0", self.t1)
        for _ in range(saves):
            t = time.perf_counter()
            self.saver.trigger()
            self.save_times.append(time.perf_counter() - t)

rng = np.random.RandomState(0)
points = [[rng.rand(24, 24, 3).astype("float32"), np.int32(i % 10)] for i in range(256)]
logger.set_logger_dir(logdir, action="d")
saver = ModelSaver(max_to_keep=2)
clock = Clock(saver)
config = TrainConfig(model=ConvNet(), data=QueueInput(BatchData(DataFromList(points), 16)),
                     callbacks=[saver, clock], steps_per_epoch=steps, max_epoch=epochs,
                     session_config=tfv1.ConfigProto(device_count={"CPU": 2},
                                                     allow_soft_placement=True))
trainer = {"replicated": lambda: SyncMultiGPUTrainerReplicated(2),
           "ps": lambda: SyncMultiGPUTrainerParameterServer(2),
           "simple": lambda: SimpleTrainer()}[kind]()
launch_train_with_config(config, trainer)
timed = steps * (epochs - 1)
print("RESULT " + json.dumps({"steps_per_sec": timed / max(clock.t1 - clock.t0, 1e-9),
                              "save_times": clock.save_times}))
'''


def run(python, ours, kind, args, workdir, label, saves=0, width=None, steps=None, epochs=None):
    logdir = os.path.join(workdir, "log-{}-{}".format(label, kind))
    res = run_python(WORKER, args=[kind, steps or args.steps, epochs or args.epochs, logdir,
                                   saves, width or args.width],
                     python=python, ours=ours, env={"TENSORPACK_PROGRESS_REFRESH": "1000"},
                     cwd=workdir)
    return res.json()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="epochs (the first is warm-up)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--width", type=int, default=16, help="channels of the first conv")
    parser.add_argument("--saves", type=int, default=9, help="saves timed per run")
    parser.add_argument("--save-width", type=int, default=512,
                        help="channels of the first conv for the save timing (a ~110 MiB "
                        "checkpoint with the optimizer's slots)")
    parser.add_argument("--upstream-python", default=UPSTREAM_PYTHON)
    args = parser.parse_args()

    sides = {"ours": (sys.executable, True), "upstream": (args.upstream_python, False)}
    speed = {(s, k): 0.0 for s in sides for k in ("replicated", "ps")}
    saves = {"replicated": [], "simple": []}
    pair_ratios = []  # per repetition: the two runs were measured under similar load
    with tempfile.TemporaryDirectory(prefix="bench_multidevice_") as work:
        for rep in range(args.repeat):
            for kind in ("replicated", "ps"):
                for side, (python, ours) in sides.items():
                    r = run(python, ours, kind, args, work, side)
                    speed[side, kind] = max(speed[side, kind], r["steps_per_sec"])
                    print("run {} {:>8} {:>10}: {:7.2f} steps/s".format(
                        rep + 1, side, kind, r["steps_per_sec"]), flush=True)
            # alternate which goes first: the machine's load drifts between runs
            for kind in ("replicated", "simple")[::1 if rep % 2 == 0 else -1]:
                # a bigger model, trained for 2 steps only: its saves are what is timed
                r = run(sys.executable, True, kind, args, work, "ours-save", saves=args.saves,
                        width=args.save_width, steps=2, epochs=1)
                saves[kind].append(median(r["save_times"][1:]))  # the first save warms up
                print("run {} save {:>10}: median {:.4f} s".format(
                    rep + 1, kind, saves[kind][-1]), flush=True)
            pair_ratios.append(saves["replicated"][-1] / saves["simple"][-1])
    rows = []
    for kind in ("replicated", "ps"):
        rows.append(["{} (2 towers, 2 CPU devices)".format(kind),
                     "{:.2f}".format(speed["ours", kind]),
                     "{:.2f}".format(speed["upstream", kind]),
                     ratio(speed["ours", kind], speed["upstream", kind])])
    print()
    print(tabulate(rows, headers=["convnet steps/s (best of {})".format(args.repeat), "ours",
                                  "upstream 0.11", "ours/upstream"]))
    print()
    rep_t, one_t = median(saves["replicated"]), median(saves["simple"])
    print(tabulate([["ModelSaver, 2 replicated towers", "{:.4f}".format(rep_t)],
                    ["ModelSaver, one device", "{:.4f}".format(one_t)],
                    ["ratio 2 towers / one device (median of per-run ratios)",
                     "{:.2f}x".format(median(pair_ratios))]],
                   headers=["save time (median s over runs)", ""]))


if __name__ == "__main__":
    main()
