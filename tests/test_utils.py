"""The TensorFlow-free helpers in tensorpack.utils."""
import os

from tensorpack.utils import (change_env, execute_only_once, fix_rng_seed, get_num_gpu, get_rng,
                              humanize_time_delta)
from tensorpack.utils import utils as _utils
from tensorpack.utils.fs import atomic_write, default_file_mode


def test_humanize_time_delta():
    assert humanize_time_delta(5) == "5 seconds"
    assert humanize_time_delta(3725) == "1 hour 2 minutes 5 seconds"
    assert humanize_time_delta(86400 + 60) == "1 day 1 minute"


def test_change_env_restores(monkeypatch):
    monkeypatch.setenv("TP_TEST_VAR", "old")
    with change_env("TP_TEST_VAR", "new"):
        assert os.environ["TP_TEST_VAR"] == "new"
    assert os.environ["TP_TEST_VAR"] == "old"
    with change_env("TP_TEST_VAR", None):
        assert "TP_TEST_VAR" not in os.environ
    assert os.environ["TP_TEST_VAR"] == "old"


def test_get_num_gpu_follows_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,2")
    assert get_num_gpu() == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert get_num_gpu() == 0


def test_fix_rng_seed_makes_rng_deterministic(monkeypatch):
    monkeypatch.setattr(_utils, "_RNG_SEED", None)
    fix_rng_seed(7)
    assert (get_rng().rand(3) == get_rng(object()).rand(3)).all()


def test_execute_only_once():
    results = [execute_only_once() for _ in range(3)]
    assert results == [True, False, False]


def test_atomic_write_normal_mode_and_no_leftovers(tmp_path):
    target = tmp_path / "f.bin"
    with atomic_write(str(target)) as f:
        f.write(b"abc")
    assert target.read_bytes() == b"abc"
    assert (target.stat().st_mode & 0o777) == default_file_mode()
    try:
        with atomic_write(str(target)) as f:
            f.write(b"partial")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert target.read_bytes() == b"abc"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_get_op_or_tensor_by_name():
    import tensorflow as tf

    from tensorpack.compat import tfv1
    from tensorpack.tfutils.common import get_op_or_tensor_by_name
    with tf.Graph().as_default():
        x = tfv1.placeholder(tf.float32, [2], name="x")
        assert get_op_or_tensor_by_name("x:0") is x
        assert get_op_or_tensor_by_name("x") is x.op
        assert get_op_or_tensor_by_name(["x", "x:0"]) == [x.op, x]
