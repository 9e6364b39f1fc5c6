"""``ls-checkpoint DIR --verify [--repair-state]`` and ``checkpoint-diff``, run as a user runs
them, plus the TF-free functions behind them."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tensorpack.checkpoint import read_checkpoint_state, save_tensors, write_checkpoint_state
from tensorpack.checkpoint.diff import diff_sources
from tensorpack.checkpoint.formats import DictSource
from tensorpack.checkpoint.verify import newest_intact, verify_directory

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def tool(name, *args):
    return subprocess.run([sys.executable, "scripts/{}.py".format(name), *map(str, args)],
                          cwd=REPO, env=ENV, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def _flip(path, offset=7):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([b ^ 0x20]))


@pytest.fixture
def run_dir(tmp_path):
    """Three checkpoints; the newest one's data has a flipped bit."""
    paths = []
    for step in (1, 2, 3):
        paths.append(save_tensors(str(tmp_path / "model-{}".format(step)),
                                  {"W": np.full((50, 20), step, np.float32),
                                   "global_step": np.array(step, np.int64)}))
    write_checkpoint_state(str(tmp_path), paths[-1], paths)
    _flip(paths[-1] + ".data-00000-of-00001")
    return tmp_path


def test_verify_directory_names_newest_intact(run_dir):
    results = verify_directory(str(run_dir))
    assert [os.path.basename(r.path) for r in results] == ["model-3", "model-2", "model-1"]
    assert [r.ok for r in results] == [False, True, True]
    assert "checksum" in results[0].problem and results[1].tensors == 2
    skipped = []
    assert newest_intact(str(run_dir), on_skip=skipped.append).endswith("model-2")
    assert [os.path.basename(r.path) for r in skipped] == ["model-3"]


def test_verify_cli_reports_and_repairs(run_dir):
    res = tool("ls-checkpoint", run_dir, "--verify")
    assert res.returncode == 1
    assert "1 of 3 checkpoints" in res.stderr and "Traceback" not in res.stderr
    lines = res.stdout.splitlines()
    assert "model-3" in lines[2] and "DAMAGED" in lines[2] and "checksum" in lines[2]
    assert "intact" in lines[3] and "intact" in lines[4]
    assert "Newest intact checkpoint" in res.stdout and "model-2" in lines[-1]
    assert read_checkpoint_state(str(run_dir)).model_checkpoint_path.endswith("model-3")

    res = tool("ls-checkpoint", run_dir, "--verify", "--repair-state", "--json")
    out = json.loads(res.stdout)
    assert out["newest_intact"].endswith("model-2") and out["repaired"].endswith("model-2")
    assert [c["ok"] for c in out["checkpoints"]] == [False, True, True]
    state = read_checkpoint_state(str(run_dir))
    assert os.path.basename(state.model_checkpoint_path) == "model-2"
    assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == [
        "model-1", "model-2"]


def test_verify_cli_bad_input(tmp_path):
    res = tool("ls-checkpoint", tmp_path, "--verify")
    assert res.returncode == 1 and "no model-STEP checkpoint" in res.stderr
    res = tool("ls-checkpoint", tmp_path, "--repair-state")
    assert res.returncode != 0 and "--verify" in res.stderr
    assert "Traceback" not in res.stderr


def test_diff_sources_statuses():
    a = DictSource({"same": np.ones(3), "w:0": np.zeros(4, np.float32), "only_a": np.ones(1),
                    "shape": np.ones((2, 2)), "dtype": np.ones(2, np.float32),
                    "nan": np.array([np.nan, 1.0]), "text": np.array([b"x"], dtype=object)})
    b = DictSource({"same": np.ones(3), "w": np.array([0, 0, 0.5, 0], np.float32),
                    "only_b": np.ones(1), "shape": np.ones(4), "dtype": np.ones(2, np.float64),
                    "nan": np.array([np.nan, 1.0]), "text": np.array([b"y"], dtype=object)})
    got = {d.name: (d.status, d.max_abs_diff) for d in diff_sources(a, b)}
    assert got == {"same": ("equal", 0.0), "w": ("differ", 0.5), "only_a": ("only_a", None),
                   "only_b": ("only_b", None), "shape": ("shape", None),
                   "dtype": ("dtype", 0.0), "nan": ("equal", 0.0), "text": ("differ", None)}
    loose = {d.name: d.status for d in diff_sources(a, b, atol=0.5)}
    assert loose["w"] == "equal"


def test_diff_cli_checkpoint_against_npz(run_dir, tmp_path):
    npz = tmp_path / "w.npz"
    np.savez(str(npz), **{"W:0": np.full((50, 20), 1, np.float32), "extra": np.ones(2)})
    res = tool("checkpoint-diff", run_dir / "model-1", npz, "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["totals"] == {"equal": 1, "only_a": 1, "only_b": 1}
    assert {t["name"]: t["status"] for t in out["tensors"]} == {"global_step": "only_a",
                                                               "extra": "only_b"}
    res = tool("checkpoint-diff", run_dir / "model-1", run_dir / "model-2", "--exit-code")
    assert res.returncode == 1
    assert "W" in res.stdout and "differ" in res.stdout and "2 names: 2 differ" in res.stdout


def test_diff_cli_damaged_input_is_one_line(run_dir):
    res = tool("checkpoint-diff", run_dir / "model-3", run_dir / "model-2")
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1 and "checksum" in res.stderr
