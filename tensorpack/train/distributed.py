"""Trainers for a cluster of processes on TensorFlow's gRPC runtime (between-graph
replication): ``DistributedTrainerReplicated`` and ``DistributedTrainerParameterServer``.

Every process runs the same script with its own ``tf.compat.v1.train.Server``. A ``ps`` task
only serves (creating the trainer blocks in ``server.join()``, as upstream); ``worker`` tasks
train in lockstep. Worker 0 is the chief: it initializes the variables (``session_init``
included) before any other worker copies them, and it alone runs chief-only callbacks
(ModelSaver, monitors that write files). Checkpoints hold the plain variable names and
``global_step``, like a one-device run's.

A blocking operation (a barrier waiting for a worker that died, a worker waiting for a chief
that never initializes) fails after ``timeout`` seconds with an error saying so, instead of
waiting forever.
"""
import os

import tensorflow as tf

from tensorpack.callbacks.steps import GLOBAL_STEP_INCR_OP_NAME, MaintainStepCounter
from tensorpack.compat import tfv1
from tensorpack.graph_builder.devices import as_gpu_list
from tensorpack.graph_builder.distributed import (DistributedParameterServerBuilder,
                                                  DistributedReplicatedBuilder)
from tensorpack.tfutils.common import get_default_sess_config, get_global_step_var
from tensorpack.tfutils.distributed import get_distributed_session_creator
from tensorpack.tfutils.sesscreate import NewSessionCreator
from tensorpack.train.tower import SingleCostTrainer
from tensorpack.utils import logger

__all__ = ["DistributedTrainerReplicated", "DistributedTrainerParameterServer"]

DEFAULT_TIMEOUT = 120.0
_CLUSTER_ERRORS = (tf.errors.DeadlineExceededError, tf.errors.UnavailableError,
                   tf.errors.AbortedError, tf.errors.CancelledError)


class ClusterError(RuntimeError):
    """Another task of the cluster stopped answering (died, hung or was killed)."""


class _ChiefStepCounter(MaintainStepCounter):
    """Increments the shared ``global_step`` once a step has finished on every worker (its
    barrier passed), so a worker starting late never sees a step it did not take part in."""

    def _setup_graph(self):
        gs = get_global_step_var()
        with tfv1.name_scope(None), tf.control_dependencies([self.trainer.train_op]):
            self.gs_incr_op = tfv1.assign_add(gs, 1, name=GLOBAL_STEP_INCR_OP_NAME).op
        self._fetches = tfv1.train.SessionRunArgs(self.gs_incr_op)


class _FollowerStepCounter(MaintainStepCounter):
    """Counts steps on a non-chief worker without incrementing the shared ``global_step``
    (the chief does: all workers step together, so one increment per step)."""

    def _setup_graph(self):
        self._fetches = None

    def _before_run(self, _):
        return None


class DistributedTrainerBase(SingleCostTrainer):
    """Shared parts of the distributed trainers (see the module docstring)."""

    devices = None
    _builder = None

    def __init__(self, gpus, server, timeout=DEFAULT_TIMEOUT):
        super().__init__()
        self.devices = as_gpu_list(gpus)
        self.server = server
        self.job_name = server.server_def.job_name
        self.timeout = float(timeout) if timeout else None
        if self.job_name not in ("ps", "worker"):
            raise ValueError("Distributed training knows jobs 'ps' and 'worker'; this server "
                             "is job '{}'.".format(self.job_name))
        logger.info("Distributed training on cluster:\n{}".format(server.server_def.cluster))
        if self.job_name == "ps":
            self.join()

    def join(self):
        """Serve as a ps task until killed (never returns)."""
        logger.info("Calling server.join() on {}:{}; kill me with 'kill {}'.".format(
            self.job_name, self.server.server_def.task_index, os.getpid()))
        self.server.join()
        raise RuntimeError("server.join() returned; a ps task is expected to serve forever.")

    def _start_builder(self, builder):
        self._builder = builder
        self.is_chief = builder.is_chief
        self._release_op = self._wait_op = None

    @property
    def task_index(self):
        """int: this worker's index (0 is the chief)."""
        return self._builder.task_index

    def _make_step_counter(self):
        return _ChiefStepCounter() if self.is_chief else _FollowerStepCounter()

    def setup_graph(self, input_signature, input, get_cost_fn, get_opt_fn):
        # everything this worker builds runs on this worker unless placed elsewhere
        with tfv1.device(self._builder.worker_device):
            super().setup_graph(input_signature, input, get_cost_fn, get_opt_fn)
            self._release_op, self._wait_op = self._builder.chief_ready_ops()

    def setup_callbacks(self, callbacks, monitors):
        with tfv1.device(self._builder.worker_device):
            super().setup_callbacks(callbacks, monitors)

    def _session_config(self):
        config = get_default_sess_config()
        index = self._builder.task_index
        # see only the ps tasks and itself: another worker's death must not stop this session
        config.device_filters.extend(["/job:ps", "/job:worker/task:{}".format(index)])
        if self.timeout:
            config.operation_timeout_in_ms = int(self.timeout * 1000)
        return config

    def initialize(self, session_creator, session_init):
        if type(session_creator) is not NewSessionCreator or \
                session_creator.user_provided_config:
            raise ValueError("Distributed trainers create their own sessions: do not pass "
                             "session_creator or session_config; give a config to "
                             "tf.compat.v1.train.Server instead.")
        creator = get_distributed_session_creator(self.server, self._session_config(),
                                                  self.timeout)
        try:
            super().initialize(creator, session_init)
            if self.is_chief:
                # session_init is done: the other workers may copy the values now
                self.sess.run(self._release_op)
            else:
                logger.info("Waiting for the chief to finish initializing ...")
                self.sess.run(self._wait_op)
        except _CLUSTER_ERRORS as e:
            raise ClusterError(self._explain(e, "initialization")) from e

    def main_loop(self, steps_per_epoch, starting_epoch, max_epoch):
        if not self.is_chief and steps_per_epoch > 0:
            # The chief may have resumed (e.g. AutoResumeTrainConfig): start where the shared
            # step counter says, so that every worker runs the same steps.
            step = int(self.sess.run(tfv1.train.get_global_step()))
            follow = step // steps_per_epoch + 1
            if follow != starting_epoch:
                logger.info("Worker {}: the shared global_step is {}, so training starts at "
                            "epoch {} (not {}) like the chief.".format(
                                self._builder.task_index, step, follow, starting_epoch))
                starting_epoch = follow
        super().main_loop(steps_per_epoch, starting_epoch, max_epoch)

    def _explain(self, err, stage):
        return ("Worker {} of the cluster: {} failed with {} after waiting up to {} s; another "
                "task of the cluster (a worker or a ps) probably died or hangs. ({})".format(
                    self._builder.task_index, stage, type(err).__name__,
                    self.timeout if self.timeout else "unbounded",
                    err.message.splitlines()[0] if err.message else ""))

    def run_step(self):
        try:
            self.hooked_sess.run(self.train_op)
        except _CLUSTER_ERRORS as e:
            raise ClusterError(self._explain(e, "training step {}".format(
                self.loop.global_step + 1))) from e


class DistributedTrainerReplicated(DistributedTrainerBase):
    """Between-graph replicated training: each worker's towers have local copies of the
    variables; the ps holds the global ones (those saved); see the module docstring.
    """

    def __init__(self, gpus, server, timeout=DEFAULT_TIMEOUT):
        """
        Args:
            gpus (int or list[int]): GPUs of this worker (one tower each).
            server (tf.compat.v1.train.Server): this process's server.
            timeout (float): seconds a blocking cluster operation may take before training
                fails with :class:`ClusterError`; None for no limit.
        """
        super().__init__(gpus, server, timeout)
        self._start_builder(DistributedReplicatedBuilder(self.devices, server))

    def _setup_graph(self, input, get_cost_fn, get_opt_fn):
        from tensorpack.callbacks import RunOp
        from tensorpack.input_source import FeedfreeInput
        if not isinstance(input, FeedfreeInput):
            raise ValueError("Distributed training needs an input that makes tensors without "
                             "feeding (e.g. QueueInput), got {}.".format(type(input).__name__))
        self.train_op, initial_sync_op, model_sync_op = self._builder.build(
            self._make_get_grad_fn(input, get_cost_fn, get_opt_fn), get_opt_fn)
        sync = RunOp(initial_sync_op, run_before=True, run_as_trigger=False, verbose=True)
        callbacks = [sync.set_chief_only(False)]
        if model_sync_op is not None:
            # before ModelSaver triggers (the trainer's callbacks come first)
            callbacks.append(RunOp(model_sync_op, run_before=False, run_as_trigger=True,
                                   verbose=True))
        return callbacks

    @property
    def _main_tower_vs_name(self):
        return "tower0"

    def _vs_name_for_predictor(self, device):
        return "tower0"


class DistributedTrainerParameterServer(DistributedTrainerBase):
    """Between-graph training on shared ps variables; see the module docstring."""

    def __init__(self, gpus, server, caching_device="cpu", timeout=DEFAULT_TIMEOUT):
        """
        Args:
            gpus (int or list[int]): GPUs of this worker (one tower each).
            server (tf.compat.v1.train.Server): this process's server.
            caching_device (str): ``'cpu'`` or ``'gpu'``: where ps values are cached.
            timeout (float): as for :class:`DistributedTrainerReplicated`.
        """
        super().__init__(gpus, server, timeout)
        self._start_builder(DistributedParameterServerBuilder(self.devices, server,
                                                              caching_device))

    def _setup_graph(self, input, get_cost_fn, get_opt_fn):
        from tensorpack.input_source import FeedfreeInput
        if not isinstance(input, FeedfreeInput):
            raise ValueError("Distributed training needs an input that makes tensors without "
                             "feeding (e.g. QueueInput), got {}.".format(type(input).__name__))
        self.train_op = self._builder.build(
            self._make_get_grad_fn(input, get_cost_fn, get_opt_fn), get_opt_fn)
        return []
