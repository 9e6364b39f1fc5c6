#!/usr/bin/env python
"""Issue 2's checkpoint I/O benchmarks: this project's TensorFlow-free core and scripts vs
the TensorFlow way, measured side by side in one run.

(a) Listing a checkpoint, whole process, wall time (import included on both sides):
    ``scripts/ls-checkpoint.py P`` vs ``python -c "import tensorflow as tf;
    r = tf.train.load_checkpoint(P); r.get_variable_to_shape_map();
    r.get_variable_to_dtype_map()"``, on a 1 GiB / 200-variable and a 10,000-variable
    checkpoint. Target: ours <= 0.15x (1 GiB / 200 variables).
(b) Reading every tensor with checksums verified, in-process, warm page cache, import
    excluded: ``TFCheckpointSource(P, verify=True).read`` vs TF's reader ``get_tensor``.
    Throughput ratio; target ours >= 0.8x.
(c) Converting the 1 GiB checkpoint to .npz, whole process: ``checkpoint-manipulate P
    --dump out.npz`` (and ``dump-model-params P out.npz``) vs ``NewCheckpointReader`` +
    ``np.savez``. Wall time and peak RSS; target ours <= 0.1x peak memory.

Data is made once with this project's writer under ``bench/_work/checkpoint_io/`` (kept for
re-runs). Each measurement alternates ours / TF; the best of ``--repeat`` runs is reported.

Usage::

    python bench/bench_checkpoint_io.py            # full size (needs ~3 GiB of disk)
    python bench/bench_checkpoint_io.py --quick    # small sizes, a quick smoke run
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np
from tabulate import tabulate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

LIST_TF = ("import sys, tensorflow as tf\n"
           "r = tf.train.load_checkpoint(sys.argv[1])\n"
           "r.get_variable_to_shape_map(); r.get_variable_to_dtype_map()\n")

READ_OURS = r"""
import sys, time, json
from tensorpack.checkpoint.bundle import TFCheckpointSource
from tensorpack.checkpoint import crc32c
prefix, repeat = sys.argv[1], int(sys.argv[2])
times = []
for _ in range(repeat + 1):          # the first pass warms the page cache
    t = time.perf_counter()
    with TFCheckpointSource(prefix, verify=True) as src:
        n = 0
        for name in src.keys():
            n += src.read(name).nbytes
    times.append(time.perf_counter() - t)
print("RESULT " + json.dumps({"seconds": min(times[1:]), "bytes": n,
                              "crc": getattr(crc32c, "BACKEND", "?")}))
"""

READ_TF = r"""
import sys, time, json
import tensorflow as tf
prefix, repeat = sys.argv[1], int(sys.argv[2])
times = []
for _ in range(repeat + 1):
    t = time.perf_counter()
    r = tf.compat.v1.train.NewCheckpointReader(prefix)
    n = 0
    for name in r.get_variable_to_shape_map():
        n += r.get_tensor(name).nbytes
    times.append(time.perf_counter() - t)
print("RESULT " + json.dumps({"seconds": min(times[1:]), "bytes": n}))
"""

CONVERT_TF = ("import sys, numpy as np, tensorflow as tf\n"
              "r = tf.compat.v1.train.NewCheckpointReader(sys.argv[1])\n"
              "np.savez(sys.argv[2], **{k: r.get_tensor(k) "
              "for k in r.get_variable_to_shape_map()})\n")


def make_checkpoint(prefix, num_vars, total_bytes, seed=0):
    """A float32 checkpoint of ``num_vars`` tensors of about ``total_bytes`` in all, written
    by this project's streaming writer. Reused if it already exists with these sizes."""
    manifest = prefix + ".bench.json"
    want = {"num_vars": num_vars, "total_bytes": total_bytes, "seed": seed}
    if os.path.isfile(prefix + ".index") and os.path.isfile(manifest):
        with open(manifest) as f:
            if json.load(f) == want:
                return prefix
    from tensorpack.checkpoint.bundle_writer import write_tf_checkpoint
    per = max(1, total_bytes // (4 * num_vars))
    rng = np.random.default_rng(seed)
    width = len(str(num_vars - 1))

    def tensors():
        for i in range(num_vars):
            # realistic names: a few hundred scopes, W and b alternating
            name = "block{:0{w}d}/conv{}/{}".format(i // 8, (i % 8) // 2, "W" if i % 2 else "b",
                                                    w=width)
            yield name, rng.standard_normal(per, dtype=np.float32)
    write_tf_checkpoint(prefix, tensors())
    with open(manifest, "w") as f:
        json.dump(want, f)
    return prefix


def ls_process(prefix):
    return C.run_process([sys.executable, os.path.join(C.REPO, "scripts", "ls-checkpoint.py"),
                          prefix], stdout=subprocess.DEVNULL)


def tf_list_process(prefix):
    return C.run_python(LIST_TF, [prefix])


def alternate(fns, repeat):
    """Run each function ``repeat`` times, interleaved; returns a list of results per fn."""
    results = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            results[i].append(fn())
    return results


def bench_listing(ckpts, repeat):
    rows = []
    for label, prefix, has_target in ckpts:
        ours, theirs = alternate([lambda: ls_process(prefix), lambda: tf_list_process(prefix)],
                                 repeat)
        o = C.best([r.wall for r in ours])
        t = C.best([r.wall for r in theirs])
        rows.append(["(a) list " + label, "{:.3f} s".format(o), "{:.3f} s".format(t),
                     C.ratio(o, t), "<= 0.15x" if has_target else "(report)",
                     _met(o / t, 0.15, le=True) if has_target else "-"])
        rows.append(["(a)   same runs, peak RSS", C.human_bytes(max(r.peak_rss for r in ours)),
                     C.human_bytes(max(r.peak_rss for r in theirs)),
                     C.ratio(max(r.peak_rss for r in ours), max(r.peak_rss for r in theirs)),
                     "", ""])
    return rows


def bench_read(prefix, repeat):
    ours = C.run_python(READ_OURS, [prefix, repeat]).json()
    theirs = C.run_python(READ_TF, [prefix, repeat]).json()
    assert ours["bytes"] == theirs["bytes"], (ours, theirs)
    o_tp = ours["bytes"] / ours["seconds"] / 2**30
    t_tp = theirs["bytes"] / theirs["seconds"] / 2**30
    return [["(b) read all, crc verified ({})".format(ours["crc"]),
             "{:.2f} GiB/s ({:.3f} s)".format(o_tp, ours["seconds"]),
             "{:.2f} GiB/s ({:.3f} s)".format(t_tp, theirs["seconds"]),
             C.ratio(o_tp, t_tp) + " throughput", ">= 0.8x", _met(o_tp / t_tp, 0.8, le=False)]]


def bench_convert(prefix, out_dir, repeat):
    out = os.path.join(out_dir, "converted.npz")

    def ours_manip():
        r = C.run_process([sys.executable, os.path.join(C.REPO, "scripts",
                                                          "checkpoint-manipulate.py"),
                           prefix, "--dump", out])
        os.remove(out)
        return r

    def ours_dump():
        r = C.run_process([sys.executable, os.path.join(C.REPO, "scripts",
                                                          "dump-model-params.py"), prefix, out])
        os.remove(out)
        return r

    def theirs():
        r = C.run_python(CONVERT_TF, [prefix, out])
        os.remove(out)
        return r

    m, d, t = alternate([ours_manip, ours_dump, theirs], repeat)
    rows = []
    t_wall, t_rss = C.best([r.wall for r in t]), max(r.peak_rss for r in t)
    for label, runs in (("checkpoint-manipulate --dump", m), ("dump-model-params", d)):
        wall, rss = C.best([r.wall for r in runs]), max(r.peak_rss for r in runs)
        rows.append(["(c) to npz: " + label + ", peak RSS", C.human_bytes(rss),
                     C.human_bytes(t_rss), C.ratio(rss, t_rss), "<= 0.1x",
                     _met(rss / t_rss, 0.1, le=True)])
        rows.append(["(c)   same runs, wall time", "{:.2f} s".format(wall),
                     "{:.2f} s".format(t_wall), C.ratio(wall, t_wall), "(report)", "-"])
    return rows


def _met(value, target, le):
    return "yes" if (value <= target if le else value >= target) else "NO"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (64 MiB, 1,000 vars)")
    p.add_argument("--repeat", type=int, default=None, help="runs per measurement")
    p.add_argument("--clean", action="store_true", help="delete the generated data at the end")
    args = p.parse_args()
    big = (64 << 20) if args.quick else (1 << 30)
    many = 1000 if args.quick else 10000
    repeat = args.repeat or (1 if args.quick else 3)
    work = C.work_dir("checkpoint_io" + ("_quick" if args.quick else ""))

    sys.path.insert(0, C.REPO)
    big_label = "{} / 200 vars".format(C.human_bytes(big))
    print("Preparing data in {} ...".format(work), flush=True)
    big_ckpt = make_checkpoint(os.path.join(work, "big", "model-1"), 200, big)
    many_ckpt = make_checkpoint(os.path.join(work, "many", "model-1"), many, many * 1024)

    rows = []
    rows += bench_listing([(big_label, big_ckpt, True),
                           ("{:,} vars ({})".format(many, C.human_bytes(many * 1024)),
                            many_ckpt, False)], repeat)
    rows += bench_read(big_ckpt, repeat)
    rows += bench_convert(big_ckpt, work, repeat)
    print()
    print("checkpoint I/O: this project vs TensorFlow 2 ({} python, best of {})".format(
        sys.version.split()[0], repeat))
    print(tabulate(rows, headers=["measure", "ours", "TensorFlow", "ratio ours/TF", "target",
                                  "met"], disable_numparse=True))
    if args.clean:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
