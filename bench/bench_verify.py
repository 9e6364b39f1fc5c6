#!/usr/bin/env python
"""Verify a run directory of ten 100 MB checkpoints: ``ls-checkpoint DIR --verify`` (reads
every tensor, checksums verified) vs reading them all with TensorFlow's reader
(``tf.train.load_checkpoint`` + ``get_tensor`` of every tensor), each a whole process,
alternating, warm page cache. Target: <= 1.0x TensorFlow's time.

Usage: ``python bench/bench_verify.py [--checkpoints 10] [--mib 100] [--repeat 3]``
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _common import REPO, median, ratio, run_process, run_python, work_dir  # noqa: E402

from tensorpack.checkpoint import save_tensors, write_checkpoint_state  # noqa: E402

TF_READ_ALL = """
import glob, sys
import tensorflow as tf
for index in sorted(glob.glob(sys.argv[1] + "/model-*.index")):
    reader = tf.train.load_checkpoint(index[:-len(".index")])
    for name in reader.get_variable_to_shape_map():
        reader.get_tensor(name)
"""


def make_run(d, n, mib):
    if os.path.exists(os.path.join(d, "checkpoint")):
        return
    os.makedirs(d, exist_ok=True)
    rng = np.random.RandomState(0)
    per = mib * 2 ** 20 // 4 // 20  # 20 float32 tensors per checkpoint
    paths = []
    for step in range(1, n + 1):
        tensors = {"layer{:02d}/W".format(i): rng.rand(per).astype(np.float32)
                   for i in range(20)}
        tensors["global_step"] = np.array(step, np.int64)
        paths.append(save_tensors(os.path.join(d, "model-{}".format(step)), tensors))
    write_checkpoint_state(d, paths[-1], paths)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoints", type=int, default=10)
    p.add_argument("--mib", type=int, default=100)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    d = os.path.join(work_dir("verify"), "{}x{}".format(args.checkpoints, args.mib))
    make_run(d, args.checkpoints, args.mib)
    ours, tf_times = [], []
    cmd = [sys.executable, os.path.join(REPO, "scripts", "ls-checkpoint.py"), d, "--verify"]
    run_process(cmd)
    run_python(TF_READ_ALL, [d])  # warm the page cache for both
    for i in range(args.repeat):
        for side in (("ours", "tf") if i % 2 == 0 else ("tf", "ours")):
            if side == "ours":
                ours.append(run_process(cmd).wall)
            else:
                tf_times.append(run_python(TF_READ_ALL, [d]).wall)
    gib = args.checkpoints * args.mib / 1024
    print("verify {} checkpoints x {} MiB ({:.2f} GiB), whole processes, medians of {}:".format(
        args.checkpoints, args.mib, gib, args.repeat))
    print("  ls-checkpoint --verify: {:.2f}s   TensorFlow's reader, every tensor: {:.2f}s".format(
        median(ours), median(tf_times)))
    print("ratio ours / TensorFlow: {}  (target <= 1.0x)".format(
        ratio(median(ours), median(tf_times))))


if __name__ == "__main__":
    main()
