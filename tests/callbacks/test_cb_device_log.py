"""Logs name the device a tower really runs on: ``/cpu:0`` on a machine without a GPU
(upstream says ``/gpu:0`` there and relies on soft placement)."""

import numpy as np
import pytest
import tensorflow as tf

from cb_helpers import fresh_graph, set_logger_dir  # noqa: F401
from tensorpack.callbacks import InferenceRunner, ScalarStats
from tensorpack.compat import tfv1
from tensorpack.dataflow import BatchData, DataFromList
from tensorpack.graph_builder import devices
from tensorpack.train import ModelDesc, SimpleTrainer, TrainConfig, launch_train_with_config

needs_cpu_only = pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")),
                                    reason="checks the log of a machine without a GPU")


class _Model(ModelDesc):
    def inputs(self):
        return [tf.TensorSpec((None, 2), tf.float32, "x")]

    def build_graph(self, x):
        w = tfv1.get_variable("W", [2, 1], initializer=tfv1.ones_initializer())
        out = tfv1.identity(tfv1.matmul(x, w), name="out")
        return tfv1.reduce_mean(tfv1.square(out), name="cost")

    def optimizer(self):
        return tfv1.train.GradientDescentOptimizer(0.01)


def _data(n):
    return BatchData(DataFromList([[np.ones(2, np.float32)] for _ in range(n)], shuffle=False),
                     2)


def _device_lines(messages, tower):
    return [m for m in messages if "'{}'".format(tower) in m and "on device" in m]


def _is_cpu(device):
    return tfv1.DeviceSpec.from_string(device).device_type == "CPU"


@needs_cpu_only
def test_inference_runner_logs_and_uses_the_cpu(tmp_path, logs):
    set_logger_dir(tmp_path)
    seen = {}

    class _Probe(InferenceRunner):
        def _setup_graph(self):
            super()._setup_graph()
            seen["device"] = self._tower_handle.get_tensor("out").op.device
            # the trainer's predictors follow the same rule
            self.trainer.get_predictor(["x"], ["out"], device=0)

    config = TrainConfig(model=_Model(), dataflow=_data(4),
                         callbacks=[_Probe(_data(4), [ScalarStats("cost")])],
                         steps_per_epoch=1, max_epoch=1)
    launch_train_with_config(config, SimpleTrainer())

    lines = _device_lines(logs, "InferenceTower")
    assert len(lines) == 1, logs
    assert "on device /cpu:0" in lines[0] and "gpu" not in lines[0].lower(), lines[0]
    assert _is_cpu(seen["device"]), seen
    pred = _device_lines(logs, "tower-pred-0")
    assert len(pred) == 1 and "on device /cpu:0" in pred[0], logs


def test_single_device_rule(monkeypatch):
    monkeypatch.setattr(devices, "gpu_available", lambda: True)
    assert devices.single_device(0) == "/gpu:0"   # upstream's choice where a GPU exists
    assert devices.single_device(3) == "/gpu:3"
    assert devices.single_device(-1) == "/cpu:0"
    monkeypatch.setattr(devices, "gpu_available", lambda: False)
    assert devices.single_device(0) == "/cpu:0"
    assert devices.single_device(2) == "/cpu:0"
    assert devices.single_device(-1) == "/cpu:0"
