"""SIGKILL a training run during saves (ModelSaver, MinSaver; synchronous and in the
background): the state file, the latest checkpoint, the best model and its record always
agree and read back under TensorFlow's reader and ours, the next run resumes from the right
step, and it removes what the crash left. ``bench/stress_crash.py`` runs many more rounds."""
import os
import random
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crash_check import kill_round  # noqa: E402


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sigkill_during_saves_leaves_consistent_state(tmp_path, mode):
    rng = random.Random(mode)
    logdir = str(tmp_path / "run")
    results = [kill_round(logdir, mode, rng) for _ in range(3)]
    assert results[-1]["latest"] is not None, "the runs never saved anything"
    assert [r["resumed"] for r in results][1:] == [r["latest"] for r in results][:-1]
