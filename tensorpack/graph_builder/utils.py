"""Helpers for data-parallel graphs: local variables, device setters and gradient reduction.

Gradients of K towers are passed around as a K x N nested list (K towers, N variables);
every reducing function returns the same layout, each entry replaced by the combined value.
"""
import itertools
from contextlib import contextmanager

import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.utils import logger

__all__ = ["LeastLoadedDeviceSetter", "allreduce_grads", "override_to_local_variable",
           "split_grad_list", "merge_grad_list", "allreduce_grads_naive",
           "allreduce_grads_hierarchical", "aggregate_grads_colocate"]

# The op types that create a variable (reference variables and resource variables).
_VARIABLE_OP_TYPES = ("Variable", "VariableV2", "VarHandleOp")


def _to_local_collections(kwargs):
    collections = set(kwargs.get("collections") or [tfv1.GraphKeys.GLOBAL_VARIABLES])
    collections.discard(tfv1.GraphKeys.GLOBAL_VARIABLES)
    collections.add(tfv1.GraphKeys.LOCAL_VARIABLES)
    kwargs["collections"] = sorted(collections)


@contextmanager
def override_to_local_variable(enable=True):
    """A context in which ``tf.compat.v1.get_variable`` puts new variables into
    ``LOCAL_VARIABLES`` instead of ``GLOBAL_VARIABLES`` (so a ``Saver`` over the global
    variables does not save them). Other collections, such as ``TRAINABLE_VARIABLES``, are
    kept.

    Args:
        enable (bool): if False, the context does nothing.
    """
    if not enable:
        yield
        return

    def to_local(getter, name, *args, **kwargs):  # TF passes the next getter as getter=
        _to_local_collections(kwargs)
        return getter(name, *args, **kwargs)

    with tfv1.variable_scope(tfv1.get_variable_scope(), custom_getter=to_local,
                             auxiliary_name_scope=False):
        yield


def _canonical_device(name):
    return tfv1.DeviceSpec.from_string(name).to_string()


class LeastLoadedDeviceSetter:
    """A device function: variables go to the parameter device holding the fewest elements
    so far, every other op to the worker device. Use it as ``with tf.device(setter):``.
    """

    def __init__(self, worker_device, ps_devices):
        """
        Args:
            worker_device (str): the device of the compute ops.
            ps_devices (list[str]): the devices variables are spread over.
        """
        self.worker_device = worker_device
        self.ps_devices = list(ps_devices)
        self.ps_sizes = [0] * len(self.ps_devices)

    def __call__(self, op):
        if op.device:
            return op.device
        if op.type not in _VARIABLE_OP_TYPES:
            return _canonical_device(self.worker_device)
        return _canonical_device(self.place_with_balance(op))

    def place_with_balance(self, op):
        """Pick the least loaded parameter device for variable op ``op`` and count it there.

        Returns:
            str: the device.
        """
        index = min(range(len(self.ps_sizes)), key=self.ps_sizes.__getitem__)
        size = op.outputs[0].shape.num_elements() if op.type != "VarHandleOp" else \
            tf.TensorShape(op.get_attr("shape")).num_elements()
        if size is None:
            logger.warn("LeastLoadedDeviceSetter: variable {} has no fully defined shape; "
                        "counting it as empty.".format(op.name))
            size = 0
        self.ps_sizes[index] += size
        return self.ps_devices[index]

    def __str__(self):
        return "LeastLoadedDeviceSetter({})".format(self.worker_device)


def split_grad_list(grad_list):
    """Split K x N (gradient, variable) pairs into K x N gradients and K x N variables.

    Returns:
        tuple(list[list[tf.Tensor]], list[list[tf.Variable]])
    """
    grads = [[g for g, _ in tower] for tower in grad_list]
    variables = [[v for _, v in tower] for tower in grad_list]
    return grads, variables


def merge_grad_list(all_grads, all_vars):
    """The inverse of :func:`split_grad_list`: K x N (gradient, variable) pairs."""
    return [list(zip(grads, variables)) for grads, variables in zip(all_grads, all_vars)]


def _combine(grads, average):
    total = tf.add_n(list(grads))
    return tf.multiply(total, 1.0 / len(grads)) if average else total


def aggregate_grads_colocate(all_grads, average=True):
    """Sum (or average) the K towers' gradients of each shared variable, on its device.

    Args:
        all_grads (list[list[(tf.Tensor, tf.Variable)]]): K x N pairs; the N variables are
            the same in every tower.
        average (bool): average instead of sum.

    Returns:
        list[(tf.Tensor, tf.Variable)]: N pairs.
    """
    if len(all_grads) == 1:
        return list(all_grads[0])
    with tf.name_scope("AggregateGradsColocate"):
        out = []
        for pairs in zip(*all_grads):
            var = pairs[0][1]
            with tf.device(var.device):
                out.append((_combine([g for g, _ in pairs], average), var))
        return out


def allreduce_grads_naive(all_grads, devices=None, average=True):
    """Combine K x N gradients with plain ``add_n`` ops.

    Args:
        all_grads (list[list[tf.Tensor]]): K x N gradients.
        devices (list[str]): the devices doing the sums, used round-robin over the
            variables (from the last one, so the end of the model is balanced); by default
            no device is set.
        average (bool): average instead of sum.

    Returns:
        list[tf.Tensor]: N combined gradients (one copy shared by all towers).
    """
    if len(all_grads) == 1:
        return list(all_grads[0])
    with tf.name_scope("AllReduceNaive"):
        per_var = list(zip(*all_grads))
        out = [None] * len(per_var)
        order = range(len(per_var) - 1, -1, -1)
        for k, idx in enumerate(order):
            if devices:
                with tf.device(devices[k % len(devices)]):
                    out[idx] = _combine(per_var[idx], average)
            else:
                out[idx] = _combine(per_var[idx], average)
        return out


_instance_keys = itertools.count(100)


def allreduce_grads(all_grads, average, mode="nccl"):
    """All-reduce K x N gradients with NCCL or TensorFlow's collective ops; each tower gets
    its own copy of every result, on its device.

    Args:
        all_grads (list[list[tf.Tensor]]): K x N gradients, tower k's on device k.
        average (bool): average instead of sum.
        mode (str): ``"nccl"`` (GPUs only) or ``"collective"``.

    Returns:
        list[list[tf.Tensor]]: K x N reduced gradients.

    Raises:
        ValueError: for an unknown mode.
    """
    if mode not in ("nccl", "collective"):
        raise ValueError("allreduce_grads(mode={!r}): mode must be 'nccl' or 'collective'."
                         .format(mode))
    k = len(all_grads)
    if k == 1:
        return all_grads
    with tf.name_scope("AllReduceGrads"):
        per_var = []
        for grads in zip(*all_grads):
            if mode == "nccl":
                from tensorflow.python.ops import nccl_ops
                summed = nccl_ops.all_sum(list(grads))
            else:
                from tensorflow.python.ops import collective_ops
                key = next(_instance_keys)
                summed = []
                for g in grads:
                    with tf.device(g.device):
                        summed.append(collective_ops.all_reduce(g, k, 42, key, "Add", "Id"))
            reduced = []
            for g in summed:
                with tf.device(g.device):
                    reduced.append(tf.multiply(g, 1.0 / k) if average else g)
            per_var.append(reduced)
        return [list(x) for x in zip(*per_var)]


def allreduce_grads_hierarchical(all_grads, devices, average=False):
    """All-reduce for 8 devices in two groups of 4 (DGX-1 like machines): each group sums
    on one of its devices, the two partial sums are exchanged once, and every device gets a
    copy of the total.

    Args:
        all_grads (list[list[tf.Tensor]]): 8 x N gradients.
        devices (list[str]): the 8 devices.
        average (bool): average instead of sum.

    Returns:
        list[list[tf.Tensor]]: 8 x N reduced gradients.

    Raises:
        ValueError: unless there are exactly 8 towers and 8 devices.
    """
    n = len(devices)
    if n != 8 or len(all_grads) != 8:
        raise ValueError("Hierarchical all-reduce needs 8 towers on 8 devices, got {} towers "
                         "and {} devices.".format(len(all_grads), n))
    half = n // 2
    with tf.name_scope("AllReduceGradsHierachical"):
        per_var = []
        for idx, grads in enumerate(zip(*all_grads)):
            # rotate which device leads each group, so the sums are spread over devices
            lead = [idx % n, (idx % n + half) % n]
            groups = [range(0, half), range(half, n)]
            if lead[0] >= half:
                groups.reverse()
            partial = []
            for lead_dev, members in zip(lead, groups):
                with tf.device(devices[lead_dev]):
                    partial.append(tf.add_n([grads[m] for m in members]))
            with tf.device(devices[lead[1]]):
                total_b = tf.add(partial[0], partial[1])
            with tf.device(devices[lead[0]]):
                total_a = tf.identity(total_b)
            reduced = []
            for dev in range(n):
                src = total_a if (dev < half) == (lead[0] < half) else total_b
                with tf.device(devices[dev]):
                    reduced.append(tf.multiply(src, 1.0 / n) if average else tf.identity(src))
            per_var.append(reduced)
        return [list(x) for x in zip(*per_var)]
