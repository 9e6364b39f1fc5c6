"""Variable names and output shapes equal upstream 0.11's, for every layer case that still
builds under upstream on this TensorFlow (the rest are checked against upstream's source in
the per-layer tests)."""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "upstream_layer_names.py")
UPSTREAM_PY = os.environ.get("TENSORPACK_UPSTREAM_PYTHON", "/work/upstream-venv/bin/python")
REPO = os.path.dirname(os.path.dirname(HERE))


def _run(python, out, env_path):
    env = dict(os.environ, PYTHONPATH=env_path)
    subprocess.run([python, SCRIPT, str(out)], check=True, env=env, timeout=240,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with open(out) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    if not os.path.exists(UPSTREAM_PY):
        pytest.skip("upstream tensorpack interpreter not available ({})".format(UPSTREAM_PY))
    d = tmp_path_factory.mktemp("names")
    ours = _run(sys.executable, d / "ours.json", REPO)
    upstream = _run(UPSTREAM_PY, d / "upstream.json", "")
    return ours, upstream


def test_every_case_builds_here(both):
    ours, _ = both
    errors = {k: v["error"] for k, v in ours.items() if "error" in v}
    assert not errors


def test_same_variables_and_shapes_as_upstream(both):
    ours, upstream = both
    compared = 0
    for case, up in upstream.items():
        if "error" in up:
            continue
        assert ours[case] == up, case
        compared += 1
    # conv (grouped, dilated), deconv, unpool, gap, BN (ghost), LayerNorm, InstanceNorm,
    # PReLU still build under upstream
    assert compared >= 10
