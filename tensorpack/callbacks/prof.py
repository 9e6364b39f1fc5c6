"""Profiling callbacks: GPU utilization and memory, host memory, step traces, throughput.

On a machine without GPUs the GPU trackers log one warning and do nothing.
"""
import os
import shutil
import subprocess
import threading

import numpy as np

from tensorpack.compat import tfv1
from tensorpack.utils import logger
from tensorpack.utils.gpu import get_num_gpu

from .base import Callback
from .misc import ThroughputTracker

__all__ = ["GPUUtilizationTracker", "GraphProfiler", "PeakMemoryTracker", "GPUMemoryTracker",
           "HostMemoryTracker", "ThroughputTracker"]


def _visible_gpu_ids():
    """Physical ids of the GPUs this process may use, from ``CUDA_VISIBLE_DEVICES`` or
    the number of GPUs found."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is None:
        return list(range(get_num_gpu()))
    ids = []
    for item in env.split(","):
        item = item.strip()
        if item.isdigit():
            ids.append(int(item))
    return ids


def _query_utilization(smi, devices):
    """GPU utilization in percent of each device, read with ``nvidia-smi``."""
    out = subprocess.run(
        [smi, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
         "-i", ",".join(str(d) for d in devices)],
        capture_output=True, text=True, timeout=20, check=True).stdout
    values = [float(x) for x in out.split()]
    if len(values) != len(devices):
        raise RuntimeError("nvidia-smi reported {} values for GPUs {}: {!r}".format(
            len(values), devices, out))
    return values


class GPUUtilizationTracker(Callback):
    """Put the average utilization of each GPU during an epoch to the monitors, as
    ``GPUUtil/<id>``.

    A background thread samples ``nvidia-smi`` every second while an epoch runs (the time
    between epochs is not counted). Without a GPU or without ``nvidia-smi`` it logs one
    warning and does nothing.
    """

    _chief_only = False

    def __init__(self, devices=None):
        """
        Args:
            devices (list[int]): physical GPU ids; by default those in
                ``CUDA_VISIBLE_DEVICES``, or every GPU.
        """
        self._devices = devices
        self._enabled = False
        self._interval = 1.0
        self._samples = []
        self._lock = threading.Lock()
        self._epoch_running = threading.Event()
        self._stop = threading.Event()
        self._thread = None

    def _setup_graph(self):
        devices = _visible_gpu_ids() if self._devices is None else list(self._devices)
        self._smi = shutil.which("nvidia-smi")
        if not devices or self._smi is None:
            logger.warn("[GPUUtilizationTracker] {}: the tracker is disabled.".format(
                "no GPU found" if not devices else "nvidia-smi is not available"))
            return
        if self._devices is None and len(devices) > 1:
            logger.info("[GPUUtilizationTracker] Monitoring all {} visible GPUs.".format(
                len(devices)))
        self._devices = devices
        self._enabled = True
        self._thread = threading.Thread(target=self._sample_loop, daemon=True,
                                        name="GPUUtilizationTracker")
        self._thread.start()

    def _safe_sample(self):
        """One sample per device, or None (and the tracker disabled) if sampling fails."""
        try:
            return _query_utilization(self._smi, self._devices)
        except (OSError, subprocess.SubprocessError, ValueError, RuntimeError) as e:
            if self._enabled:
                logger.warn("[GPUUtilizationTracker] reading GPU utilization failed ({}); the "
                            "tracker is disabled.".format(e))
            self._enabled = False
            return None

    def _sample_loop(self):
        while not self._stop.is_set():
            if not self._epoch_running.wait(timeout=0.5):
                continue
            values = self._safe_sample()
            if values is None:
                return
            with self._lock:
                self._samples.append(values)
            self._stop.wait(self._interval)

    def _before_epoch(self):
        if self._enabled:
            with self._lock:
                self._samples = []
            self._epoch_running.set()

    def _after_epoch(self):
        self._epoch_running.clear()

    def _trigger_epoch(self):
        if not self._enabled:
            return
        with self._lock:
            samples = list(self._samples)
        if not samples:  # an epoch shorter than the sampling interval
            one = self._safe_sample()
            if one is None:
                return
            samples = [one]
        mean = np.mean(np.asarray(samples, dtype="float64"), axis=0)
        for dev, value in zip(self._devices, mean):
            self.trainer.monitors.put_scalar("GPUUtil/{}".format(dev), float(value))

    def _after_train(self):
        self._stop.set()
        self._epoch_running.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


class GraphProfiler(Callback):
    """Trace every training step and write the traces to the logger directory:
    ``chrome-trace-<step>.json`` (open in ``chrome://tracing``), ``runmetadata-<step>.pb``
    (for tfprof) and/or a TensorBoard event.

    Tracing is expensive: restrict it to a few steps, e.g.
    ``EnableCallbackIf(GraphProfiler(), lambda self: 20 < self.trainer.global_step < 30)``.
    """

    def __init__(self, dump_metadata=False, dump_tracing=True, dump_event=False):
        """
        Args:
            dump_metadata (bool): write the ``RunMetadata`` protobuf.
            dump_tracing (bool): write a Chrome trace.
            dump_event (bool): send the metadata to the monitors (TensorBoard).

        Raises:
            ValueError: if no logger directory is set.
        """
        self._dir = logger.get_logger_dir()
        if self._dir is None or not os.path.isdir(self._dir):
            raise ValueError("GraphProfiler writes into the logger directory, but none is set: "
                             "call logger.set_logger_dir() first.")
        self._dump_meta = bool(dump_metadata)
        self._dump_tracing = bool(dump_tracing)
        self._dump_event = bool(dump_event)

    def _before_run(self, _):
        opts = tfv1.RunOptions(trace_level=tfv1.RunOptions.FULL_TRACE)
        return tfv1.train.SessionRunArgs(fetches=None, options=opts)

    def _after_run(self, _, run_values):
        meta = run_values.run_metadata
        if self._dump_meta:
            path = os.path.join(self._dir, "runmetadata-{}.pb".format(self.global_step))
            with open(path, "wb") as f:
                f.write(meta.SerializeToString())
        if self._dump_tracing:
            from tensorflow.python.client import timeline
            trace = timeline.Timeline(step_stats=meta.step_stats).generate_chrome_trace_format(
                show_dataflow=True, show_memory=True)
            path = os.path.join(self._dir, "chrome-trace-{}.json".format(self.global_step))
            with open(path, "w") as f:
                f.write(trace)
        if self._dump_event:
            evt = tfv1.Event()
            evt.tagged_run_metadata.tag = "trace-{}".format(self.global_step)
            evt.tagged_run_metadata.run_metadata = meta.SerializeToString()
            self.trainer.monitors.put_event(evt)


class GPUMemoryTracker(Callback):
    """Put the peak memory used on each GPU to the monitors at the end of every epoch, as
    ``PeakMemory(MB)/gpu:<i>``. Without a GPU it logs one warning and does nothing."""

    _chief_only = False

    def __init__(self, devices=(0,)):
        """
        Args:
            devices (list[int or str]): GPUs, as indices or device names like ``'/gpu:0'``.

        Raises:
            TypeError: if ``devices`` is not a list or tuple.
        """
        if not isinstance(devices, (list, tuple)):
            raise TypeError("GPUMemoryTracker: devices must be a list, got {!r}.".format(devices))
        self._devices = ["/gpu:{}".format(d) if isinstance(d, int) else d for d in devices]
        self._enabled = False

    def _setup_graph(self):
        import tensorflow as tf
        if not tf.config.list_physical_devices("GPU"):
            logger.warn("[GPUMemoryTracker] no GPU visible to TensorFlow: the tracker is "
                        "disabled.")
            return
        self._enabled = True

    def _trigger_epoch(self):
        if not self._enabled:
            return
        import tensorflow as tf
        for dev in self._devices:
            name = dev.lstrip("/").upper()  # '/gpu:0' -> 'GPU:0'
            try:
                peak = tf.config.experimental.get_memory_info(name)["peak"]
            except (ValueError, RuntimeError) as e:
                logger.warn("[GPUMemoryTracker] cannot read the memory of {} ({}); the tracker "
                            "is disabled.".format(dev, e))
                self._enabled = False
                return
            self.trainer.monitors.put_scalar("PeakMemory(MB)" + dev, peak / 1e6)


PeakMemoryTracker = GPUMemoryTracker


def _free_ram_gb():
    try:
        import psutil
    except ImportError as e:
        raise ImportError("HostMemoryTracker needs psutil: pip install psutil") from e
    return psutil.virtual_memory().available / 1024 ** 3


class HostMemoryTracker(Callback):
    """Put the host's available RAM to the monitors when triggered, as
    ``HostFreeMemory (GB)``; it is also logged at setup and before training."""

    _chief_only = False

    def _setup_graph(self):
        logger.info("[HostMemoryTracker] Free RAM in setup_graph() is {:.2f} GB.".format(
            _free_ram_gb()))

    def _before_train(self):
        logger.info("[HostMemoryTracker] Free RAM in before_train() is {:.2f} GB.".format(
            _free_ram_gb()))

    def _trigger(self):
        self.trainer.monitors.put_scalar("HostFreeMemory (GB)", _free_ram_gb())
