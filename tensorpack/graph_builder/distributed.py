"""Graph builders for between-graph replication on a ``tf.compat.v1.train.Server`` cluster.

Every worker process builds its own graph. Global variables (the ones checkpoints hold,
under their plain names, and ``global_step``) live on the ``ps`` tasks, placed by
``replica_device_setter``; workers step in lockstep through queue barriers on the ps tasks.

* :class:`DistributedReplicatedBuilder`: each tower of a worker has a local copy
  ``tower<k>/x`` of every variable; gradients averaged over the worker's towers are applied
  to the ps copy ``x`` (one update per worker, not averaged across workers), then every
  worker copies the new values back into its towers.
* :class:`DistributedParameterServerBuilder`: towers use the ps variables directly (reads
  cached on the worker); averaged gradients are applied to them.
"""
import itertools

import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.graph_builder.devices import gpu_available
from tensorpack.graph_builder.training import DataParallelBuilder
from tensorpack.graph_builder.utils import allreduce_grads_naive, split_grad_list

__all__ = ["DistributedReplicatedBuilder", "DistributedParameterServerBuilder",
           "DistributedBuilderBase"]

_barrier_ids = itertools.count()


class DistributedBuilderBase:
    """What every distributed builder knows: the cluster, this task, its devices."""

    def __init__(self, towers, server):
        """
        Args:
            towers (list[int]): GPU ids of this worker, one per tower.
            server (tf.compat.v1.train.Server): this process's server; its job must be
                ``worker``.

        Raises:
            ValueError: if the server is not a worker of a cluster with a ``ps`` job.
        """
        server_def = server.server_def
        if server_def.job_name != "worker":
            raise ValueError("A distributed graph is built by 'worker' tasks; this server is "
                             "job '{}'.".format(server_def.job_name))
        self.server = server
        self.cluster = tfv1.train.ClusterSpec(server_def.cluster)
        if "ps" not in self.cluster.jobs:
            raise ValueError("The cluster needs a 'ps' job to hold the variables; it has {}."
                             .format(self.cluster.jobs))
        self.task_index = server_def.task_index
        self.num_ps = self.cluster.num_tasks("ps")
        self.num_worker = self.cluster.num_tasks("worker")
        self.is_chief = self.task_index == 0
        self.towers = list(towers)
        self.worker_device = "/job:worker/task:{}".format(self.task_index)
        self.cpu_device = self.worker_device + "/cpu:0"
        if gpu_available():
            self.raw_devices = ["{}/gpu:{}".format(self.worker_device, k) for k in self.towers]
        else:
            self.raw_devices = ["{}/cpu:{}".format(self.worker_device, i)
                                for i in range(len(self.towers))]
        self.param_server_device = tfv1.train.replica_device_setter(
            worker_device=self.cpu_device, cluster=self.cluster)
        self._sync_devices = ["/job:ps/task:{}/cpu:0".format(i) for i in range(self.num_ps)]

    def create_global_step(self):
        """The shared ``global_step`` (on a ps task), created if missing."""
        from tensorpack.tfutils.common import get_global_step_var
        with tfv1.device(self.param_server_device):
            return get_global_step_var()

    def sync_barrier(self, name, dependencies):
        """An op that finishes once every worker ran it (after ``dependencies``).

        Each worker has a queue on a ps task; the op puts a token into every other
        worker's queue and takes ``num_worker - 1`` tokens from its own.

        Returns:
            tf.Operation
        """
        if self.num_worker == 1:
            return tf.group(*dependencies, name=name)
        device = self._sync_devices[next(_barrier_ids) % len(self._sync_devices)]
        with tfv1.device(device), tfv1.name_scope(None):
            queues = [tfv1.FIFOQueue(self.num_worker, [tf.bool], shapes=[[]],
                                     shared_name="{}{}".format(name, i),
                                     name="{}_queue{}".format(name, i))
                      for i in range(self.num_worker)]
            token = tf.constant(False)
            with tf.control_dependencies(dependencies):
                ops = [q.enqueue(token) for i, q in enumerate(queues) if i != self.task_index]
            ops.append(queues[self.task_index].dequeue_many(self.num_worker - 1))
            return tf.group(*ops, name=name)

    def chief_ready_ops(self):
        """Two ops: the chief's "initialization done" (a token for every other worker) and
        the other workers' "wait for it".

        Returns:
            tuple(tf.Operation, tf.Operation)
        """
        with tfv1.device(self._sync_devices[0]), tfv1.name_scope(None):
            q = tfv1.FIFOQueue(max(self.num_worker, 1), [tf.bool], shapes=[[]],
                               shared_name="tensorpack_chief_initialized",
                               name="chief_initialized_queue")
            release = q.enqueue_many([[False] * max(self.num_worker - 1, 0)],
                                     name="release_workers") \
                if self.num_worker > 1 else tf.no_op(name="release_workers")
            wait = q.dequeue(name="wait_for_chief").op
        return release, wait


class DistributedReplicatedBuilder(DataParallelBuilder, DistributedBuilderBase):
    """Distributed "replicated" training (see the module docstring)."""

    def __init__(self, towers, server):
        DistributedBuilderBase.__init__(self, towers, server)

    def build(self, get_grad_fn, get_opt_fn):
        """Build the towers, the update of the ps variables and the copies back.

        Args:
            get_grad_fn (callable): builds one tower, returns its (gradient, variable) pairs.
            get_opt_fn (callable): returns the optimizer.

        Returns:
            tuple: ``(train_op, initial_sync_op, model_sync_op)``: the training op; the op
            copying the ps variables into this worker's towers (run it once the chief has
            initialized them); the op copying tower 0's non-trainable model variables (e.g.
            batch-norm statistics) to the ps (chief only, None if there are none).
        """
        self.create_global_step()
        with tfv1.device(self.param_server_device):
            get_opt_fn()  # its own variables (learning rate...) are global, on the ps
        n = len(self.towers)
        grad_list = DataParallelBuilder.build_on_towers(
            self.towers, get_grad_fn, devices=self.raw_devices, use_vs=[True] * n)
        DataParallelBuilder._check_grad_list(grad_list)
        all_grads, all_vars = split_grad_list(grad_list)
        grads = allreduce_grads_naive(all_grads, devices=self.raw_devices, average=True)

        with tfv1.device(self.param_server_device):
            self._shadow = [self._make_shadow(v, trainable=True) for v in all_vars[0]]
            self._model_pairs = self._shadow_model_variables()
        opt = get_opt_fn()
        with tfv1.device(self.param_server_device), tf.name_scope("apply_gradients"):
            apply_op = opt.apply_gradients(list(zip(grads, self._shadow)))
        applied = self.sync_barrier("all_workers_applied", [apply_op])
        copies = []
        with tf.control_dependencies([applied]), tf.name_scope("copy_to_towers"):
            for shadow, tower_vars in zip(self._shadow, zip(*all_vars)):
                with tfv1.device(self.cpu_device):
                    value = shadow.read_value()
                for v in tower_vars:
                    copies.append(v.assign(value).op)
        train_op = self.sync_barrier("post_copy_barrier", copies)
        with tf.name_scope("initial_sync_variables"):
            initial_sync_op = self._initial_sync_op(all_vars)
        model_sync_op = None
        if self._model_pairs and self.is_chief:
            with tf.name_scope("sync_model_variables"):
                model_sync_op = tf.group(*[s.assign(v.read_value()) for s, v in
                                           self._model_pairs],
                                         name="sync_{}_model_variables_to_ps".format(
                                             len(self._model_pairs)))
        return train_op, initial_sync_op, model_sync_op

    @staticmethod
    def _plain_name(var):
        name = var.op.name
        if not name.startswith("tower"):
            raise ValueError("Variable '{}' was created outside the towers; in distributed "
                             "replicated training every variable comes from a tower.".format(
                                 name))
        return name.split("/", 1)[1]

    def _make_shadow(self, var, trainable):
        with tfv1.variable_scope(tfv1.VariableScope(reuse=False), auxiliary_name_scope=False):
            return tfv1.get_variable(self._plain_name(var), dtype=var.dtype.base_dtype,
                                     initializer=var.initial_value, trainable=trainable)

    def _shadow_model_variables(self):
        """Global copies of tower 0's non-trainable MODEL_VARIABLES, so checkpoints have them."""
        have = {v.op.name for v in self._shadow}
        pairs = []
        for v in tfv1.model_variables():
            if not v.op.name.startswith("tower0/"):
                continue
            plain = self._plain_name(v)
            if plain in have:
                continue
            have.add(plain)
            pairs.append((self._make_shadow(v, trainable=False), v))
        return pairs

    def _initial_sync_op(self, all_vars):
        ops = []
        for shadow, tower_vars in zip(self._shadow, zip(*all_vars)):
            for v in tower_vars:
                ops.append(v.assign(shadow.read_value()).op)
        by_name = {v.op.name: v for v in tfv1.local_variables()}
        for shadow, _ in self._model_pairs:
            for k in range(len(self.towers)):
                local = by_name.get("tower{}/{}".format(k, shadow.op.name))
                if local is not None:
                    ops.append(local.assign(shadow.read_value()).op)
        return tf.group(*ops, name="sync_{}_variables_from_ps".format(len(self._shadow)))


class DistributedParameterServerBuilder(DataParallelBuilder, DistributedBuilderBase):
    """Distributed "parameter server" training (see the module docstring)."""

    def __init__(self, towers, server, caching_device):
        """
        Args:
            towers (list[int]): GPU ids of this worker.
            server (tf.compat.v1.train.Server): this worker's server.
            caching_device (str): ``'cpu'`` or ``'gpu'``: where a worker caches the values it
                reads from the ps.
        """
        if caching_device not in ("cpu", "gpu"):
            raise ValueError("caching_device must be 'cpu' or 'gpu', got {!r}.".format(
                caching_device))
        DistributedBuilderBase.__init__(self, towers, server)
        self.caching_device = caching_device

    def build(self, get_grad_fn, get_opt_fn):
        """Build the towers on shared ps variables and the update.

        Returns:
            tf.Operation: the training op.
        """
        self.create_global_step()
        cache = self.raw_devices if self.caching_device == "gpu" else [self.cpu_device]
        counter = itertools.count()

        def cached(getter, name, *args, **kwargs):
            if kwargs.get("trainable", True):
                kwargs["caching_device"] = cache[next(counter) % len(cache)]
            return getter(name, *args, **kwargs)

        setters = [tfv1.train.replica_device_setter(worker_device=d, cluster=self.cluster)
                   for d in self.raw_devices]
        with tfv1.variable_scope(tfv1.get_variable_scope(), custom_getter=cached,
                                 auxiliary_name_scope=False):
            grad_list = DataParallelBuilder.build_on_towers(self.towers, get_grad_fn, setters)
        DataParallelBuilder._check_grad_list(grad_list)
        all_grads, all_vars = split_grad_list(grad_list)
        with tfv1.device(self.param_server_device):
            grads = allreduce_grads_naive(all_grads, average=True)
            train_op = get_opt_fn().apply_gradients(list(zip(grads, all_vars[0])),
                                                    name="train_op")
        return self.sync_barrier("all_workers_sync_barrier", [train_op])

