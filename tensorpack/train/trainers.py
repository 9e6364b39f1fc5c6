"""Concrete single-process trainers."""
from tensorpack.tfutils.tower import TrainTowerContext
from tensorpack.train.tower import SingleCostTrainer
from tensorpack.utils import logger

__all__ = ["SimpleTrainer", "NoOpTrainer", "QueueInputTrainer",
           "SyncMultiGPUTrainerParameterServer", "SyncMultiGPUTrainerReplicated",
           "AsyncMultiGPUTrainer", "SyncMultiGPUTrainer"]


class SimpleTrainer(SingleCostTrainer):
    """One tower on the default device, one cost, one optimizer."""

    def _setup_graph(self, input, get_cost_fn, get_opt_fn):
        logger.info("Building graph for a single training tower ...")
        with TrainTowerContext(""):
            grads = self._make_get_grad_fn(input, get_cost_fn, get_opt_fn)()
            self.train_op = get_opt_fn().apply_gradients(grads, name="train_op")
        return []


class NoOpTrainer(SimpleTrainer):
    """Builds the graph but runs nothing in each step: only the callbacks run."""

    def run_step(self):
        self.hooked_sess.run([])


class QueueInputTrainer(SimpleTrainer):
    """Kept for old scripts: the same as :class:`SimpleTrainer` (use it with QueueInput)."""


def _gpu_list(gpus):
    if isinstance(gpus, int):
        if gpus <= 0:
            raise ValueError("The number of GPUs must be positive, got {}.".format(gpus))
        return list(range(gpus))
    return list(gpus)


class _OneDeviceDataParallelTrainer(SimpleTrainer):
    """Upstream's data-parallel trainers, for one device: the graph is the same as upstream's
    with one GPU (a training tower named ``tower0``, variables without a prefix), so scripts
    choosing ``SyncMultiGPUTrainerReplicated(max(num_gpu, 1))`` run unchanged on one GPU or
    the CPU. Several devices are not supported by this edition.
    """

    def __init__(self, gpus):
        gpus = _gpu_list(gpus)
        if len(gpus) != 1:
            raise NotImplementedError(
                "{} with {} GPUs: multi-GPU training is not part of this edition. Train on one "
                "device ({}(1) or SimpleTrainer()).".format(
                    type(self).__name__, len(gpus), type(self).__name__))
        self.devices = gpus
        super().__init__()

    def _setup_graph(self, input, get_cost_fn, get_opt_fn):
        logger.info("Building graph for training tower 'tower0' ...")
        with TrainTowerContext("tower0", index=0, total=1):
            grads = self._make_get_grad_fn(input, get_cost_fn, get_opt_fn)()
        self.train_op = get_opt_fn().apply_gradients(grads, name="train_op")
        return []


class SyncMultiGPUTrainerParameterServer(_OneDeviceDataParallelTrainer):
    """Upstream's parameter-server trainer, on one device (see the base class)."""

    def __init__(self, gpus, ps_device=None):
        super().__init__(gpus)
        self.ps_device = ps_device


class SyncMultiGPUTrainerReplicated(_OneDeviceDataParallelTrainer):
    """Upstream's replicated trainer, on one device (see the base class)."""

    def __init__(self, gpus, average=True, mode=None):
        super().__init__(gpus)
        self.average, self.mode = average, mode


class AsyncMultiGPUTrainer(_OneDeviceDataParallelTrainer):
    """Upstream's asynchronous trainer, on one device (see the base class)."""

    def __init__(self, gpus, scale_gradient=True):
        super().__init__(gpus)
        self.scale_gradient = scale_gradient


def SyncMultiGPUTrainer(gpus):
    """Upstream's default data-parallel trainer, on one device.

    Returns:
        SyncMultiGPUTrainerParameterServer
    """
    return SyncMultiGPUTrainerParameterServer(gpus, ps_device="cpu")
