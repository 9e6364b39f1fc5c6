"""Small TensorFlow helpers used across the library (upstream's ``tfutils.common``)."""
import tensorflow as tf

from tensorpack.checkpoint.names import get_op_tensor_name, normalize_name
from tensorpack.compat import tfv1
from tensorpack.tfutils.collect_env import collect_env_info

__all__ = ["get_default_sess_config", "get_global_step_value", "get_global_step_var",
           "get_tf_version_tuple", "get_op_tensor_name", "get_tensors_by_names",
           "get_op_or_tensor_by_name", "collect_env_info"]


def get_default_sess_config(mem_fraction=0.99):
    """A ``tf.compat.v1.ConfigProto`` for training sessions.

    Args:
        mem_fraction (float): ``per_process_gpu_memory_fraction`` for GPUs.

    Returns:
        tf.compat.v1.ConfigProto: soft placement on, GPU memory allowed to grow.
    """
    conf = tfv1.ConfigProto()
    conf.allow_soft_placement = True
    conf.gpu_options.per_process_gpu_memory_fraction = mem_fraction
    conf.gpu_options.allow_growth = True
    return conf


def get_global_step_var():
    """The global step variable of the default graph, created (in the root scope) if missing.

    Returns:
        tf.Variable: an int64 scalar named ``global_step``.
    """
    graph = tfv1.get_default_graph()
    var = tfv1.train.get_global_step(graph)
    if var is not None:
        return var
    with tfv1.variable_scope(tfv1.VariableScope(reuse=False), auxiliary_name_scope=False), \
            graph.name_scope(None):
        return tfv1.train.get_or_create_global_step(graph)


def get_global_step_value():
    """The global step's current value in the default session.

    Returns:
        int
    """
    return int(tfv1.train.global_step(tfv1.get_default_session(), get_global_step_var()))


def get_tensors_by_names(names):
    """Look up tensors of the default graph by name (``"x"`` means ``"x:0"``).

    Args:
        names (list[str]): tensor or op names.

    Returns:
        list[tf.Tensor]
    """
    graph = tfv1.get_default_graph()
    return [graph.get_tensor_by_name(get_op_tensor_name(n)[1]) for n in names]


def get_op_or_tensor_by_name(name):
    """A tensor if ``name`` has a ``:k`` suffix, otherwise an op.

    Args:
        name (str or list[str]): names.

    Returns:
        tf.Operation / tf.Tensor, or a list of them.
    """
    graph = tfv1.get_default_graph()

    def one(n):
        if normalize_name(n) != n:  # has a ':k' suffix
            return graph.get_tensor_by_name(n)
        return graph.get_operation_by_name(n)

    if isinstance(name, str):
        return one(name)
    return [one(n) for n in name]


def get_tf_version_tuple():
    """Returns: tuple(int, int): TensorFlow's (major, minor) version."""
    return tuple(int(x) for x in tf.__version__.split(".")[:2])
