"""The README's main job, examples/digits_transfer.py, runs end to end (short settings)."""
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("sklearn")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_digits_transfer_example_runs(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    logdir = str(tmp_path / "logs")
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, "examples", "digits_transfer.py"),
         "--logdir", logdir, "--epochs", "3", "--few", "20"],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    accs = [float(v) for v in re.findall(r"accuracy \(.*\):\s+([0-9.]+)", proc.stdout)]
    assert len(accs) == 3 and all(0 <= a <= 1 for a in accs)
    assert accs[0] > 0.5  # 3 epochs on 10 digits is far above chance (0.1)
    for stage in ("pretrain", "finetune", "scratch"):
        assert os.path.exists(os.path.join(logdir, stage, "min-validation_error.index"))
