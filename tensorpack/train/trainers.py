"""Concrete single-process trainers: one device, or several devices of one machine."""
from tensorpack.graph_builder.devices import (as_gpu_list, cpu_device_count, devices_are_cpus,
                                              tower_devices, with_cpu_devices)
from tensorpack.graph_builder.training import (AsyncMultiGPUBuilder,
                                               SyncMultiGPUParameterServerBuilder,
                                               SyncMultiGPUReplicatedBuilder,
                                               resolve_replicated_mode)
from tensorpack.tfutils.sesscreate import NewSessionCreator
from tensorpack.tfutils.tower import TrainTowerContext
from tensorpack.train.collective import BytePSTrainer, HorovodTrainer
from tensorpack.train.distributed import (DistributedTrainerParameterServer,
                                          DistributedTrainerReplicated)
from tensorpack.train.tower import SingleCostTrainer
from tensorpack.utils import logger

__all__ = ["SimpleTrainer", "NoOpTrainer", "QueueInputTrainer",
           "SyncMultiGPUTrainerParameterServer", "SyncMultiGPUTrainerReplicated",
           "AsyncMultiGPUTrainer", "SyncMultiGPUTrainer", "HorovodTrainer", "BytePSTrainer",
           "DistributedTrainerParameterServer", "DistributedTrainerReplicated"]


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


class DataParallelTrainer(SingleCostTrainer):
    """Base of the trainers that build one tower per device with a graph builder.

    Without a GPU, the towers go to ``/cpu:0``, ``/cpu:1``, ...; when the trainer creates the
    default session (no ``session_creator`` given, or a :class:`NewSessionCreator`), it asks
    that session for enough CPU devices (``device_count={'CPU': N}``).

    Attributes:
        devices (list[int]): the GPU ids, one per tower.
    """

    _builder = None

    def __init__(self, gpus):
        self.devices = as_gpu_list(gpus)
        super().__init__()

    @property
    def tower_devices(self):
        """list[str]: the device of each training tower."""
        return list(self._builder.raw_devices)

    def _check_input(self, input):
        from tensorpack.input_source import FeedfreeInput
        if len(self.devices) > 1 and not isinstance(input, FeedfreeInput):
            raise ValueError(
                "{} with {} towers needs an input that makes tensors without feeding "
                "(QueueInput(dataflow), TensorInput, ...), got {}. Pass the DataFlow itself "
                "and launch_train_with_config wraps it in a QueueInput.".format(
                    type(self).__name__, len(self.devices), type(input).__name__))

    def _session_creator_for_devices(self, session_creator):
        devices = self.tower_devices
        if len(devices) <= 1 or not devices_are_cpus(devices):
            return session_creator
        n = len(devices)
        if type(session_creator) is NewSessionCreator:
            if cpu_device_count(session_creator.config) >= n:
                return session_creator
            logger.info("Towers are on {} CPU devices: the session is created with "
                        "device_count={{'CPU': {}}}.".format(n, n))
            return NewSessionCreator(target=session_creator.target,
                                     config=with_cpu_devices(n, session_creator.config))
        logger.warn("Towers are on {} CPU devices but the session comes from a {}: give it a "
                    "config from tensorpack.graph_builder.with_cpu_devices({}), or the towers "
                    "share one CPU device.".format(n, type(session_creator).__name__, n))
        return session_creator

    def initialize(self, session_creator, session_init):
        super().initialize(self._session_creator_for_devices(session_creator), session_init)

    def _build(self, input, get_cost_fn, get_opt_fn):
        """Build the towers and the update with the builder; returns ``builder.build``'s."""
        self._check_input(input)
        tower_fn = self._make_get_grad_fn(input, get_cost_fn, get_opt_fn)
        grad_list = self._builder.call_for_each_tower(tower_fn)
        return self._builder.build(grad_list, get_opt_fn)

    def _setup_graph(self, input, get_cost_fn, get_opt_fn):
        self.train_op = self._build(input, get_cost_fn, get_opt_fn)
        return []


class SyncMultiGPUTrainerParameterServer(DataParallelTrainer):
    """Synchronous data-parallel training with one shared copy of the variables: the
    towers' gradients are averaged and applied once (upstream's "parameter server" mode).
    """

    def __init__(self, gpus, ps_device=None):
        """
        Args:
            gpus (int or list[int]): the number of GPUs, or their ids.
            ps_device (str): where the variables live: ``'cpu'`` or ``'gpu'`` (spread over
                the towers' devices). Default: ``'gpu'`` for up to 2 towers, else ``'cpu'``.
        """
        super().__init__(gpus)
        if ps_device is None:
            ps_device = "gpu" if len(self.devices) <= 2 else "cpu"
        self.ps_device = ps_device
        self._builder = SyncMultiGPUParameterServerBuilder(self.devices, ps_device)


def SyncMultiGPUTrainer(gpus):
    """A synchronous data-parallel trainer with default settings.

    Returns:
        SyncMultiGPUTrainerParameterServer: with ``ps_device='cpu'``.
    """
    return SyncMultiGPUTrainerParameterServer(gpus, ps_device="cpu")


class AsyncMultiGPUTrainer(DataParallelTrainer):
    """Data-parallel training where each tower applies its own gradients to the shared
    variables, without averaging across towers.
    """

    def __init__(self, gpus, scale_gradient=True):
        """
        Args:
            gpus (int or list[int]): the number of GPUs, or their ids.
            scale_gradient (bool): scale each gradient by ``1 / #towers``.
        """
        super().__init__(gpus)
        self.scale_gradient = scale_gradient
        self._builder = AsyncMultiGPUBuilder(self.devices, scale_gradient)


class SyncMultiGPUTrainerReplicated(DataParallelTrainer):
    """Synchronous data-parallel training where each tower has its own copy of the variables
    and the gradients are all-reduced (upstream's "replicated" mode).

    Tower 0's variables keep their plain names and are the ones checkpoints hold; tower
    ``k``'s copies are ``tower<k>/...`` local variables. Before the first step (after
    ``session_init``) and, with ``BROADCAST_EVERY_EPOCH``, after every epoch, tower 0's
    values are copied into the other towers.

    Attributes:
        BROADCAST_EVERY_EPOCH (bool): also copy the variables at every epoch's trigger
            (cheap; keeps e.g. statistics only tower 0 updates in sync). Set it before
            the graph is built.
    """

    def __init__(self, gpus, average=True, mode=None):
        """
        Args:
            gpus (int or list[int]): the number of GPUs, or their ids.
            average (bool): average the gradients (else sum them).
            mode (str): all-reduce mode: ``'nccl'``, ``'cpu'``, ``'gpu'``,
                ``'hierarchical'`` or ``'collective'``; None picks one. A mode that cannot
                run on these devices falls back to one that can (one log line says so).
        """
        super().__init__(gpus)
        self.average = average
        devices = tower_devices(self.devices)
        self.mode = resolve_replicated_mode(mode, devices)
        self._builder = SyncMultiGPUReplicatedBuilder(self.devices, average, self.mode,
                                                      devices=devices)
        self.BROADCAST_EVERY_EPOCH = True

    def _setup_graph(self, input, get_cost_fn, get_opt_fn):
        self.train_op, post_init_op = self._build(input, get_cost_fn, get_opt_fn)
        self.mode = self._builder.mode
        if post_init_op is None:
            return []
        from tensorpack.callbacks import RunOp
        # Runs in before_train, i.e. after session_init loaded the masters.
        cb = RunOp(post_init_op, run_before=True, run_as_trigger=self.BROADCAST_EVERY_EPOCH,
                   verbose=True)
        cb.name_scope = "SyncVariables"
        return [cb]
