"""Graph builders for data-parallel training on the devices of one machine.

A builder knows where towers go and how their gradients are combined; the trainer only
calls ``call_for_each_tower(tower_fn)`` then ``build(grad_list, get_opt_fn)``:

* :class:`SyncMultiGPUParameterServerBuilder`: one set of variables (on the CPU or spread
  over the towers' devices), towers share it; gradients are averaged, applied once.
* :class:`SyncMultiGPUReplicatedBuilder`: tower 0 owns the variables under their plain
  names, tower ``k > 0`` a replica ``tower<k>/...`` kept in ``LOCAL_VARIABLES`` (so
  checkpoints hold each name once); gradients are all-reduced and every tower applies them
  to its copy. A broadcast op copies the masters into the replicas after initialization.
* :class:`AsyncMultiGPUBuilder`: shared variables; each tower's gradients are applied on
  their own, without waiting for each other's.

Towers are named ``tower0``, ``tower1``, ... and built under :class:`TrainTowerContext` with
``index`` / ``total`` set, as upstream.
"""
import re
from contextlib import contextmanager

import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.graph_builder.devices import devices_are_cpus, gpu_available, tower_devices
from tensorpack.graph_builder.utils import (LeastLoadedDeviceSetter, aggregate_grads_colocate,
                                            allreduce_grads, allreduce_grads_hierarchical,
                                            allreduce_grads_naive, merge_grad_list,
                                            override_to_local_variable, split_grad_list)
from tensorpack.tfutils.tower import TrainTowerContext
from tensorpack.utils import logger

__all__ = ["DataParallelBuilder", "SyncMultiGPUParameterServerBuilder",
           "SyncMultiGPUReplicatedBuilder", "AsyncMultiGPUBuilder", "REPLICATED_MODES",
           "resolve_replicated_mode"]

REPLICATED_MODES = ("nccl", "cpu", "gpu", "hierarchical", "collective")
_REPLICA_RE = re.compile(r"^tower(\d+)/")


@contextmanager
def _reuse_variables(reuse):
    if reuse:
        with tfv1.variable_scope(tfv1.get_variable_scope(), reuse=True):
            yield
    else:
        yield


class DataParallelBuilder:
    """Base of the builders: builds one training tower per device."""

    def __init__(self, towers, devices=None):
        """
        Args:
            towers (list[int]): GPU ids, one per tower.
            devices (list[str]): the device of each tower; by default
                :func:`~tensorpack.graph_builder.devices.tower_devices` (GPUs, else CPUs).
        """
        self.towers = list(towers)
        self.raw_devices = list(devices) if devices is not None else tower_devices(self.towers)
        if len(self.raw_devices) != len(self.towers):
            raise ValueError("{} towers but {} devices: {}.".format(
                len(self.towers), len(self.raw_devices), self.raw_devices))
        if len(self.towers) > 1:
            logger.info("[DataParallel] Training a model of {} towers on {}.".format(
                len(self.towers), ", ".join(self.raw_devices)))

    @staticmethod
    def _check_grad_list(grad_list):
        counts = [len(g) for g in grad_list]
        if len(set(counts)) == 1:
            return
        names = [{_REPLICA_RE.sub("", v.op.name) for _, v in tower} for tower in grad_list]
        common = set.intersection(*names)
        extra = ["tower{}: {}".format(k, sorted(n - common)) for k, n in enumerate(names)]
        raise ValueError("The towers have different numbers of gradients ({}); variables only "
                         "some towers have: {}. Every tower must build the same trainable "
                         "variables.".format(counts, "; ".join(extra)))

    @staticmethod
    def build_on_towers(towers, func, devices=None, use_vs=None):
        """Call ``func`` once per tower, under the tower's device and TrainTowerContext.

        Args:
            towers (list[int]): GPU ids, one per tower.
            func (callable): builds one tower and returns something (e.g. its gradients).
            devices (list): a device name or device function per tower; by default
                :func:`tower_devices`.
            use_vs (list[bool]): per tower, whether it gets its own variable scope
                ``tower<k>`` (its variables then go to ``LOCAL_VARIABLES``); otherwise
                towers after the first reuse the first tower's variables.

        Returns:
            list: the return values of ``func``, one per tower.
        """
        n = len(towers)
        devices = devices if devices is not None else tower_devices(towers)
        use_vs = use_vs if use_vs is not None else [False] * n
        if len(devices) != n or len(use_vs) != n:
            raise ValueError("build_on_towers: {} towers, {} devices, {} use_vs entries; they "
                             "must be equal.".format(n, len(devices), len(use_vs)))
        results = []
        for idx in range(n):
            name = "tower{}".format(idx)
            own_scope = bool(use_vs[idx])
            with tfv1.device(devices[idx]), _reuse_variables(idx > 0 and not own_scope), \
                    TrainTowerContext(name, vs_name=name if own_scope else "", index=idx,
                                      total=n):
                where = devices[idx] if isinstance(devices[idx], str) else str(devices[idx])
                logger.info("Building graph for training tower {} on device {} ...".format(
                    idx, where))
                with override_to_local_variable(enable=own_scope):
                    results.append(func())
        return results

    call_for_each_tower = build_on_towers

    def _build_with_shared_variables(self, tower_fn, ps_devices):
        """Build every tower on its device, all sharing one set of variables placed on
        the least loaded of ``ps_devices``."""
        setters = [LeastLoadedDeviceSetter(d, ps_devices) for d in self.raw_devices]
        return DataParallelBuilder.build_on_towers(self.towers, tower_fn, setters)


class SyncMultiGPUParameterServerBuilder(DataParallelBuilder):
    """Synchronous data-parallel training with shared variables ("parameter server" mode):
    the towers' gradients are averaged and applied once.
    """

    def __init__(self, towers, ps_device, devices=None):
        """
        Args:
            towers (list[int]): GPU ids.
            ps_device (str): ``'cpu'`` (variables on ``/cpu:0``) or ``'gpu'`` (variables
                spread over the towers' devices; towers on CPU devices keep them all on
                ``/cpu:0``, since CPU devices share the host's memory).
        """
        if ps_device not in ("cpu", "gpu"):
            raise ValueError("ps_device must be 'cpu' or 'gpu', got {!r}.".format(ps_device))
        super().__init__(towers, devices)
        self.ps_device = ps_device

    def _ps_devices(self):
        # CPU devices share the host's memory: spreading variables over them only adds copies
        if self.ps_device == "cpu" or devices_are_cpus(self.raw_devices):
            return ["/cpu:0"]
        return self.raw_devices

    def call_for_each_tower(self, tower_fn):
        """Build every tower with ``tower_fn``; variables go to the parameter devices.

        Returns:
            list: ``tower_fn``'s return value per tower.
        """
        return self._build_with_shared_variables(tower_fn, self._ps_devices())

    def build(self, grad_list, get_opt_fn):
        """Average the gradients (each next to its variable) and apply them.

        Args:
            grad_list (list[list[(tf.Tensor, tf.Variable)]]): the towers' gradients.
            get_opt_fn (callable): returns the optimizer.

        Returns:
            tf.Operation: the training op ``train_op``.
        """
        DataParallelBuilder._check_grad_list(grad_list)
        self.grads = aggregate_grads_colocate(grad_list, average=True)
        opt = get_opt_fn()
        if self.ps_device == "cpu":
            with tf.device("/cpu:0"):
                return opt.apply_gradients(self.grads, name="train_op")
        return opt.apply_gradients(self.grads, name="train_op")


def resolve_replicated_mode(mode, devices):
    """The all-reduce mode the replicated builder uses for ``mode`` on ``devices``.

    ``None`` picks upstream's default (``'hierarchical'`` on 8 GPUs, else ``'gpu'``: sums
    spread over the towers' devices). A mode that cannot run on these devices falls back
    to one that can, said in one log line: ``'nccl'`` needs GPUs, ``'hierarchical'``
    needs 8 towers.

    Args:
        mode (str or None): one of :data:`REPLICATED_MODES` or None.
        devices (list[str]): the towers' devices.

    Returns:
        str

    Raises:
        ValueError: for an unknown mode.
    """
    if mode is not None:
        mode = str(mode).lower()
        if mode not in REPLICATED_MODES:
            raise ValueError("Unknown all-reduce mode {!r}; use one of {} (or None for the "
                             "default).".format(mode, ", ".join(REPLICATED_MODES)))
    on_cpu = devices_are_cpus(devices)
    default = "hierarchical" if len(devices) == 8 and not on_cpu else "gpu"
    if mode is None:
        return default
    reason = None
    if mode == "nccl" and (on_cpu or not gpu_available()):
        reason = "NCCL needs GPUs and the towers are on {}".format(
            "CPUs" if on_cpu else "devices without a visible GPU")
    elif mode == "hierarchical" and len(devices) != 8:
        reason = "it needs 8 towers, there are {}".format(len(devices))
    if reason is None:
        return mode
    fallback = "gpu" if default == "hierarchical" else default
    logger.warn("SyncMultiGPUTrainerReplicated: mode='{}' cannot run here ({}); using "
                "mode='{}' (sums with plain ops on the towers' devices).".format(
                    mode, reason, fallback))
    return fallback


class SyncMultiGPUReplicatedBuilder(DataParallelBuilder):
    """Synchronous data-parallel training where each tower has its own copy of the
    variables ("replicated" mode); see the module docstring.
    """

    def __init__(self, towers, average, mode, devices=None):
        """
        Args:
            towers (list[int]): GPU ids.
            average (bool): average the gradients (else sum them).
            mode (str): one of :data:`REPLICATED_MODES` (see :func:`resolve_replicated_mode`).
        """
        super().__init__(towers, devices)
        if mode not in REPLICATED_MODES:
            raise ValueError("Unknown all-reduce mode {!r}; use one of {}.".format(
                mode, ", ".join(REPLICATED_MODES)))
        if mode == "hierarchical" and len(self.towers) != 8:
            raise ValueError("mode='hierarchical' needs 8 towers, got {}.".format(
                len(self.towers)))
        self._average = average
        self._mode = mode

    @property
    def mode(self):
        """str: the all-reduce mode in use."""
        return self._mode

    def call_for_each_tower(self, tower_fn):
        """Build every tower with ``tower_fn``: tower 0 without a variable scope, tower
        ``k > 0`` under variable scope ``tower<k>`` with local variables.

        Returns:
            list: ``tower_fn``'s return value per tower.
        """
        use_vs = [False] + [True] * (len(self.towers) - 1)
        return DataParallelBuilder.build_on_towers(self.towers, tower_fn, self.raw_devices,
                                                   use_vs)

    def _allreduce(self, all_grads):
        k = len(all_grads)
        if self._mode in ("nccl", "collective"):
            return allreduce_grads(all_grads, average=self._average, mode=self._mode)
        if self._mode == "hierarchical":
            return allreduce_grads_hierarchical(all_grads, self.raw_devices,
                                                average=self._average)
        where = ["/cpu:0"] if self._mode == "cpu" else self.raw_devices
        return [allreduce_grads_naive(all_grads, devices=where, average=self._average)] * k

    def build(self, grad_list, get_opt_fn):
        """All-reduce the gradients and apply them to every tower's variables.

        Args:
            grad_list (list[list[(tf.Tensor, tf.Variable)]]): the towers' gradients.
            get_opt_fn (callable): returns the optimizer.

        Returns:
            tuple(tf.Operation, tf.Operation or None): the training op ``train_op``, and the
            op copying the first tower's variables into the other towers (None with one
            tower). Run the latter after the variables got their initial values.
        """
        DataParallelBuilder._check_grad_list(grad_list)
        if self._mode == "nccl":
            dtypes = {g.dtype.base_dtype for g, _ in grad_list[0]}
            if not dtypes <= {tf.float16, tf.float32, tf.float64}:
                logger.warn("mode='nccl' cannot reduce gradients of type {}; using "
                            "mode='gpu'.".format(sorted(d.name for d in dtypes)))
                self._mode = "gpu"
        all_grads, all_vars = split_grad_list(grad_list)
        all_grads = self._allreduce(all_grads)
        self.grads = merge_grad_list(all_grads, all_vars)

        opt = get_opt_fn()
        train_ops = []
        with tf.name_scope("apply_gradients"):
            for idx, pairs in enumerate(self.grads):
                # the optimizer's slots for a replica are replicas too: keep them local
                with tf.device(self.raw_devices[idx]), override_to_local_variable(idx > 0):
                    train_ops.append(opt.apply_gradients(
                        pairs, name="apply_grad_{}".format(idx)))
        train_op = tf.group(*train_ops, name="train_op")
        post_init_op = None
        if len(self.towers) > 1:
            with tf.name_scope("sync_variables"):
                post_init_op = SyncMultiGPUReplicatedBuilder.get_post_init_ops()
        return train_op, post_init_op

    @staticmethod
    def get_post_init_ops():
        """An op assigning every replica ``tower<k>/x`` (k > 0) the value of its master
        ``x``: trainable variables, optimizer slots, statistics, global and local.

        Returns:
            tf.Operation: named ``sync_variables_from_main_tower``.

        Raises:
            ValueError: if a trainable replica has no master.
        """
        variables = tfv1.global_variables() + tfv1.local_variables()
        by_name = {v.op.name: v for v in variables}
        trainable = {v.op.name for v in tfv1.trainable_variables()}
        ops = []
        for v in variables:
            m = _REPLICA_RE.match(v.op.name)
            if m is None:
                continue
            master_name = v.op.name[m.end():]
            problem = None
            if m.group(1) == "0":
                problem = "tower 0 keeps the plain names in this trainer"
            elif _REPLICA_RE.match(master_name):
                problem = "its name has two tower prefixes"
            elif master_name not in by_name:
                problem = "no variable '{}' in the graph".format(master_name)
            if problem is None:
                ops.append(v.assign(by_name[master_name].read_value()))
                continue
            if v.op.name in trainable:
                raise ValueError("Cannot keep trainable variable '{}' in sync with the first "
                                 "tower: {}.".format(v.op.name, problem))
            logger.warn("[ReplicatedTrainer] Variable '{}' is not synced across towers ({}); "
                        "it is not trainable, so this is harmless unless you rely on it."
                        .format(v.op.name, problem))
        logger.info("'sync_variables_from_main_tower' includes {} operations.".format(len(ops)))
        return tf.group(*ops, name="sync_variables_from_main_tower")


class AsyncMultiGPUBuilder(DataParallelBuilder):
    """Asynchronous data-parallel training: shared variables, and each tower's gradients
    are applied by themselves (no averaging across towers).
    """

    def __init__(self, towers, scale_gradient=True, devices=None):
        """
        Args:
            towers (list[int]): GPU ids.
            scale_gradient (bool): multiply each gradient by ``1 / #towers`` so the
                effective learning rate matches the synchronous trainers.
        """
        super().__init__(towers, devices)
        self._scale_gradient = scale_gradient

    def call_for_each_tower(self, tower_fn):
        """Build every tower with ``tower_fn``; with 4 towers or more (or towers on CPU
        devices) the variables live on ``/cpu:0``, else they are spread over the towers'
        devices.

        Returns:
            list: ``tower_fn``'s return value per tower.
        """
        on_cpu = len(self.towers) >= 4 or devices_are_cpus(self.raw_devices)
        return self._build_with_shared_variables(
            tower_fn, ["/cpu:0"] if on_cpu else self.raw_devices)

    def build(self, grad_list, get_opt_fn):
        """Apply every tower's gradients to the shared variables; arguments and result as
        :meth:`SyncMultiGPUParameterServerBuilder.build`."""
        DataParallelBuilder._check_grad_list(grad_list)
        k = len(grad_list)
        if self._scale_gradient and k > 1:
            with tf.name_scope("ScaleGradient"):
                grad_list = [[(tf.multiply(g, 1.0 / k), v) for g, v in tower]
                             for tower in grad_list]
        opt = get_opt_fn()
        train_ops = []
        with tf.name_scope("async_apply_gradients"):
            for i, pairs in enumerate(zip(*grad_list)):
                var = pairs[0][1]
                with tf.device(var.device):
                    train_ops.append(opt.apply_gradients(
                        list(pairs), name="apply_grad_{}".format(i)))
        return tf.group(*train_ops, name="train_op")
