#!/usr/bin/env python
"""DataFlow throughput, this project vs upstream tensorpack 0.11, measured in the same run.

(a) ``augment``: ``MultiProcessRunnerZMQ`` over a CPU-heavy augmentation pipeline on
    CIFAR-sized uint8 images (random crop with padding, horizontal flip, brightness), the
    same NumPy code and worker count on both sides; datapoints/s at the consumer.
(b) ``overhead``: ``MapData`` + ``BatchData`` on tiny datapoints in one process; input
    datapoints/s, i.e. the per-datapoint cost of the DataFlow machinery itself.

Each side runs in its own process (upstream from its own virtualenv); runs alternate,
``--repeat`` times, and the best of each side is compared (target >= 1.0x for both).

With ``--augmentor imgaug`` (a) uses each side's own ``imgaug`` (CenterPaste, RandomCrop,
Flip, Brightness through ``AugmentImageComponent``) instead of the shared NumPy function.

Usage: ``python bench/bench_dataflow.py [--repeat 3] [--num-proc 2] [--count 20000]
[--augmentor numpy|imgaug]``
"""
import argparse
import os
import sys
import tempfile

from tabulate import tabulate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import UPSTREAM_PYTHON, ratio, run_python  # noqa: E402

WORKER = r'''
import json, sys, time
import numpy as np
from tensorpack.dataflow import BatchData, DataFromList, MapData, MultiProcessRunnerZMQ

scenario, num_proc, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
augmentor = sys.argv[4]

def augment(dp):
    """Random 32x32 crop of the 4-pixel padded image, random flip, random brightness."""
    img, label = dp
    rng = np.random
    padded = np.pad(img, ((4, 4), (4, 4), (0, 0)), mode="reflect")
    y, x = rng.randint(0, 9, size=2)
    img = padded[y:y + 32, x:x + 32]
    if rng.rand() < 0.5:
        img = img[:, ::-1]
    img = np.clip(img.astype(np.float32) + rng.uniform(-63, 63), 0, 255).astype(np.uint8)
    return [img, label]

def endless(df):
    while True:  # one pass of a runner is len(ds) datapoints
        yield from df

def rate(df, count, warmup):
    itr = endless(df)
    for _ in range(warmup):
        next(itr)
    t0 = time.perf_counter()
    for _ in range(count):
        next(itr)
    return count / (time.perf_counter() - t0)

rng = np.random.RandomState(0)
if scenario == "augment":
    images = [[rng.randint(0, 256, (32, 32, 3)).astype(np.uint8), int(i % 10)]
              for i in range(1000)]
    df = DataFromList(images, shuffle=True)
    if augmentor == "imgaug":  # each side's own imgaug, as upstream's CIFAR examples use it
        from tensorpack.dataflow import AugmentImageComponent, imgaug
        df = AugmentImageComponent(df, [imgaug.CenterPaste((40, 40)), imgaug.RandomCrop((32, 32)),
                                        imgaug.Flip(horiz=True), imgaug.Brightness(63)])
    else:
        df = MapData(df, augment)
    df = MultiProcessRunnerZMQ(df, num_proc)
    df.reset_state()
    value = rate(df, count, 500)
    # stop the workers: upstream's would outlive us (and hold our stdout) otherwise
    df.close() if hasattr(df, "close") else df.__del__()
else:
    batch = 64
    tiny = [[i, float(i)] for i in range(count)]
    df = BatchData(MapData(DataFromList(tiny, shuffle=False), lambda dp: [dp[0] + 1, dp[1]]),
                   batch)
    df.reset_state()
    value = 0.0
    for _ in range(3):  # whole passes; the best of three
        t0 = time.perf_counter()
        batches = sum(1 for _ in df)
        value = max(value, batches * batch / (time.perf_counter() - t0))
print("RESULT " + json.dumps({"rate": value}))
'''

SCENARIOS = {
    "augment": "(a) MultiProcessRunnerZMQ, crop+flip+brightness, 32x32x3 uint8",
    "overhead": "(b) MapData + BatchData(64), tiny datapoints, one process",
}


def main():
    parser = argparse.ArgumentParser(description="DataFlow throughput: ours vs upstream 0.11")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--num-proc", type=int, default=2, help="workers in (a)")
    parser.add_argument("--count", type=int, default=20000,
                        help="datapoints timed per run of (a); (b) uses 10x as many")
    parser.add_argument("--scenario", choices=["all"] + sorted(SCENARIOS), default="all")
    parser.add_argument("--augmentor", choices=["numpy", "imgaug"], default="numpy",
                        help="(a)'s augmentation: the same NumPy function on both sides "
                             "(isolates the runner), or each side's imgaug (CenterPaste, "
                             "RandomCrop, Flip, Brightness)")
    parser.add_argument("--upstream-python", default=UPSTREAM_PYTHON)
    args = parser.parse_args()

    sides = {"ours": (sys.executable, True), "upstream": (args.upstream_python, False)}
    names = sorted(SCENARIOS) if args.scenario == "all" else [args.scenario]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_dataflow_") as work:
        for name in names:
            best = {k: 0.0 for k in sides}
            for rep in range(args.repeat):
                for label, (python, ours) in sides.items():
                    count = args.count * (10 if name == "overhead" else 1)
                    res = run_python(WORKER, args=[name, args.num_proc, count, args.augmentor],
                                     python=python, ours=ours, cwd=work).json()
                    best[label] = max(best[label], res["rate"])
                    print("{} run {} {:>8}: {:10.0f} datapoints/s".format(
                        name, rep + 1, label, res["rate"]), flush=True)
            rows.append([SCENARIOS[name], "{:.0f}".format(best["ours"]),
                         "{:.0f}".format(best["upstream"]),
                         ratio(best["ours"], best["upstream"])])
    print()
    print("(a): {} workers, {} augmentation".format(args.num_proc, args.augmentor))
    print(tabulate(rows, headers=["scenario (best datapoints/s of {})".format(args.repeat),
                                  "ours", "upstream 0.11", "ours/upstream"]))


if __name__ == "__main__":
    main()
