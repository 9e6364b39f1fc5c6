"""utils.viz, utils.stats, utils.naming (TensorFlow-free)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from tensorpack.utils import naming
from tensorpack.utils.stats import (Accuracy, BinaryStatistics, OnlineMoments, RatioCounter,
                                    StatCounter)
from tensorpack.utils.viz import (draw_boxes, gen_stack_patches, interactive_imshow,
                                  stack_patches)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_utils_modules_stay_tensorflow_free():
    code = ("import sys, tensorpack.utils.viz, tensorpack.utils.stats, "
            "tensorpack.utils.concurrency, tensorpack.utils.naming, tensorpack.utils.timer, "
            "tensorpack.utils.nvml, tensorpack.utils.debug; "
            "assert 'tensorflow' not in sys.modules; assert 'cv2' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60,
                   env=dict(os.environ, PYTHONPATH=ROOT))


def test_stack_patches_layout():
    patches = np.stack([np.full((4, 6), i * 10, np.uint8) for i in range(5)])
    img = stack_patches(patches, nr_row=2, nr_col=3, border=2, bgcolor=255)
    assert img.shape == (2 * 4 + 2, 3 * 6 + 2 * 2, 1)
    assert img[0, 0, 0] == 0 and img[0, 8, 0] == 10 and img[6, 0, 0] == 30
    assert img[5, 0, 0] == 255                  # the border row
    assert (img[6:, 16:, 0] == 255).all()       # the empty sixth cell
    with pytest.raises(ValueError):
        stack_patches(patches, nr_row=1, nr_col=2)


def test_stack_patches_pad_and_color_background():
    small = np.zeros((2, 2, 3), np.uint8)
    big = np.full((4, 4), 7, np.uint8)
    img = stack_patches([small, big], 1, 2, border=0, pad=True, bgcolor=(1, 2, 3))
    assert img.shape == (4, 8, 3)
    np.testing.assert_array_equal(img[0, 0], [1, 2, 3])   # padding around the small patch
    np.testing.assert_array_equal(img[1, 1], [0, 0, 0])   # the small patch, centred
    np.testing.assert_array_equal(img[0, 4], [7, 7, 7])   # gray patch made 3-channel


def test_gen_stack_patches_yields_grids():
    patches = np.arange(7)[:, None, None] * np.ones((7, 3, 3), np.uint8)
    grids = [g.copy() for g in gen_stack_patches(patches, nr_row=1, nr_col=3, border=0)]
    assert len(grids) == 3
    assert grids[2][0, 0, 0] == 6 and grids[2][0, 3, 0] == 255
    auto = list(gen_stack_patches(patches, max_width=7, max_height=3, border=0))
    assert len(auto) == 4  # 2 patches per grid fit in 7 pixels


def test_draw_boxes():
    pytest.importorskip("cv2")
    im = np.zeros((20, 30), np.uint8)
    out = draw_boxes(im, [[2, 3, 10, 12]], color=(0, 255, 0))
    assert out.shape == (20, 30, 3) and im.max() == 0  # input untouched
    assert tuple(out[12, 5]) == (0, 255, 0)            # the bottom edge
    assert out[8, 6].sum() == 0                         # inside stays empty
    labelled = draw_boxes(im, [[2, 3, 10, 12]], labels=["a"], color=(0, 255, 0))
    assert (labelled != out).any()                      # the label is drawn
    with pytest.raises(ValueError, match="outside"):
        draw_boxes(im, [[0, 0, 40, 5]])
    with pytest.raises(ValueError, match="labels"):
        draw_boxes(im, [[0, 0, 4, 5]], labels=["a", "b"])


def test_interactive_imshow_without_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if sys.platform.startswith("linux"):
        with pytest.raises(RuntimeError, match="display"):
            interactive_imshow(np.zeros((2, 2), np.uint8))


def test_stat_counters():
    s = StatCounter()
    with pytest.raises(ValueError):
        s.average
    for v in (1, 5, 3):
        s.feed(v)
    assert (s.count, s.average, s.sum, s.max, s.min) == (3, 3, 9, 5, 1)
    assert s.samples() == [1, 5, 3]
    r = RatioCounter()
    assert r.ratio == 0
    r.feed(3, 4)
    r.feed(1)
    assert (r.count, r.total, r.ratio) == (4, 5, 0.8)
    a = Accuracy()
    a.feed(1, 2)
    assert a.accuracy == 0.5


def test_binary_statistics():
    b = BinaryStatistics()
    b.feed(np.array([1, 1, 0, 0, 1]), np.array([1, 0, 0, 1, 1]))
    assert b.precision == pytest.approx(2 / 3) and b.recall == pytest.approx(2 / 3)
    assert b.false_positive == pytest.approx(1 / 3) and b.false_negative == pytest.approx(1 / 3)
    assert (b.nr_pos, b.nr_neg, b.corr_neg) == (3, 2, 1)
    with pytest.raises(ValueError):
        b.feed(np.zeros(2), np.zeros(3))


def test_online_moments():
    m = OnlineMoments()
    xs = np.random.RandomState(0).randn(50)
    for x in xs:
        m.feed(x)
    assert m.mean == pytest.approx(xs.mean()) and m.std == pytest.approx(xs.std(ddof=1))


def test_naming():
    assert naming.GLOBAL_STEP_INCR_OP_NAME == "global_step_incr"
    assert naming.MOVING_SUMMARY_OPS_KEY == "MOVING_SUMMARY_OPS"


def test_timer_pause_excludes_time():
    import time

    from tensorpack.utils.timer import IterSpeedCounter, Timer, timed_operation
    t = Timer()
    t.pause()
    assert t.is_paused()
    time.sleep(0.05)
    paused_value = t.seconds()
    time.sleep(0.05)
    assert t.seconds() == pytest.approx(paused_value)  # frozen while paused
    t.resume()
    with pytest.raises(RuntimeError):
        t.resume()
    assert t.seconds() < 0.05
    counter = IterSpeedCounter(2, name="x")
    for _ in range(4):
        counter()
    assert counter.cnt == 4
    with timed_operation("work", log_start=True):
        pass
    with pytest.raises(ValueError):
        with timed_operation(""):
            pass


def test_fs_recursive_walk_and_normpath(tmp_path):
    from tensorpack.utils.fs import normpath, recursive_walk
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f.txt").write_text("x")
    (tmp_path / "g.txt").write_text("y")
    found = sorted(os.path.relpath(p, str(tmp_path)) for p in recursive_walk(str(tmp_path)))
    assert found == [os.path.join("a", "b", "f.txt"), "g.txt"]
    assert normpath("a//b/../c") == os.path.join("a", "c")
    assert normpath("gs://bucket//x/../y") == "gs://bucket//x/../y"


def test_enable_call_trace_prints_calls():
    code = ("from tensorpack.utils.debug import enable_call_trace\n"
            "def inner():\n    return 1\n"
            "def outer():\n    return inner()\n"
            "enable_call_trace()\nouter()\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, PYTHONPATH=ROOT))
    lines = res.stdout.splitlines()
    assert any(ln.startswith("Call to `outer`") for ln in lines), res.stdout
    assert any(ln.startswith("Call to `inner`") and ln.endswith(":5") for ln in lines), lines


def test_nvml_context_without_driver_is_a_clear_error():
    import ctypes.util

    from tensorpack.utils.nvml import NVMLContext
    if ctypes.util.find_library("nvidia-ml"):
        with NVMLContext() as ctx:
            assert ctx.num_devices() == len(ctx.devices())
    else:
        with pytest.raises(OSError, match="NVIDIA driver"):
            with NVMLContext():
                pass
