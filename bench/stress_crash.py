#!/usr/bin/env python
"""Crash-consistency stress: SIGKILL a training run at random moments, many times.

Each round resumes the run in ``--dir`` (a fresh temporary directory by default), checks that
it resumed from the latest checkpoint and removed what the previous crash left, kills it
after a random delay (0-1.5 s, so most kills land during ModelSaver / MinSaver saves, which
happen every 2 steps), then checks that the state file, the latest checkpoint, the best
model and its record agree and read back under TensorFlow's reader and ours. Rounds
alternate between synchronous and background saving.

Usage: ``python bench/stress_crash.py [--rounds 200] [--modes sync,async] [--seed 0]``
"""
import argparse
import os
import random
import shutil
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "crash"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from crash_check import Inconsistent, kill_round  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--modes", default="sync,async")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = random.Random(args.seed)
    modes = args.modes.split(",")
    root = tempfile.mkdtemp(prefix="stress_crash_")
    failures, kills, saved = [], 0, 0
    t0 = time.time()
    try:
        dirs = {m: os.path.join(root, m) for m in modes}
        for i in range(args.rounds):
            mode = modes[i % len(modes)]
            try:
                r = kill_round(dirs[mode], mode, rng)
                kills += 1
                saved += r["latest"] is not None
            except Inconsistent as e:
                failures.append("round {} ({}): {}".format(i, mode, e))
                shutil.rmtree(dirs[mode], ignore_errors=True)  # start that mode afresh
            if (i + 1) % 20 == 0:
                print("{} rounds, {} inconsistent, {:.0f}s".format(i + 1, len(failures),
                                                                   time.time() - t0), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("\n{} kill -9 rounds ({}), {} inconsistent or unreadable states or leftover files "
          "after the next start; {} rounds had a checkpoint to check.".format(
              kills, "/".join(modes), len(failures), saved))
    for f in failures:
        print("  " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
