"""A published checkpoint copy (MinSaver's best model) is replaced atomically, record included."""
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from tensorpack.checkpoint import open_source, save_tensors
from tensorpack.checkpoint.published import (clean_published, publish_checkpoint,
                                             read_published_record)


def _ckpt(d, step, shards=1):
    prefix = os.path.join(str(d), "model-{}".format(step))
    save_tensors(prefix, {"global_step": np.array(step, np.int64),
                          "W": np.full((64, 64), step, np.float32)})
    return prefix


def _assert_consistent(target):
    rec = read_published_record(target)
    with open_source(target) as src:
        step = int(src.read("global_step"))
        assert (src.read("W") == step).all()
    assert rec["global_step"] == step
    return step


def test_publish_replaces_copy_and_record(tmp_path):
    target = str(tmp_path / "min-e")
    publish_checkpoint(_ckpt(tmp_path, 1), target, {"global_step": 1}, tag="1")
    assert _assert_consistent(target) == 1
    publish_checkpoint(_ckpt(tmp_path, 2), target, {"global_step": 2}, tag="2")
    assert _assert_consistent(target) == 2
    assert os.path.islink(target + ".index") and os.path.islink(target + ".json")
    assert len(os.listdir(target + ".versions")) == 2  # 'current' and one version
    os.remove(str(tmp_path / "model-2.index"))  # the copy does not depend on the source
    assert _assert_consistent(target) == 2


def test_plain_files_are_adopted_without_losing_them(tmp_path):
    """A copy made as plain files (by an older version or upstream) is the old best until
    a new one is published."""
    target = str(tmp_path / "min-e")
    prefix = _ckpt(tmp_path, 1)
    for suffix in (".index", ".data-00000-of-00001"):
        with open(prefix + suffix, "rb") as f, open(target + suffix, "wb") as g:
            g.write(f.read())
    with open(target + ".json", "w") as f:
        json.dump({"global_step": 1}, f)
    publish_checkpoint(_ckpt(tmp_path, 2), target, {"global_step": 2})
    assert _assert_consistent(target) == 2


def test_clean_removes_leftovers_of_an_interrupted_publish(tmp_path):
    target = str(tmp_path / "min-e")
    publish_checkpoint(_ckpt(tmp_path, 1), target, {"global_step": 1})
    os.mkdir(target + ".versions/v-2-half")
    os.symlink("min-e.versions/current/min-e.index", target + ".index.tmp1234")
    os.symlink("min-e.versions/current/min-e.data-00000-of-00002", target + ".data-00000-of-00002")
    clean_published(target)
    assert sorted(os.listdir(target + ".versions"))[0] == "current"
    assert len(os.listdir(target + ".versions")) == 2
    assert sorted(os.listdir(str(tmp_path)))[:4] == [
        "min-e.data-00000-of-00001", "min-e.index", "min-e.json", "min-e.versions"]
    assert _assert_consistent(target) == 1


_CHILD = textwrap.dedent("""
    import os, sys
    import numpy as np
    sys.path.insert(0, {repo!r})
    from tensorpack.checkpoint import save_tensors
    from tensorpack.checkpoint.published import publish_checkpoint
    d, target = sys.argv[1], sys.argv[2]
    if sys.argv[3] == "copy":
        def no_link(a, b):
            raise OSError(1, "no hard links")
        os.link = no_link
    step = int(sys.argv[4])
    while True:
        step += 1
        prefix = os.path.join(d, "model-%d" % step)
        save_tensors(prefix, {{"global_step": np.array(step, np.int64),
                              "W": np.full((256, 256), step, np.float32)}})
        print(step, flush=True)
        publish_checkpoint(prefix, target, {{"global_step": step}}, tag=str(step))
""")


@pytest.mark.parametrize("mode", ["link", "copy"])
def test_kill_during_publish_leaves_old_or_new_copy(tmp_path, mode):
    """SIGKILL at random points: the copy always reads back whole and matches its record."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = tmp_path / "child.py"
    script.write_text(_CHILD.format(repo=repo))
    target = str(tmp_path / "min-e")
    rng = random.Random(mode)
    last, published_any = 0, False
    for _ in range(12):
        proc = subprocess.Popen([sys.executable, str(script), str(tmp_path), target, mode,
                                 str(last)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            time.sleep(0.25 + rng.random() * 0.4)
        finally:
            proc.send_signal(signal.SIGKILL)
            out = proc.communicate(timeout=30)[0]
        steps = [int(x) for x in out.split()]
        last = steps[-1] if steps else last
        if os.path.exists(target + ".index"):
            published_any = True
            step = _assert_consistent(target)
            assert step <= last
    assert published_any
    clean_published(target)
    leftovers = [n for n in os.listdir(target + ".versions") if n != "current"]
    assert len(leftovers) == 1
    assert not [n for n in os.listdir(str(tmp_path)) if ".tmp" in n]
