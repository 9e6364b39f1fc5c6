"""Batch normalization (variables ``beta``, ``gamma``, ``mean/EMA``, ``variance/EMA``)."""
import re

import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.models._batch_renorm import BatchRenorm
from tensorpack.models._helpers import attach_variables, has_gpu, static_shape
from tensorpack.models.common import layer_register
from tensorpack.models.tflayer import convert_to_tflayer_args
from tensorpack.tfutils.tower import get_current_tower_context
from tensorpack.utils import logger
from tensorpack.utils.argtools import get_data_format, log_once

__all__ = ["BatchNorm", "BatchRenorm"]

_EMA_MODES = ("default", "collection", "internal", "skip")


def _bn_variables(n_out, center, scale, beta_init, gamma_init, register_model_vars):
    if center:
        beta = tfv1.get_variable("beta", [n_out], initializer=beta_init)
    else:
        beta = tf.zeros([n_out], name="beta")
    if scale:
        gamma = tfv1.get_variable("gamma", [n_out], initializer=gamma_init)
    else:
        gamma = tf.ones([n_out], name="gamma")
    moving_mean = tfv1.get_variable("mean/EMA", [n_out], initializer=tfv1.zeros_initializer(),
                                    trainable=False)
    moving_var = tfv1.get_variable("variance/EMA", [n_out],
                                   initializer=tfv1.ones_initializer(), trainable=False)
    if register_model_vars:
        for v in (moving_mean, moving_var):
            tfv1.add_to_collection(tfv1.GraphKeys.MODEL_VARIABLES, v)
    return beta, gamma, moving_mean, moving_var


def _ema_update_ops(moving_mean, moving_var, batch_mean, batch_var, momentum):
    """``v -= (v - value) * (1 - momentum)`` for both statistics (no zero-debiasing)."""
    decay = 1.0 - momentum
    upd_mean = tfv1.assign_sub(moving_mean, (moving_mean - batch_mean) * decay,
                               name="mean_ema_op")
    upd_var = tfv1.assign_sub(moving_var, (moving_var - batch_var) * decay, name="var_ema_op")
    return [upd_mean, upd_var]


def _synced_moments(x, red_axis, mode, ctx):
    """Batch mean and variance averaged over all towers (NCCL) or ranks (horovod)."""
    mean = tf.reduce_mean(x, axis=red_axis)
    mean_sq = tf.reduce_mean(tf.square(x), axis=red_axis)
    if mode == "nccl":
        num_dev = getattr(ctx, "total", 1) if ctx is not None else 1
        if num_dev == 1:
            logger.warn("BatchNorm(sync_statistics='nccl') is used with only one tower: "
                        "statistics are local.")
        else:
            if not has_gpu():
                raise RuntimeError(
                    "BatchNorm(sync_statistics='nccl') needs GPUs (NCCL has no CPU kernel), "
                    "and none is visible. Use sync_statistics=None on CPU, or 'horovod'.")
            from tensorflow.python.ops import gen_nccl_ops
            shared = re.sub("tower[0-9]+/", "", tfv1.get_variable_scope().name)
            mean = gen_nccl_ops.nccl_all_reduce(input=mean, reduction="sum",
                                                num_devices=num_dev,
                                                shared_name=shared + "_NCCL_mean")
            mean_sq = gen_nccl_ops.nccl_all_reduce(input=mean_sq, reduction="sum",
                                                   num_devices=num_dev,
                                                   shared_name=shared + "_NCCL_mean_square")
            mean, mean_sq = mean * (1.0 / num_dev), mean_sq * (1.0 / num_dev)
    else:  # horovod
        try:
            import horovod.tensorflow as hvd
        except ImportError as e:
            raise ImportError("BatchNorm(sync_statistics='horovod') needs the 'horovod' "
                              "package: pip install horovod.") from e
        if hvd.size() == 1:
            logger.warn("BatchNorm(sync_statistics='horovod') is used with only one process: "
                        "statistics are local.")
        else:
            mean = hvd.allreduce(mean, average=True)
            mean_sq = hvd.allreduce(mean_sq, average=True)
    return mean, mean_sq - tf.square(mean)


def _parse_options(ctx, training, ema_update, sync_statistics):
    if ema_update not in _EMA_MODES:
        raise ValueError("BatchNorm: ema_update must be one of {}, got {!r}.".format(
            _EMA_MODES, ema_update))
    if sync_statistics is not None:
        sync_statistics = sync_statistics.lower()
        if sync_statistics not in ("nccl", "horovod"):
            raise ValueError("BatchNorm: sync_statistics must be None, 'nccl' or 'horovod', "
                             "got {!r}.".format(sync_statistics))
    ctx_training = bool(ctx is not None and ctx.is_training)
    training = ctx_training if training is None else bool(training)
    if ema_update == "default":
        ema_update = "collection"
    if sync_statistics is not None and training:
        ema_update = "internal"  # UPDATE_OPS would need every tower to run in step
    # A non-main training tower never updates the EMA; outside training towers (inference,
    # or no tower at all) an explicit training=True does.
    main_or_not_training = ctx is None or not ctx.is_training or ctx.is_main_training_tower
    do_update = training and main_or_not_training and ema_update != "skip"
    if not training and ctx_training and ctx.is_main_training_tower:
        log_once("Some BatchNorm layer uses moving_mean/moving_variance in training.", "warn")
    return training, ema_update, sync_statistics, do_update


@layer_register()
@convert_to_tflayer_args(args_names=[], name_mapping={
    "use_bias": "center", "use_scale": "scale", "gamma_init": "gamma_initializer",
    "decay": "momentum", "use_local_stat": "training"})
def BatchNorm(inputs, axis=None, *, training=None, momentum=0.9, epsilon=1e-5, center=True,
              scale=True, beta_initializer=tfv1.zeros_initializer(),
              gamma_initializer=tfv1.ones_initializer(), virtual_batch_size=None,
              data_format="channels_last", ema_update="default", sync_statistics=None):
    """Batch normalization of a 2D (NC) or 4D (NHWC / NCHW) tensor.

    Also takes upstream's old names ``use_bias``, ``use_scale``, ``gamma_init``, ``decay``,
    ``use_local_stat``.

    Args:
        axis (int): the channel axis; by default 1 for 2D input, else from ``data_format``.
        training (bool): normalize with the batch statistics (True) or the moving averages
            (False). Default: the tower context's ``is_training`` (False outside towers).
        momentum (float): decay of the moving averages.
        epsilon (float): added to the variance.
        center, scale (bool): learn ``beta`` / ``gamma``.
        virtual_batch_size (int): "ghost" batch norm: while training, normalize each group
            of this many samples by its own statistics (must divide the batch size).
        data_format: ``channels_last``/``NHWC`` or ``channels_first``/``NCHW``.
        ema_update (str): how the moving averages are updated while ``training``:
            ``"collection"`` (= ``"default"``): update ops go to ``tf.GraphKeys.UPDATE_OPS``
            (run by the ``RunUpdateOps`` callback), from the first training tower only;
            ``"internal"``: the output depends on the update ops, so they run whenever the
            output is computed (works inside control flow and for sometimes-unused layers);
            ``"skip"``: no update.
        sync_statistics (str): None, ``"nccl"`` or ``"horovod"``: average the batch
            statistics across all training towers (NCCL, GPUs only: a clear error on a
            machine without GPUs) or horovod ranks. Then ``ema_update`` is ``"internal"``.
            Layers must have the same name in every tower and run equally often.

    4D inputs use ``fused_batch_norm``; as in upstream (which used the fused
    ``tf.layers`` kernel), the moving variance is then fed the unbiased batch variance.

    Variables:
        ``beta``, ``gamma``: trainable; ``mean/EMA``, ``variance/EMA``: the moving averages.

    Returns:
        tf.Tensor: named ``output``, with ``.variables`` (``beta``, ``gamma``, ``mean``,
        ``moving_mean``, ``variance``, ``moving_variance``).
    """
    ctx = get_current_tower_context()
    training, ema_update, sync, do_update = _parse_options(ctx, training, ema_update,
                                                           sync_statistics)
    fmt = get_data_format(data_format, keras_mode=False)
    shape = static_shape(inputs, "BatchNorm")
    ndims = len(shape)
    if ndims not in (2, 4):
        raise ValueError("BatchNorm needs a 2D or 4D input, got shape {}.".format(shape))
    if axis is None:
        axis = 1 if ndims == 2 or fmt == "NCHW" else 3
    if axis not in (1, 3) or (ndims == 2 and axis != 1):
        raise ValueError("BatchNorm: axis must be the channel axis (1, or 3 for NHWC), got "
                         "{}.".format(axis))
    n_out = shape[axis]
    if n_out is None:
        raise ValueError("BatchNorm: the input needs a known size on axis {}, got shape "
                         "{}.".format(axis, shape))
    if not training:
        virtual_batch_size = None
    if sync is not None and virtual_batch_size:
        raise ValueError("BatchNorm: sync_statistics and virtual_batch_size cannot be "
                         "combined.")
    register = (ctx is None or ctx.is_main_training_tower) and \
        not tfv1.get_variable_scope().reuse
    beta, gamma, moving_mean, moving_var = _bn_variables(
        n_out, center, scale, beta_initializer, gamma_initializer, register)

    red_axis = [0] if ndims == 2 else ([0, 2, 3] if axis == 1 else [0, 1, 2])
    bshape = [1] * ndims
    bshape[axis] = n_out
    x = inputs
    if not training:
        mean, var = moving_mean, moving_var
        if ndims == 4:
            xn = tfv1.nn.fused_batch_norm(x, gamma, beta, moving_mean, moving_var,
                                          epsilon=epsilon, data_format=_fused_format(axis),
                                          is_training=False)[0]
        else:
            xn = _normalize(x, mean, var, beta, gamma, epsilon, bshape)
    elif sync is not None:
        mean, var = _synced_moments(x, red_axis, sync, ctx)
        xn = _normalize(x, mean, var, beta, gamma, epsilon, bshape)
    elif virtual_batch_size:
        xn, mean, var = _ghost_normalize(x, virtual_batch_size, red_axis, axis, n_out, beta,
                                         gamma, epsilon)
    elif ndims == 4:
        xn, mean, var = tfv1.nn.fused_batch_norm(x, gamma, beta, epsilon=epsilon,
                                                 data_format=_fused_format(axis),
                                                 is_training=True)
    else:
        mean, var = tf.nn.moments(x, red_axis)
        xn = _normalize(x, mean, var, beta, gamma, epsilon, bshape)

    if do_update:
        updates = _ema_update_ops(moving_mean, moving_var, mean, var, momentum)
        if ema_update == "internal":
            with tf.control_dependencies(updates):
                ret = tf.identity(xn, name="output")
        else:
            for op in updates:
                tfv1.add_to_collection(tfv1.GraphKeys.UPDATE_OPS, op)
            ret = tf.identity(xn, name="output")
    else:
        ret = tf.identity(xn, name="output")
    return attach_variables(ret, moving_mean=moving_mean, mean=moving_mean,
                            moving_variance=moving_var, variance=moving_var,
                            gamma=gamma if scale else None, beta=beta if center else None)


def _fused_format(axis):
    return "NCHW" if axis == 1 else "NHWC"


def _normalize(x, mean, var, beta, gamma, epsilon, bshape):
    def r(t):
        return tf.reshape(tf.cast(t, x.dtype), bshape)
    return tf.nn.batch_normalization(x, r(mean), r(var), r(beta), r(gamma), epsilon)


def _ghost_normalize(x, vbs, red_axis, axis, n_out, beta, gamma, epsilon):
    """Normalize groups of ``vbs`` samples separately; the statistics of the first group
    feed the moving averages (as one tower of that batch size would)."""
    orig_shape = tf.shape(x)
    grouped = tf.reshape(x, tf.concat([[-1, vbs], orig_shape[1:]], axis=0))
    g_axes = [a + 1 for a in red_axis]
    mean, var = tf.nn.moments(grouped, g_axes, keepdims=True)
    pshape = [1] * (x.shape.rank + 1)
    pshape[axis + 1] = n_out
    xn = tf.nn.batch_normalization(grouped, mean, var, tf.reshape(beta, pshape),
                                   tf.reshape(gamma, pshape), epsilon)
    return (tf.reshape(xn, orig_shape), tf.reshape(mean[0], [n_out]),
            tf.reshape(var[0], [n_out]))
