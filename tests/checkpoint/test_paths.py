"""Resolving every path form of a TF checkpoint; listing checkpoints; their files; open_source
and save_tensors on TF checkpoints."""
import os
import time

import numpy as np
import pytest

from tensorpack.checkpoint.formats import open_source, save_tensors
from tensorpack.checkpoint.paths import (checkpoint_files, checkpoint_step, list_checkpoints,
                                         resolve_checkpoint_prefix)
from tensorpack.checkpoint.state import write_checkpoint_state


def fake_checkpoint(prefix, mtime=None):
    """The files of a checkpoint (empty: resolution looks at names only)."""
    for suffix in (".index", ".data-00000-of-00001"):
        with open(prefix + suffix, "wb"):
            pass
        if mtime is not None:
            os.utime(prefix + suffix, (mtime, mtime))
    return prefix


def write_real(prefix, tensors):
    pytest.importorskip("tensorpack.checkpoint.bundle_writer")
    from tensorpack.checkpoint.bundle_writer import write_tf_checkpoint
    write_tf_checkpoint(prefix, tensors)
    return prefix


# ------------------------------------------------------------------------ resolution
def test_every_path_form(tmp_path, logs):
    d = str(tmp_path)
    prefix = fake_checkpoint(os.path.join(d, "model-5000"))
    open(prefix + ".meta", "wb").close()
    write_checkpoint_state(d, "model-5000")
    forms = {
        prefix + ".index": "index",
        prefix + ".data-00000-of-00001": "data",
        prefix + ".meta": "metagraph",
        os.path.join(d, "checkpoint"): "state file",
        d: "directory",
        d + "/": "directory",
    }
    assert resolve_checkpoint_prefix(prefix) == prefix
    assert logs == []  # the prefix itself needs no correction
    for form, kind in forms.items():
        del logs[:]
        assert resolve_checkpoint_prefix(form) == prefix, kind
        assert len(logs) == 1, kind
        assert form in logs[0] and prefix in logs[0], kind


def test_pathlike_and_multi_shard(tmp_path):
    prefix = str(tmp_path / "model-7")
    for suffix in (".index", ".data-00000-of-00002", ".data-00001-of-00002"):
        open(prefix + suffix, "wb").close()
    assert resolve_checkpoint_prefix(tmp_path / "model-7") == prefix
    assert resolve_checkpoint_prefix(prefix + ".data-00001-of-00002") == prefix
    assert checkpoint_files(prefix) == [prefix + ".index", prefix + ".data-00000-of-00002",
                                        prefix + ".data-00001-of-00002"]


def test_directory_without_state_uses_step_not_string_order(tmp_path):
    d = str(tmp_path)
    now = time.time()
    # String order would pick model-900; the newest file by mtime is model-900 too.
    fake_checkpoint(os.path.join(d, "model-10000"), mtime=now - 100)
    fake_checkpoint(os.path.join(d, "model-900"), mtime=now)
    fake_checkpoint(os.path.join(d, "min-val-error"), mtime=now + 10)
    assert resolve_checkpoint_prefix(d) == os.path.join(d, "model-10000")


def test_directory_same_step_newest_mtime_wins(tmp_path):
    d = str(tmp_path)
    now = time.time()
    fake_checkpoint(os.path.join(d, "a-100"), mtime=now - 50)
    fake_checkpoint(os.path.join(d, "b-100"), mtime=now)
    assert resolve_checkpoint_prefix(d) == os.path.join(d, "b-100")
    fake_checkpoint(os.path.join(d, "old"), mtime=now - 500)
    d2 = tmp_path / "nosteps"
    d2.mkdir()
    fake_checkpoint(str(d2 / "x"), mtime=now - 10)
    fake_checkpoint(str(d2 / "y"), mtime=now)
    assert resolve_checkpoint_prefix(str(d2)) == str(d2 / "y")


def test_state_file_wins_over_newest(tmp_path):
    d = str(tmp_path)
    fake_checkpoint(os.path.join(d, "model-10"))
    fake_checkpoint(os.path.join(d, "model-20"))
    write_checkpoint_state(d, "model-10")
    assert resolve_checkpoint_prefix(d) == os.path.join(d, "model-10")


def test_moved_directory_with_stale_absolute_state(tmp_path, logs):
    d = str(tmp_path)
    fake_checkpoint(os.path.join(d, "model-3"))
    with open(os.path.join(d, "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "/elsewhere/run/model-3"\n')
    assert resolve_checkpoint_prefix(d) == os.path.join(d, "model-3")
    assert any("/elsewhere/run/model-3" in m for m in logs)


def test_state_naming_deleted_checkpoint_falls_back(tmp_path):
    d = str(tmp_path)
    fake_checkpoint(os.path.join(d, "model-8"))
    write_checkpoint_state(d, "model-9")
    assert resolve_checkpoint_prefix(os.path.join(d, "checkpoint")) == os.path.join(d, "model-8")
    assert resolve_checkpoint_prefix(d) == os.path.join(d, "model-8")


def test_missing_paths_raise_file_not_found_naming_path(tmp_path):
    d = str(tmp_path)
    for p in [os.path.join(d, "model-1"), os.path.join(d, "model-1.index"),
              os.path.join(d, "nodir", "model-1.data-00000-of-00001")]:
        with pytest.raises(FileNotFoundError) as e:
            resolve_checkpoint_prefix(p)
        assert p in str(e.value) and "tried" in str(e.value)
    with pytest.raises(FileNotFoundError, match="contains no checkpoint"):
        resolve_checkpoint_prefix(d)
    with pytest.raises(FileNotFoundError, match="empty path"):
        resolve_checkpoint_prefix("")


def test_meta_without_checkpoint_explains(tmp_path):
    meta = str(tmp_path / "graph-1126-003030.meta")
    open(meta, "wb").close()
    with pytest.raises(FileNotFoundError, match="metagraph, not checkpoint data"):
        resolve_checkpoint_prefix(meta)


def test_existing_non_checkpoint_file(tmp_path):
    p = str(tmp_path / "model-5")
    open(p, "w").close()
    with pytest.raises(FileNotFoundError, match="exists but is not a checkpoint"):
        resolve_checkpoint_prefix(p)


# ------------------------------------------------------------------------ listing
def test_list_checkpoints_sorted_by_step_honours_prefix(tmp_path):
    d = str(tmp_path)
    for name in ["model-900", "model-10000", "model-5", "other-1", "model-best", "min-loss"]:
        fake_checkpoint(os.path.join(d, name))
    assert list_checkpoints(d) == [os.path.join(d, n)
                                   for n in ("model-5", "model-900", "model-10000")]
    assert list_checkpoints(d, prefix="other") == [os.path.join(d, "other-1")]
    assert list_checkpoints(str(tmp_path / "missing")) == []
    assert checkpoint_step("dir/model-900") == 900 and checkpoint_step("min-loss") is None


def test_checkpoint_files_only_existing(tmp_path):
    prefix = fake_checkpoint(str(tmp_path / "model-1"))
    open(prefix + ".meta", "wb").close()
    fake_checkpoint(str(tmp_path / "model-10"))  # shares the text prefix "model-1"
    assert checkpoint_files(prefix) == [prefix + ".index", prefix + ".data-00000-of-00001"]
    assert checkpoint_files(str(tmp_path / "nothing")) == []


# ------------------------------------------------------------------------ open / save TF
def test_open_source_reads_tf_checkpoint_in_every_form(tmp_path):
    values = {"conv/W": np.arange(6, dtype=np.float32).reshape(2, 3), "step": np.int64(7)}
    prefix = write_real(str(tmp_path / "model-7"), values)
    write_checkpoint_state(str(tmp_path), "model-7")
    for form in [prefix, prefix + ".index", prefix + ".data-00000-of-00001",
                 str(tmp_path / "checkpoint"), str(tmp_path)]:
        with open_source(form) as src:
            assert src.keys() == ["conv/W", "step"]
            np.testing.assert_array_equal(src.read("conv/W"), values["conv/W"])
            assert int(src.read("step")) == 7


def test_open_source_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="model-3"):
        open_source(str(tmp_path / "model-3"))


def test_save_to_tf_and_convert_between_all_formats(tmp_path):
    pytest.importorskip("tensorpack.checkpoint.bundle_writer")
    d = {"a/W:0": np.arange(12, dtype=np.float32).reshape(3, 4), "h": np.float16(1.5),
         "i": np.array([1, -2], dtype=np.int64), "m": np.array([True, False]),
         "e": np.zeros((0, 2), dtype=np.float32)}
    prefix = save_tensors(str(tmp_path / "ck" / "model-1"), d)
    assert prefix == str(tmp_path / "ck" / "model-1")
    with open_source(prefix) as src:
        npz = save_tensors(str(tmp_path / "x.npz"), src)
    with open_source(npz) as src:
        st = save_tensors(str(tmp_path / "x.safetensors"), src)
    with open_source(st) as src:
        back = save_tensors(str(tmp_path / "back" / "model-2"), src)
    with open_source(back) as src:
        assert sorted(src.keys()) == sorted(d)
        for k, v in d.items():
            got = src.read(k)
            assert got.dtype == np.asarray(v).dtype and got.shape == np.shape(v), k
            np.testing.assert_array_equal(got, v)


def test_save_refuses_to_overwrite_input_checkpoint(tmp_path):
    prefix = write_real(str(tmp_path / "model-1"), {"a": np.ones(3, np.float32)})
    with pytest.raises(ValueError, match="input"):
        with open_source(prefix) as src:
            save_tensors(prefix, src)
    with open_source(prefix) as src:
        np.testing.assert_array_equal(src.read("a"), np.ones(3))


def test_malformed_state_file(tmp_path, logs):
    d = str(tmp_path)
    fake_checkpoint(os.path.join(d, "model-4"))
    with open(os.path.join(d, "checkpoint"), "wb") as f:
        f.write(b"\x00\xffgarbage{")
    # Named explicitly: an error naming the file. Via the directory: a warning and a fallback.
    with pytest.raises(ValueError, match="checkpoint state file"):
        resolve_checkpoint_prefix(os.path.join(d, "checkpoint"))
    assert resolve_checkpoint_prefix(d) == os.path.join(d, "model-4")
    assert any("checkpoint state file" in m and "newest" in m for m in logs)
