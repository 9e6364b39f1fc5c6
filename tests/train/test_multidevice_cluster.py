"""Distributed trainers on a loopback cluster: 1 ps + 2 worker processes on 127.0.0.1,
every process bounded in time and reaped."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tensorpack import (ModelSaver, OfflinePredictor, PredictConfig, SimpleTrainer, SmartInit,
                        TrainConfig, launch_train_with_config, BatchData)
from tensorpack.compat import tfv1
from tensorpack.dataflow import DataFromList

from md_testlib import MomentumModel
from train_testlib import make_points

TASK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "md_cluster_task.py")
WAIT = 180  # seconds a whole cluster run may take on a busy 2-core machine


def _free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Cluster:
    """Starts the tasks; on exit kills and reaps every process still running."""

    def __init__(self, tmp_path, trainer, extra=()):
        self.dir = tmp_path
        self.ports = ",".join(str(p) for p in _free_ports(3))
        self.common = ["--ports", self.ports, "--trainer", trainer] + list(extra)
        self.procs = {}

    def start(self, name, job, task, *args):
        out = open(self.dir / "{}.out".format(name), "w")
        cwd = self.dir / "cwd-{}".format(name)
        cwd.mkdir()
        cmd = [sys.executable, TASK, "--job", job, "--task", str(task)] + self.common + \
            list(args)
        self.procs[name] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                            cwd=str(cwd), env=dict(os.environ))
        out.close()
        return self.procs[name]

    def run_all(self, chief_logdir, timeout=WAIT):
        """Start the ps and both workers; wait for the workers.

        Returns:
            tuple(list[int], list[str]): the workers' exit codes and outputs.
        """
        self.start("ps", "ps", 0)
        self.start("w0", "worker", 0, "--logdir", str(chief_logdir))
        self.start("w1", "worker", 1)
        rcs = [self.wait("w0", timeout), self.wait("w1", timeout)]
        outs = [self.output("w0"), self.output("w1")]
        assert rcs == [0, 0], outs[rcs.index(max(rcs))][-3000:]
        return rcs, outs

    def output(self, name):
        return (self.dir / "{}.out".format(name)).read_text()

    def wait(self, name, timeout=WAIT):
        try:
            return self.procs[name].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail("{} did not finish within {} s; its output:\n{}".format(
                name, timeout, self.output(name)[-3000:]))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
        for p in self.procs.values():
            p.wait(timeout=30)
        return False


def _one_device_checkpoint(tmp_path):
    tfv1.reset_default_graph()
    from tensorpack.utils import logger
    d = str(tmp_path / "one-device")
    logger.set_logger_dir(d, action="d")
    try:
        config = TrainConfig(model=MomentumModel(), callbacks=[ModelSaver()], monitors=[],
                             dataflow=BatchData(DataFromList(make_points(12)), 4),
                             extra_callbacks=[], steps_per_epoch=2, max_epoch=1)
        launch_train_with_config(config, SimpleTrainer())
    finally:
        logger._logger.removeHandler(logger._FILE_HANDLER)
        logger._FILE_HANDLER.close()
        logger._FILE_HANDLER = None
        logger.LOG_DIR = None
        tfv1.reset_default_graph()
    prefix = tf.train.latest_checkpoint(d)
    return prefix, float(tf.train.load_variable(prefix, "fc/W").sum())


@pytest.mark.parametrize("trainer", ["replicated", "ps"])
def test_cluster_trains_chief_saves_and_checkpoint_predicts(tmp_path, fresh_graph, trainer):
    init, init_sum = _one_device_checkpoint(tmp_path)
    logdir = tmp_path / "chief-log"
    with Cluster(tmp_path, trainer, ["--steps", "3", "--epochs", "3", "--timeout", "60",
                                     "--init", init]) as c:
        _, outs = c.run_all(logdir)
    for out in outs:
        # session_init ran on the chief and reached every worker's towers
        init_line = [ln for ln in out.splitlines() if ln.startswith("INIT ")][0]
        assert abs(float(init_line.split()[2]) - init_sum) < 1e-4, init_line
        assert "DONE 11" in out  # 2 steps restored from the checkpoint + 9 trained
    assert "ModelSaver is chief-only, skipped" in outs[1]
    assert os.listdir(tmp_path / "cwd-w1") == []  # the other worker wrote nothing

    prefix = tf.train.latest_checkpoint(str(logdir))
    assert os.path.basename(prefix) == "model-11"
    names = dict(tf.train.list_variables(prefix))
    assert set(names) == {"fc/W", "fc/b", "fc/W/Momentum", "fc/b/Momentum", "global_step"}
    with open(logdir / "stats.json") as f:
        costs = [e["cost"] for e in json.load(f)]
    # Trained: the weights moved from the restored ones and the cost stayed finite. (Whether
    # the noisy cost of 9 asynchronous steps ends lower is chance; the in-process
    # multi-device tests check that the loss goes down.)
    assert all(np.isfinite(costs)) and len(costs) == 3
    moved = tf.train.load_variable(prefix, "fc/W") - tf.train.load_variable(init, "fc/W")
    assert np.abs(moved).max() > 1e-4

    if trainer == "replicated":
        _resume_one_more_epoch(tmp_path, trainer, logdir)

    pred = OfflinePredictor(PredictConfig(model=MomentumModel(), session_init=SmartInit(prefix),
                                          input_names=["x"], output_names=["prob"]))
    x = np.random.RandomState(0).randn(5, 4).astype("float32")
    logits = x @ tf.train.load_variable(prefix, "fc/W") + tf.train.load_variable(prefix, "fc/b")
    expected = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(pred(x)[0], expected, rtol=1e-5, atol=1e-6)


def _resume_one_more_epoch(tmp_path, trainer, logdir):
    """The chief resumes with AutoResumeTrainConfig; the other worker follows its step."""
    run = tmp_path / "resume"
    run.mkdir()
    with Cluster(run, trainer, ["--steps", "3", "--epochs", "4", "--timeout", "60",
                                "--resume"]) as c:
        _, outs = c.run_all(logdir)
    assert all("DONE 14" in out for out in outs), outs[1][-2000:]
    assert "starts at epoch 4" in outs[1]
    assert os.path.basename(tf.train.latest_checkpoint(str(logdir))) == "model-14"


def test_killing_a_worker_makes_the_others_fail_clearly(tmp_path):
    with Cluster(tmp_path, "replicated", ["--steps", "500", "--epochs", "1", "--delay", "0.1",
                                          "--timeout", "5"]) as c:
        c.start("ps", "ps", 0)
        c.start("w0", "worker", 0, "--logdir", str(tmp_path / "chief-log"))
        w1 = c.start("w1", "worker", 1)
        deadline = time.time() + WAIT
        while "STEP 3" not in c.output("w1"):
            assert w1.poll() is None and time.time() < deadline, c.output("w1")[-3000:]
            time.sleep(0.2)
        w1.send_signal(signal.SIGKILL)
        killed_at = time.time()
        rc = c.wait("w0", timeout=90)
        out = c.output("w0")
        assert rc != 0 and "DONE" not in out
        assert "ClusterError" in out and "probably died" in out, out[-3000:]
        assert time.time() - killed_at < 90
