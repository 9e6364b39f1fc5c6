#!/usr/bin/env python
"""Graph construction time: a ResNet built with tensorpack's layers vs the same network
written with raw ``tf.compat.v1`` ops.

Both builders make the same computation in a training tower: convolutions without bias,
batch normalization with batch statistics (fused kernel) and its two moving-average updates
in ``UPDATE_OPS``, ReLU, residual additions, max pooling, global average pooling and a
fully-connected classifier, with the same variable names. The layer version is written as
upstream's examples write it (``argscope``, ``Conv2D(..., activation=BNReLU)``-style calls);
the raw version calls ``get_variable`` and ``tf.nn`` directly.

Cases: ResNet-18 (the target: <= 1.2x raw), ResNet-34, and ResNet-18 built as 4 towers
sharing variables in one graph (the ratio must not grow with the graph: layers must not do
per-call work proportional to what is already built). Each case alternates the two builders
``--repeat`` times in one process, each build in a fresh graph, and reports the best time
of each (noise on a shared machine only ever adds time).

Upstream 0.11 cannot be timed here: its Conv2D / BatchNorm / FullyConnected need ``tf.layers``,
which TensorFlow 2.21 (Keras 3) no longer has.

Usage: ``python bench/bench_graph_build.py [--repeat 7]``
"""
import argparse
import os
import sys

from tabulate import tabulate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import ratio, run_python  # noqa: E402

WORKER = r'''
import json, sys, time, logging
import tensorflow as tf
from tensorpack.compat import tfv1
from tensorpack.models import (BatchNorm, Conv2D, FullyConnected, GlobalAvgPooling,
                               MaxPooling, disable_layer_logging)
from tensorpack.tfutils.argscope import argscope
from tensorpack.tfutils.tower import TowerContext, TrainTowerContext

logging.getLogger("tensorpack").setLevel(logging.WARNING)
BLOCKS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3]}


# ---- with tensorpack's layers, in the style of upstream's examples/ResNet/resnet_model.py
def tp_bn_relu(x, name=None):
    return tf.nn.relu(BatchNorm("bn", x))


def tp_block(x, ch, stride):
    shortcut = x
    if x.shape[-1] != ch:
        shortcut = Conv2D("convshortcut", x, ch, 1, strides=stride,
                          activation=lambda t: BatchNorm("bnshortcut", t))
    x = Conv2D("conv1", x, ch, 3, strides=stride, activation=tp_bn_relu)
    x = Conv2D("conv2", x, ch, 3, activation=lambda t: BatchNorm("bn", t))
    return tf.nn.relu(x + shortcut)


def tp_resnet(image, depth):
    with argscope(Conv2D, use_bias=False,
                  kernel_initializer=tfv1.variance_scaling_initializer(2.0, mode="fan_out")):
        x = Conv2D("conv0", image, 64, 7, strides=2, activation=tp_bn_relu)
        x = MaxPooling("pool0", x, 3, strides=2, padding="SAME")
        for g, (ch, n) in enumerate(zip([64, 128, 256, 512], BLOCKS[depth])):
            for i in range(n):
                with tfv1.variable_scope("group{}/block{}".format(g, i)):
                    x = tp_block(x, ch, 2 if (i == 0 and g > 0) else 1)
        x = GlobalAvgPooling("gap", x)
        return FullyConnected("linear", x, 1000)


# ---- the same network with raw tf.compat.v1 ops
def raw_conv(x, ch, k, stride):
    w = tfv1.get_variable("W", [k, k, x.shape[-1], ch],
                          initializer=tfv1.variance_scaling_initializer(2.0, mode="fan_out"))
    return tf.nn.conv2d(x, w, [1, stride, stride, 1], "SAME")


def raw_bn(name, x, update=True):
    n = x.shape[-1]
    with tfv1.variable_scope(name):
        beta = tfv1.get_variable("beta", [n], initializer=tfv1.zeros_initializer())
        gamma = tfv1.get_variable("gamma", [n], initializer=tfv1.ones_initializer())
        mm = tfv1.get_variable("mean/EMA", [n], initializer=tfv1.zeros_initializer(),
                               trainable=False)
        mv = tfv1.get_variable("variance/EMA", [n], initializer=tfv1.ones_initializer(),
                               trainable=False)
        y, m, v = tfv1.nn.fused_batch_norm(x, gamma, beta, epsilon=1e-5, is_training=True)
        if update:
            tfv1.add_to_collection(tfv1.GraphKeys.UPDATE_OPS, tfv1.assign_sub(mm, (mm - m) * 0.1))
            tfv1.add_to_collection(tfv1.GraphKeys.UPDATE_OPS, tfv1.assign_sub(mv, (mv - v) * 0.1))
        return y


def raw_block(x, ch, stride, update):
    shortcut = x
    if x.shape[-1] != ch:
        with tfv1.variable_scope("convshortcut"):
            shortcut = raw_bn("bnshortcut", raw_conv(x, ch, 1, stride), update)
    with tfv1.variable_scope("conv1"):
        x = tf.nn.relu(raw_bn("bn", raw_conv(x, ch, 3, stride), update))
    with tfv1.variable_scope("conv2"):
        x = raw_bn("bn", raw_conv(x, ch, 3, 1), update)
    return tf.nn.relu(x + shortcut)


def raw_resnet(image, depth, update=True):
    with tfv1.variable_scope("conv0"):
        x = tf.nn.relu(raw_bn("bn", raw_conv(image, 64, 7, 2), update))
    x = tf.nn.max_pool2d(x, [1, 3, 3, 1], [1, 2, 2, 1], "SAME")
    for g, (ch, n) in enumerate(zip([64, 128, 256, 512], BLOCKS[depth])):
        for i in range(n):
            with tfv1.variable_scope("group{}/block{}".format(g, i)):
                x = raw_block(x, ch, 2 if (i == 0 and g > 0) else 1, update)
    x = tf.reduce_mean(x, [1, 2])
    with tfv1.variable_scope("linear"):
        w = tfv1.get_variable("W", [512, 1000])
        b = tfv1.get_variable("b", [1000], initializer=tfv1.zeros_initializer())
        return tf.nn.bias_add(tf.matmul(x, w), b)


def build(kind, depth, towers):
    g = tfv1.Graph()
    with g.as_default():
        image = tfv1.placeholder(tf.float32, [None, 224, 224, 3])
        t0 = time.perf_counter()
        for t in range(towers):
            reuse = t > 0
            with tfv1.variable_scope(tfv1.get_variable_scope(), reuse=reuse), \
                    TrainTowerContext("tower{}".format(t) if towers > 1 else "", index=t,
                                      total=towers):
                if kind == "tensorpack":
                    tp_resnet(image, depth)
                else:
                    raw_resnet(image, depth, update=(t == 0))
        elapsed = time.perf_counter() - t0
        names = sorted(v.op.name for v in tfv1.global_variables())
        nops = len(g.get_operations())
    return elapsed, names, nops


disable_layer_logging()
repeat = int(sys.argv[1])
out = {}
for case, depth, towers in [("ResNet-18", 18, 1), ("ResNet-34", 34, 1),
                            ("ResNet-18 x4 towers", 18, 4)]:
    times = {"tensorpack": [], "raw": []}
    build("tensorpack", depth, towers)  # warm-up: imports, caches
    build("raw", depth, towers)
    for _ in range(repeat):
        for kind in ("tensorpack", "raw"):
            elapsed, names, nops = build(kind, depth, towers)
            times[kind].append(elapsed)
            out.setdefault(case, {})[kind + "_vars"] = names
            out[case][kind + "_ops"] = nops
    out[case]["times"] = times
print("RESULT " + json.dumps(out))
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    opts = parser.parse_args()
    res = run_python(WORKER, [opts.repeat]).json()
    rows = []
    for case, r in res.items():
        if r["tensorpack_vars"] != r["raw_vars"]:
            raise RuntimeError("{}: the two builders made different variables".format(case))
        # best of the alternating runs: the machine is shared, noise only adds time
        tp, raw = min(r["times"]["tensorpack"]), min(r["times"]["raw"])
        rows.append([case, len(r["raw_vars"]), r["tensorpack_ops"], r["raw_ops"],
                     "{:.3f}".format(tp), "{:.3f}".format(raw), ratio(tp, raw)])
    print(tabulate(rows, headers=["model", "variables", "ops (layers)", "ops (raw)",
                                  "layers s (best)", "raw tf s (best)", "layers / raw"]))
    print("target: ResNet-18 <= 1.20x; the ratio should not grow with the graph")


if __name__ == "__main__":
    main()
