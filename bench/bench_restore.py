#!/usr/bin/env python
"""Restore into a freshly built graph: this project vs upstream tensorpack 0.11 vs raw TF.

Scenarios (``--scenario``):

* ``many``: 3,000 float32 variables, 64 MiB in all (1,500 layers of ``W`` and ``b``);
* ``big``: 200 float32 variables, 1 GiB in all;
* ``10k``: 10,000 float32 variables, 64 MiB in all (issue 11: <= 0.5x upstream).

For each scenario the data is written once (a TF checkpoint by ``tf.compat.v1.train.Saver``
and an uncompressed ``.npz`` whose keys carry ``:0``, as upstream's ``dump_session_params``
names them), then every measurement runs in its own fresh process, in one of two orders
(``--flow``, both by default):

* ``live``: build the graph, create the session and run the variables' initializer (all
  untimed), then time ``SmartInit(path).init(sess)``. The session already exists, so every
  op the restore adds makes TensorFlow re-import the whole graph into the session before
  the first run;
* ``setup``: the order of a trainer and of ``OfflinePredictor``: build the graph, time
  ``SmartInit(path)._setup_graph()``, create the session and run the initializer
  (untimed), then time ``_run_init(sess)``; the time is the sum of the two timed parts
  (memory: the second).

Measured in each flow:

* ``ours ckpt`` / ``ours npz``: ``SmartInit(path)`` with this repository;
* ``upstream ckpt`` / ``upstream npz``: the same calls with upstream tensorpack 0.11 (its own
  virtualenv, :data:`_common.UPSTREAM_PYTHON`, made on first use; in graph mode);
* ``raw Saver``: ``tf.compat.v1.train.Saver(var_list)`` and ``.restore(sess, prefix)``, the
  Saver's construction included (its restore-only time is printed too).

Reported per measurement: the wall time of the restore call (best of ``--repeat`` fresh
processes, run interleaved, after the data files were read once so the page cache is warm)
and the added peak RSS during it (RSS sampled every millisecond by a thread,
minus the RSS just before the call), with ratios against upstream and against raw Saver.
Targets (issue 3): ``many``: ours <= 0.8x upstream and <= 1.2x raw Saver;
``big``: added peak memory <= 0.5x upstream's. Issue 11: ``10k`` <= 0.5x upstream from a
checkpoint and from an npz; ``many`` <= 0.7x (checkpoint) and <= 0.5x (npz).

Usage: ``python bench/bench_restore.py [--scenario many big] [--repeat 2] [--flow live setup]``
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (REPO, UPSTREAM_PYTHON, human_bytes, ratio, run_python,  # noqa: E402
                     work_dir)

SCENARIOS = {
    # name: (number of variables, floats per variable as a 2-D shape)
    "many": (3000, (175, 32)),     # 3000 x 21.9 KiB = 64.1 MiB
    "big": (200, (2048, 655)),     # 200 x 5.12 MiB = 1023 MiB
    "10k": (10000, (52, 32)),      # 10000 x 6.5 KiB = 63.5 MiB
}

# The graph, shared by every worker (upstream's venv included): plain compat.v1 code.
_GRAPH = r'''
import os, sys, time, threading, json, resource
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
tf.compat.v1.disable_eager_execution()
tfv1 = tf.compat.v1
NUM, SHAPE = {num}, {shape}

def build():
    out = []
    for i in range(NUM // 2):
        with tfv1.variable_scope("layer%d" % i):
            out.append(tfv1.get_variable("W", SHAPE))
            # random (not zeros) initial values: a constant-folded zeros initializer keeps its
            # buffer alive in TF, which would add the model's size to every restore's memory
            out.append(tfv1.get_variable("b", SHAPE))
    return out

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

class Peak:
    def __enter__(self):
        self.base = rss()
        self.peak = self.base
        self.stop = False
        def loop():
            while not self.stop:
                self.peak = max(self.peak, rss())
                time.sleep(0.001)
        self.t = threading.Thread(target=loop, daemon=True)
        self.t.start()
        return self
    def __exit__(self, *a):
        self.stop = True
        self.t.join()
        self.peak = max(self.peak, rss())
'''

_MAKE = _GRAPH + r'''
data = sys.argv[1]
vs = build()
with tfv1.Session() as sess:
    sess.run(tfv1.global_variables_initializer())
    tfv1.train.Saver(vs).save(sess, os.path.join(data, "ckpt", "model-1"), write_meta_graph=False)
    # stream the npz: np.savez would need everything in memory at once
    import zipfile
    with zipfile.ZipFile(os.path.join(data, "model.npz.tmp"), "w", zipfile.ZIP_STORED,
                         allowZip64=True) as z:
        step = max(1, len(vs) // 8)  # few runs: each new fetch list costs graph preparation
        for i in range(0, len(vs), step):
            for v, val in zip(vs[i:i + step], sess.run(vs[i:i + step])):
                with z.open(v.name + ".npy", "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, val)
    os.rename(os.path.join(data, "model.npz.tmp"), os.path.join(data, "model.npz"))
print("RESULT {{}}")
'''

_WORKER = _GRAPH + r'''
mode, path, flow = sys.argv[1], sys.argv[2], sys.argv[3]
vs = build()
extra = {{}}
if mode != "raw":
    if mode == "ours":
        sys.path.insert(0, {repo!r})
    from tensorpack.tfutils.sessinit import SmartInit
    import tensorpack
    extra["module"] = tensorpack.__file__
if flow == "live":
    # the session exists before the restore is asked for: SmartInit(path).init(sess)
    sess = tfv1.Session()
    sess.run(tfv1.global_variables_initializer())
    with sess.as_default(), Peak() as p:
        t0 = time.perf_counter()
        if mode == "raw":
            saver = tfv1.train.Saver(vs)
            t1 = time.perf_counter()
            saver.restore(sess, path)
            extra["restore_only"] = time.perf_counter() - t1
        else:
            SmartInit(path).init(sess)
        elapsed = time.perf_counter() - t0
else:
    # a trainer's / OfflinePredictor's order: the initializer sets up its ops, then the
    # session is created and initialized (untimed), then the values are loaded
    t0 = time.perf_counter()
    if mode == "raw":
        saver = tfv1.train.Saver(vs)
    else:
        init = SmartInit(path)
        init._setup_graph()
    setup = time.perf_counter() - t0
    sess = tfv1.Session()
    sess.run(tfv1.global_variables_initializer())
    with sess.as_default(), Peak() as p:
        t1 = time.perf_counter()
        if mode == "raw":
            saver.restore(sess, path)
        else:
            init._run_init(sess)
        run = time.perf_counter() - t1
    elapsed = setup + run
    if mode == "raw":
        extra["restore_only"] = run
# check the values really arrived (untimed)
v = vs[2]
name = v.op.name
if path.endswith(".npz"):
    ref = np.load(path)[v.name]
else:
    ref = tfv1.train.load_variable(path, name)
ok = bool(np.array_equal(sess.run(v), ref))
print("RESULT " + json.dumps(dict(time=elapsed, added=p.peak - p.base, ok=ok, **extra)))
'''


def make_data(scenario):
    num, shape = SCENARIOS[scenario]
    data = work_dir("restore_" + scenario)
    if not os.path.exists(os.path.join(data, "model.npz")):
        print("writing the {} data into {} ...".format(scenario, data), flush=True)
        run_python(_MAKE.format(num=num, shape=shape, repo=REPO), [data])
    return data


def _warm(data):
    """Read the files once, so that no measurement pays for the disk."""
    for root, _, files in os.walk(data):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                while fh.read(1 << 24):
                    pass


def measure_once(scenario, who, kind, data, flow="live"):
    num, shape = SCENARIOS[scenario]
    path = os.path.join(data, "model.npz") if kind == "npz" else os.path.join(data, "ckpt",
                                                                             "model-1")
    code = _WORKER.format(num=num, shape=shape, repo=REPO)
    # cwd outside the repository: `python -c` puts the cwd first on sys.path, and the
    # upstream run must import upstream's tensorpack, not this one
    res = run_python(code, [who, path, flow], python=UPSTREAM_PYTHON if who == "upstream" else None,
                     ours=(who == "ours"), cwd=data)
    r = res.json()
    if not r["ok"]:
        raise RuntimeError("{} {} restored wrong values".format(who, kind))
    is_ours = os.path.realpath(r.get("module", "")) == os.path.realpath(
        os.path.join(REPO, "tensorpack", "__init__.py"))
    if who != "raw" and is_ours != (who == "ours"):
        raise RuntimeError("the {} run imported the wrong tensorpack: {}".format(
            who, r["module"]))
    print("  {:<5} {:<9} {:<5} {:6.2f} s  +{}".format(flow, who, kind, r["time"],
                                                    human_bytes(r["added"])),
          flush=True)
    return r


MEASUREMENTS = (("raw", "ckpt"), ("upstream", "ckpt"), ("ours", "ckpt"), ("upstream", "npz"),
                ("ours", "npz"))


def measure_all(scenario, data, repeat, flow="live"):
    """Each measurement ``repeat`` times, interleaved; best time and least memory of each."""
    runs = {m: [] for m in MEASUREMENTS}
    for i in range(repeat):
        order = MEASUREMENTS if i % 2 == 0 else MEASUREMENTS[::-1]
        for m in order:
            runs[m].append(measure_once(scenario, m[0], m[1], data, flow))
    return {m: (min(r, key=lambda x: x["time"]), min(x["added"] for x in r))
            for m, r in runs.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenario", nargs="+", default=["many", "big"], choices=list(SCENARIOS))
    p.add_argument("--repeat", type=int, default=2, help="fresh processes per measurement")
    p.add_argument("--flow", nargs="+", default=["live", "setup"], choices=["live", "setup"],
                   help="live: SmartInit(path).init(sess) on a running session; setup: "
                        "_setup_graph() before the session exists, as trainers do")
    args = p.parse_args()
    subprocess.run(["sync"], check=False)
    for scenario in args.scenario:
        data = make_data(scenario)
        num, shape = SCENARIOS[scenario]
        print("scenario {}: {} variables, {}".format(scenario, num, human_bytes(
            num * shape[0] * shape[1] * 4)), flush=True)
        _warm(data)
        for flow in args.flow:
            res = measure_all(scenario, data, args.repeat, flow)
            print()
            print("scenario {}, {} flow (best of {} fresh processes each)".format(
                scenario, flow, args.repeat))
            print(_table(res))
            print(flush=True)


def _table(res):
    from tabulate import tabulate
    raw_t = res["raw", "ckpt"][0]["time"]
    rows = [["raw Saver (ckpt)", "{:.2f} s".format(raw_t),
             "(restore only {:.2f} s)".format(res["raw", "ckpt"][0]["restore_only"]),
             "", human_bytes(res["raw", "ckpt"][1]), ""]]
    for kind in ("ckpt", "npz"):
        for who in ("upstream", "ours"):
            t = res[who, kind][0]["time"]
            mem = res[who, kind][1]
            up_t, up_mem = res["upstream", kind][0]["time"], res["upstream", kind][1]
            rows.append(["{} SmartInit ({})".format(who, kind), "{:.2f} s".format(t),
                         ratio(t, up_t) if who == "ours" else "",
                         ratio(t, raw_t), human_bytes(mem),
                         ratio(mem, up_mem) if who == "ours" else ""])
    return tabulate(rows, headers=["restore", "time", "vs upstream", "vs raw Saver",
                                   "added peak RSS", "mem vs upstream"])

if __name__ == "__main__":
    main()
