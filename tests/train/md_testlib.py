"""Shared pieces of the multi-device tests: deterministic per-tower inputs and a recorder."""
import numpy as np
import tensorflow as tf

from tensorpack import (AsyncMultiGPUTrainer, Callback, DictRestore, SimpleTrainer,
                        SyncMultiGPUTrainer, SyncMultiGPUTrainerParameterServer,
                        SyncMultiGPUTrainerReplicated)
from tensorpack.compat import tfv1
from tensorpack.input_source import TensorInput
from train_testlib import TinyModel, make_points

TRAINERS = {
    "replicated": lambda n: SyncMultiGPUTrainerReplicated(n),
    "replicated-cpu": lambda n: SyncMultiGPUTrainerReplicated(n, mode="cpu"),
    "replicated-collective": lambda n: SyncMultiGPUTrainerReplicated(n, mode="collective"),
    "replicated-nccl": lambda n: SyncMultiGPUTrainerReplicated(n, mode="nccl"),
    "replicated-sum": lambda n: SyncMultiGPUTrainerReplicated(n, average=False),
    "ps-gpu": lambda n: SyncMultiGPUTrainerParameterServer(n, ps_device="gpu"),
    "ps-cpu": lambda n: SyncMultiGPUTrainerParameterServer(n, ps_device="cpu"),
    "sync": lambda n: SyncMultiGPUTrainer(n),
    "async": lambda n: AsyncMultiGPUTrainer(n),
}


class MomentumModel(TinyModel):
    """TinyModel with a Momentum optimizer, so checkpoints hold optimizer slots too."""

    def optimizer(self):
        return tfv1.train.MomentumOptimizer(self.lr, 0.9)


def data_arrays(n):
    pts = make_points(n, seed=1)
    return (np.stack([p[0] for p in pts]).astype("float32"),
            np.array([p[1] for p in pts], dtype="int32"))


def split_input(batch, towers):
    """A TensorInput giving tower k rows [k*batch, (k+1)*batch) of a fixed data set, every
    step; one tower gets all ``towers * batch`` rows."""
    xs, ys = data_arrays(batch * towers)
    calls = []

    def per_tower():
        k = len(calls)
        calls.append(k)
        rows = slice(k * batch, (k + 1) * batch)
        return [tf.constant(xs[rows]), tf.constant(ys[rows])]
    return TensorInput(per_tower, size=4)


class CostRecorder(Callback):
    """Records tower 0's cost at every step and the variables' values after training."""

    def __init__(self, var_names=("fc/W", "fc/b")):
        self.costs = []
        self.values = {}
        self.var_names = var_names

    def _setup_graph(self):
        self._cost = self.trainer.towers.training()[0].get_tensor("cost")
        by_name = {v.op.name: v for v in tfv1.global_variables() + tfv1.local_variables()}
        self._vars = {n: by_name[n] for n in self.var_names}

    def _before_run(self, _):
        return tfv1.train.SessionRunArgs(fetches=self._cost)

    def _after_run(self, _, values):
        self.costs.append(float(values.results))

    def _after_train(self):
        self.values = self.trainer.sess.run(self._vars)


def initial_values():
    """Fixed starting values of TinyModel's variables (restored into every run compared)."""
    rng = np.random.RandomState(3)
    return {"fc/W": rng.randn(4, 3).astype("float32"), "fc/b": np.zeros(3, "float32")}


def train(trainer, model, inp, steps, callbacks=(), session_init=None, max_epoch=1):
    """Train with ``initial_values()`` (unless ``session_init`` says otherwise)."""
    if session_init is None:
        session_init = DictRestore(initial_values())
    rec = CostRecorder()
    trainer.setup_graph(model.get_input_signature(), inp, model.build_graph,
                        model.get_optimizer)
    trainer.train_with_defaults(callbacks=[rec] + list(callbacks), monitors=[],
                                extra_callbacks=[], steps_per_epoch=steps, max_epoch=max_epoch,
                                session_init=session_init)
    return rec


def reference(batch, towers, steps, model=None):
    """One device, batch ``towers * batch``: the values N towers at ``batch`` must reach."""
    tfv1.reset_default_graph()
    rec = train(SimpleTrainer(), model or TinyModel(summary=False), split_input(
        batch * towers, 1), steps)
    tfv1.reset_default_graph()
    return rec
