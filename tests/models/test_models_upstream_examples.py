"""The model code of upstream tensorpack's example scripts builds unchanged with our layers,
argscope, LinearWrap and scope utilities (graph building only; needs upstream's git
repository, else skipped)."""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
UPSTREAM_GIT = os.environ.get("TENSORPACK_UPSTREAM_GIT",
                              "/work/.mirror/tensorpack+tensorpack/repo")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    if not os.path.isdir(UPSTREAM_GIT):
        pytest.skip("upstream tensorpack repository not available ({})".format(UPSTREAM_GIT))
    out = tmp_path_factory.mktemp("examples") / "out.json"
    subprocess.run([sys.executable, os.path.join(HERE, "upstream_examples_build.py"),
                    UPSTREAM_GIT, str(out)], check=True, timeout=600,
                   env=dict(os.environ, PYTHONPATH=REPO), stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
    with open(out) as f:
        return json.load(f)


def test_every_example_model_builds(results):
    failed = {k: v for k, v in results.items() if not k.startswith("_") and not v["ok"]}
    assert not failed
    built = [k for k in results if not k.startswith("_")]
    assert len(built) >= 20


def test_resnet_and_convnet_sizes(results):
    # variable counts of well-known models: conv W/b, BN's four, fc W/b
    assert results["mnist-convnet"]["num_variables"] == 12  # 4 convs + 2 fcs, W and b each
    assert results["imagenet-resnet18"]["num_variables"] == 102
