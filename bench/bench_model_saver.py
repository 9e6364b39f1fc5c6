#!/usr/bin/env python
"""ModelSaver save time on a 1 GiB model vs a raw ``tf.compat.v1.train.Saver.save``.

One process, one graph of ``--num-vars`` float32 variables of ``--mib`` MiB each (default
16 x 64 MiB = 1 GiB). Both sides save the same variables with the same settings (V2 format,
relative paths, ``max_to_keep=2``), into separate directories on the same file system; saves
alternate between the two sides (``--repeat`` each, after one untimed warm-up save each)
and the page cache is flushed (``sync``, untimed) before each save so that neither side pays
for the other's dirty pages. Reported:
the median and best time of each side and the ratio of medians (target <= 1.1x).

``ModelSaver(background=True)`` is measured too: the time its ``trigger()`` stalls training
(one session run copying the variables to host memory) against the synchronous save (target
<= 0.2x), the time until its files are complete, and the extra peak memory its snapshot
costs against the model's size (target <= 1.1x; the high-water mark of this process's RSS,
measured before any synchronous save).
Also reported, for information: MinSaver's atomic copy of one such checkpoint.

Usage: ``python bench/bench_model_saver.py [--mib 64] [--num-vars 16] [--repeat 5] [--dir D]``
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tabulate import tabulate  # noqa: E402

from _common import median, ratio  # noqa: E402  (bench/ is the script's directory)

import resource  # noqa: E402

from tensorpack.callbacks import ModelSaver  # noqa: E402
from tensorpack.callbacks.background import directory_writer  # noqa: E402
from tensorpack.checkpoint.published import publish_checkpoint  # noqa: E402
from tensorpack.compat import tfv1  # noqa: E402
from tensorpack.tfutils.common import get_global_step_var  # noqa: E402


class _Trainer:
    """Just what ModelSaver reads from a trainer."""
    global_step = 0
    epoch_num = 1


def build(num_vars, mib):
    n = mib * 1024 * 1024 // 4
    vs = [tfv1.get_variable("v{:02d}".format(i), shape=[n], dtype=tfv1.float32,
                            initializer=tfv1.random_uniform_initializer(seed=i))
          for i in range(num_vars)]
    gs = get_global_step_var()
    return vs, gs, tfv1.assign_add(gs, 1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mib", type=int, default=64, help="size of each variable")
    p.add_argument("--num-vars", type=int, default=16)
    p.add_argument("--repeat", type=int, default=5, help="saves per side")
    p.add_argument("--dir", default=None, help="where to save (default: a temp dir)")
    args = p.parse_args()

    root = tempfile.mkdtemp(prefix="bench_model_saver_", dir=args.dir)
    dir_ms, dir_raw = os.path.join(root, "modelsaver"), os.path.join(root, "raw")
    dir_bg = os.path.join(root, "background")
    os.makedirs(dir_raw)
    try:
        vs, gs, incr = build(args.num_vars, args.mib)
        cb = ModelSaver(max_to_keep=2, checkpoint_dir=dir_ms)
        cb_bg = ModelSaver(max_to_keep=2, checkpoint_dir=dir_bg, background=True)
        trainer = _Trainer()
        cb.setup_graph(trainer)
        cb_bg.setup_graph(trainer)
        raw = tfv1.train.Saver(var_list=vs + [gs], max_to_keep=2,
                               write_version=tfv1.train.SaverDef.V2, save_relative_paths=True)
        sess = tfv1.Session()
        t = time.perf_counter()
        sess.run(tfv1.global_variables_initializer())
        print("Initialized {} variables, {:.2f} GiB, in {:.1f}s; saving into {}".format(
            len(vs), args.num_vars * args.mib / 1024, time.perf_counter() - t, root))
        times = {"ModelSaver.trigger()": [], "raw Saver.save()": []}
        stall, complete = [], []
        with sess.as_default():
            cb.before_train()  # the metagraph, once per run (not timed)
            cb_bg.before_train()
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            for i in range(-1, args.repeat):  # the background saver, before any other save
                trainer.global_step = int(sess.run(incr))
                os.sync()
                t = time.perf_counter()
                cb_bg.trigger()
                t_stall = time.perf_counter() - t
                directory_writer(dir_bg).submit(lambda: None).result()  # until written
                if i >= 0:
                    stall.append(t_stall)
                    complete.append(time.perf_counter() - t)
            extra = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0
            for i in range(-1, args.repeat):  # round -1 warms both sides up, untimed
                trainer.global_step = int(sess.run(incr))
                for name in (list(times) if i % 2 == 0 else list(times)[::-1]):
                    os.sync()
                    t = time.perf_counter()
                    if name.startswith("ModelSaver"):
                        cb.trigger()
                    else:
                        raw.save(sess, os.path.join(dir_raw, "model"), global_step=gs,
                                 write_meta_graph=False)
                    if i >= 0:
                        times[name].append(time.perf_counter() - t)
            os.sync()
            prefix = tfv1.train.latest_checkpoint(dir_ms)
            t = time.perf_counter()
            publish_checkpoint(prefix, os.path.join(dir_ms, "min-bench"), {"global_step": 0})
            copy_time = time.perf_counter() - t
        sess.close()

        med = {k: median(v) for k, v in times.items()}
        gib = args.num_vars * args.mib / 1024
        rows = [[k, "{:.3f}".format(med[k]), "{:.3f}".format(min(v)),
                 "{:.2f}".format(gib / med[k]), len(v)] for k, v in times.items()]
        print(tabulate(rows, headers=["save of {:.2f} GiB".format(gib), "median s", "best s",
                                      "GiB/s (median)", "saves"]))
        print("ratio ModelSaver / raw Saver.save (medians): {}  (target <= 1.1x)".format(
            ratio(med["ModelSaver.trigger()"], med["raw Saver.save()"])))
        print("ModelSaver(background=True): training stalls {:.3f}s per save (median), files "
              "complete after {:.3f}s".format(median(stall), median(complete)))
        print("ratio background stall / synchronous save (medians): {}  (target <= 0.2x)".format(
            ratio(median(stall), med["ModelSaver.trigger()"])))
        print("background snapshot's extra peak memory / model size: {:.2f}x ({:.0f} MiB for "
              "{:.0f} MiB)  (target <= 1.1x)".format(extra / (gib * 2 ** 30), extra / 2 ** 20,
                                                     gib * 1024))
        print("MinSaver copy of one checkpoint (hard link, atomic): {:.4f}s".format(copy_time))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
