"""Dump*, GraphProfiler, memory / GPU trackers, SendMonitorData, CometMLMonitor,
TFLocalCLIDebugHook."""
import glob
import json
import logging
import os
import stat
import sys

import numpy as np
import pytest

from cb_helpers import (  # noqa: F401  (fresh_graph: autouse fixture)
    FakeTrainer, LogCapture, fresh_graph, set_logger_dir, tiny_model)
from tensorpack.callbacks import (Callback, CometMLMonitor, DumpParamAsImage, DumpTensor, DumpTensorAsImage,
                                  DumpTensors, GPUMemoryTracker, GPUUtilizationTracker,
                                  GraphProfiler, HookToCallback, HostMemoryTracker, MonitorBase,
                                  PeakMemoryTracker, SendMonitorData, TFLocalCLIDebugHook)
from tensorpack.callbacks import graph as cb_graph
from tensorpack.callbacks import monitor as cb_monitor
from tensorpack.callbacks import prof
from tensorpack.compat import tfv1


def test_upstream_module_paths_and_aliases():
    assert cb_graph.DumpTensors is DumpTensors is DumpTensor
    assert cb_graph.DumpParamAsImage is DumpTensorAsImage is DumpParamAsImage
    assert cb_monitor.SendMonitorData is SendMonitorData
    assert cb_monitor.CometMLMonitor is CometMLMonitor
    assert prof.PeakMemoryTracker is GPUMemoryTracker is PeakMemoryTracker
    assert set(prof.__all__) == {"GPUUtilizationTracker", "GraphProfiler", "PeakMemoryTracker",
                                 "GPUMemoryTracker", "HostMemoryTracker", "ThroughputTracker"}


def test_dump_tensors_every_step(tmp_path):
    set_logger_dir(tmp_path)
    train_op, cost, w = tiny_model()
    FakeTrainer().train(train_op, [DumpTensors(["w:0", "cost:0"])], steps_per_epoch=2,
                        max_epoch=1)
    files = sorted(glob.glob(str(tmp_path / "DumpTensor-*.npz")))
    assert len(files) == 2
    dump = dict(np.load(files[0]))
    assert set(dump) == {"w:0", "cost:0"}
    assert dump["w:0"].shape == (3,)  # the variable's value, not its resource handle
    assert dump["cost:0"].shape == () and dump["cost:0"] > 0
    later = dict(np.load(files[1]))
    assert not np.allclose(later["w:0"], dump["w:0"])  # one dump per step, as training goes


def test_dump_needs_logger_dir_and_list():
    with pytest.raises(ValueError, match="logger"):
        DumpTensors(["w"])
    with pytest.raises(TypeError):
        DumpTensors("w")


def test_dump_tensor_as_image(tmp_path):
    cv2 = pytest.importorskip("cv2")
    set_logger_dir(tmp_path)
    train_op, cost, w = tiny_model()
    img = np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)
    tfv1.get_variable("img", initializer=img, trainable=False)
    tfv1.get_variable("batch", initializer=np.stack([img, 1 - img])[..., None],
                      trainable=False)
    FakeTrainer().train(train_op, [DumpTensorAsImage("img"),
                                   DumpParamAsImage("batch:0", prefix="b", scale=100)],
                        steps_per_epoch=1, max_epoch=2)
    for ep in (1, 2):
        got = cv2.imread(str(tmp_path / "img-ep00{}.png".format(ep)), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(got, (img * 255).astype("uint8"))
    first = cv2.imread(str(tmp_path / "b-ep001.png"), cv2.IMREAD_UNCHANGED)
    second = cv2.imread(str(tmp_path / "b-ep001-1.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(first, (img * 100).astype("uint8"))
    np.testing.assert_array_equal(second, ((1 - img) * 100).astype("uint8"))


def test_graph_profiler_writes_traces(tmp_path):
    set_logger_dir(tmp_path)
    train_op, cost, w = tiny_model()
    events = []

    class EventSink(MonitorBase):
        def process_event(self, evt):
            events.append(evt)

    FakeTrainer().train(train_op, [GraphProfiler(dump_metadata=True, dump_event=True)],
                        monitors=[EventSink()], steps_per_epoch=2, max_epoch=1)
    assert [e.tagged_run_metadata.tag for e in events] == ["trace-1", "trace-2"]
    traces = glob.glob(str(tmp_path / "chrome-trace-*.json"))
    metas = glob.glob(str(tmp_path / "runmetadata-*.pb"))
    assert len(traces) == 2 and len(metas) == 2
    with open(traces[0]) as f:
        assert json.load(f)["traceEvents"]
    meta = tfv1.RunMetadata.FromString(open(metas[0], "rb").read())
    assert meta.step_stats.dev_stats


def test_host_memory_tracker():
    pytest.importorskip("psutil")
    train_op, cost, w = tiny_model()
    t = FakeTrainer().train(train_op, [HostMemoryTracker()], steps_per_epoch=1, max_epoch=2)
    hist = t.monitors.get_history("HostFreeMemory (GB)")
    assert len(hist) == 2 and all(v > 0 for _, v in hist)


def test_gpu_trackers_without_gpu_warn_once_and_do_nothing(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    train_op, cost, w = tiny_model()
    with LogCapture() as logs:
        t = FakeTrainer().train(train_op, [GPUUtilizationTracker(), GPUMemoryTracker()],
                                steps_per_epoch=2, max_epoch=2)
    warnings = logs.messages(logging.WARNING)
    assert len([m for m in warnings if "GPUUtilizationTracker" in m]) == 1, warnings
    assert len([m for m in warnings if "GPUMemoryTracker" in m]) == 1, warnings
    for name in ("GPUUtil/0", "PeakMemory(MB)/gpu:0"):
        with pytest.raises(KeyError):
            t.monitors.get_latest(name)


def test_gpu_utilization_tracker_with_fake_nvidia_smi(tmp_path, monkeypatch):
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 30\necho 70\n")
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    train_op, cost, w = tiny_model()
    t = FakeTrainer().train(train_op, [GPUUtilizationTracker()], steps_per_epoch=2, max_epoch=2)
    assert [v for _, v in t.monitors.get_history("GPUUtil/2")] == [30.0, 30.0]
    assert [v for _, v in t.monitors.get_history("GPUUtil/5")] == [70.0, 70.0]


def test_send_monitor_data_runs_command_when_all_names_arrived(tmp_path):
    out = tmp_path / "sent.txt"
    mon = SendMonitorData("echo {a} {b} >> " + str(out), ["a", "b"])
    mon.process_scalar("a", 1.5)
    mon._trigger()
    assert not out.exists()  # 'b' not received yet
    mon.process_scalar("b", 2)
    mon.process_scalar("ignored", 3)
    mon._trigger()
    assert out.read_text().split() == ["1.5", "2"]
    mon._trigger()  # nothing new received: no second run
    assert out.read_text().count("\n") == 1


def test_comet_ml_monitor():
    if "comet_ml" not in sys.modules:
        try:
            import comet_ml  # noqa: F401
        except ImportError:
            with pytest.raises(ImportError, match="comet_ml"):
                CometMLMonitor(project_name="x")

    class FakeExperiment:
        def __init__(self):
            self.calls = []

        def __getattr__(self, name):
            return lambda *a, **k: self.calls.append((name, a, k))

    exp = FakeExperiment()
    train_op, cost, w = tiny_model()

    class Put(Callback):
        def _trigger_epoch(self):
            self.trainer.monitors.put_scalar("loss", 0.5)

    mon = CometMLMonitor(experiment=exp)
    assert mon.experiment is exp
    FakeTrainer().train(train_op, [Put()], monitors=[mon], steps_per_epoch=1, max_epoch=2)
    names = [c[0] for c in exp.calls]
    assert names.count("log_metric") == 2 and "set_model_graph" in names and names[-1] == "end"
    assert ("log_metric", ("loss", 0.5), {"step": 1}) in exp.calls
    with pytest.raises(ValueError):
        CometMLMonitor(experiment=exp, tags=["t"])


def test_tf_local_cli_debug_hook_wraps_tfdbg():
    hook = TFLocalCLIDebugHook()
    assert isinstance(hook, HookToCallback) and hook.chief_only
    from tensorflow.python import debug as tfdbg
    assert isinstance(hook._hook, tfdbg.LocalCLIDebugHook)
