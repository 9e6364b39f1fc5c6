"""Which devices the training towers go to, and the session config that makes them exist.

With GPUs, tower ``k`` of ``gpus=[g0, g1, ...]`` goes to ``/gpu:gk`` as upstream. Without a
GPU, tower ``k`` goes to ``/cpu:k``: TensorFlow creates only one CPU device by default, so
the session must ask for more with ``ConfigProto(device_count={'CPU': N})``. The
data-parallel trainers do that themselves when they create the default session
(:func:`with_cpu_devices`); give the same config to a session you create yourself.
"""
import tensorflow as tf

from tensorpack.compat import tfv1

__all__ = ["gpu_available", "tower_devices", "single_device", "with_cpu_devices",
           "cpu_device_count", "as_gpu_list"]


def as_gpu_list(gpus):
    """Upstream's ``gpus`` argument as a list of ids: a number ``n`` means ``[0 .. n-1]``.

    Args:
        gpus (int or list[int]):

    Returns:
        list[int]

    Raises:
        ValueError: for a non-positive number or an empty list.
    """
    if isinstance(gpus, int):
        if gpus <= 0:
            raise ValueError("The number of GPUs must be positive, got {}.".format(gpus))
        return list(range(gpus))
    gpus = list(gpus)
    if not gpus:
        raise ValueError("The list of GPUs is empty; give at least one GPU id.")
    return gpus


def gpu_available():
    """Returns: bool: whether TensorFlow sees at least one GPU (without initializing it)."""
    return bool(tf.config.list_physical_devices("GPU"))


def tower_devices(towers):
    """The device of each training tower.

    Args:
        towers (list[int]): GPU ids, one per tower.

    Returns:
        list[str]: ``/gpu:<id>`` per tower if a GPU is visible, otherwise ``/cpu:<k>`` for
        the k-th tower.
    """
    if gpu_available():
        return ["/gpu:{}".format(t) for t in towers]
    return ["/cpu:{}".format(k) for k in range(len(towers))]


def single_device(device):
    """The device of one inference or predict tower, given as upstream's ``device`` integer.

    Upstream places a tower with ``device=k >= 0`` on ``/gpu:k`` whether or not a GPU exists,
    and without one soft placement quietly runs it on the CPU (while the log still says
    ``/gpu:k``). Here a machine without a visible GPU gets ``/cpu:0`` itself, so the graph
    and the log say where the tower really runs; with a GPU the result is upstream's.

    Args:
        device (int): a GPU index, or a negative number for the CPU.

    Returns:
        str: ``/gpu:<device>`` if ``device >= 0`` and a GPU is visible, else ``/cpu:0``.
    """
    if device >= 0 and gpu_available():
        return "/gpu:{}".format(device)
    return "/cpu:0"


def devices_are_cpus(devices):
    """Returns: bool: whether every device in the list is a CPU device."""
    return all(tfv1.DeviceSpec.from_string(d).device_type == "CPU" for d in devices)


def cpu_device_count(config):
    """Returns: int: the number of CPU devices ``config`` asks for (1 if unset)."""
    return int(config.device_count.get("CPU", 1)) if config is not None else 1


def with_cpu_devices(num_devices, config=None):
    """A copy of a session config that creates at least ``num_devices`` CPU devices.

    Args:
        num_devices (int): how many CPU devices (``/cpu:0`` ... ``/cpu:<num_devices-1>``).
        config (tf.compat.v1.ConfigProto): the config to start from; by default
            :func:`tensorpack.tfutils.common.get_default_sess_config`.

    Returns:
        tf.compat.v1.ConfigProto: the config is not modified in place.

    Example::

        config = TrainConfig(..., session_config=with_cpu_devices(2))
    """
    from tensorpack.tfutils.common import get_default_sess_config
    out = tfv1.ConfigProto()
    out.CopyFrom(config if config is not None else get_default_sess_config())
    if cpu_device_count(out) < num_devices:
        out.device_count["CPU"] = int(num_devices)
    return out
