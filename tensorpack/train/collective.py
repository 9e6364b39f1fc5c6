"""HorovodTrainer and BytePSTrainer: one process per device, gradients all-reduced by an
external library (Horovod or BytePS).

Neither library is a dependency: the package is imported only when such a trainer is
created, and a missing (or broken) package raises ``ImportError`` saying what to install and
which built-in trainer does the same job without it.
"""
import multiprocessing as mp
import os

import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.tfutils.sesscreate import NewSessionCreator
from tensorpack.tfutils.tower import TrainTowerContext
from tensorpack.train.tower import SingleCostTrainer
from tensorpack.utils import logger

__all__ = ["HorovodTrainer", "BytePSTrainer"]

_INSTEAD = ("On one machine use SyncMultiGPUTrainerReplicated(num_devices) instead; on several "
            "machines DistributedTrainerReplicated(gpus, server) (TensorFlow's own runtime).")


def _import(module, trainer, package):
    import importlib
    try:
        return importlib.import_module(module)
    except Exception as e:  # a broken build raises more than ImportError (e.g. a bad .so)
        raise ImportError("{} needs the '{}' package ({} could not be imported: {}: {}). "
                          "Install it with `pip install {}` (it must be built against this "
                          "TensorFlow). {}".format(trainer, package, module, type(e).__name__, e,
                                                   package, _INSTEAD)) from e


class HorovodTrainer(SingleCostTrainer):
    """Data-parallel training with Horovod: run one process per device (``horovodrun -np N
    python train.py``); rank 0 is the chief. Gradients are all-reduced with
    ``hvd.allreduce``; rank 0's variables are broadcast after initialization and, with
    ``BROADCAST_EVERY_EPOCH``, after every epoch.
    """

    def __init__(self, average=True, compression=None):
        """
        Args:
            average (bool): average the gradients over processes (else sum them).
            compression: ``hvd.Compression.fp16`` or ``hvd.Compression.none``.

        Raises:
            ImportError: if ``horovod.tensorflow`` cannot be imported.
        """
        hvd = _import("horovod.tensorflow", "HorovodTrainer", "horovod")
        self._start(hvd, average, compression)

    def _start(self, hvd, average, compression):
        self.hvd = hvd
        hvd.init()
        self.is_chief = hvd.rank() == 0
        self._rank, self._local_rank = hvd.rank(), hvd.local_rank()
        self._average = average
        self._compression = compression
        logger.info("[{}] rank={}, local rank={}".format(type(self).__name__, self._rank,
                                                         self._local_rank))
        SingleCostTrainer.__init__(self)
        self.BROADCAST_EVERY_EPOCH = True

    def mpi_enabled(self):
        """Returns: bool: whether the library runs under MPI."""
        check = getattr(self.hvd, "mpi_enabled", None)
        return bool(check()) if check is not None else False

    def allreduce(self, grads):
        """All-reduce (gradient, variable) pairs over the processes."""
        if self.hvd.size() == 1:
            return grads
        out = []
        with tf.name_scope("AllReduce"):
            for g, v in grads:
                if g is None:
                    out.append((None, v))
                elif self._compression is not None:
                    out.append((self.hvd.allreduce(g, average=self._average,
                                                   compression=self._compression), v))
                else:
                    out.append((self.hvd.allreduce(g, average=self._average), v))
        return out

    def _setup_graph(self, input, get_cost_fn, get_opt_fn):
        from tensorpack.callbacks import CallbackFactory
        with TrainTowerContext(""):
            grads = self.allreduce(self._make_get_grad_fn(input, get_cost_fn, get_opt_fn)())
            self.train_op = get_opt_fn().apply_gradients(grads, name="train_op")
        cb = CallbackFactory(before_train=self.broadcast,
                             trigger=self.broadcast if self.BROADCAST_EVERY_EPOCH else None)
        return [cb.set_chief_only(False)]

    def broadcast(self, _):
        """Copy rank 0's global variables to every process."""
        logger.info("Broadcasting {} global variables ...".format(self._num_global_variables))
        self.sess.run(self._broadcast_op)

    def initialize(self, session_creator, session_init):
        # made last, so it covers the variables callbacks created too
        self._num_global_variables = len(tfv1.global_variables())
        self._broadcast_op = self.hvd.broadcast_global_variables(0)
        if type(session_creator) is not NewSessionCreator:
            raise ValueError("{} needs the default NewSessionCreator (it sets the visible "
                             "device of each process); got {}.".format(
                                 type(self).__name__, type(session_creator).__name__))
        session_creator.config.gpu_options.visible_device_list = str(self._local_rank)
        local_size = getattr(self.hvd, "local_size", None)
        if local_size is not None:
            session_creator.config.inter_op_parallelism_threads = max(
                1, mp.cpu_count() // local_size())
        super().initialize(session_creator, session_init)
        logger.info("Rank {}: broadcasting the initial values of {} variables from rank 0 ..."
                    .format(self._rank, self._num_global_variables))
        self.sess.run(self._broadcast_op)


class BytePSTrainer(HorovodTrainer):
    """Like :class:`HorovodTrainer`, with BytePS (``byteps.tensorflow``) doing the
    all-reduce; launch the processes as BytePS documents (``DMLC_*`` variables).
    """

    def __init__(self, average=True):
        """
        Args:
            average (bool): average the gradients over processes (else sum them).

        Raises:
            ImportError: if ``byteps.tensorflow`` cannot be imported.
            RuntimeError: if this process was not launched as a BytePS worker.
        """
        bps = _import("byteps.tensorflow", "BytePSTrainer", "byteps")
        missing = [k for k in ("DMLC_WORKER_ID", "DMLC_NUM_WORKER") if k not in os.environ]
        if os.environ.get("DMLC_ROLE") != "worker" or missing:
            raise RuntimeError("BytePSTrainer runs in a BytePS worker process (DMLC_ROLE=worker "
                               "with DMLC_WORKER_ID and DMLC_NUM_WORKER set); launch it with "
                               "BytePS's launcher.")
        bps.allreduce = bps.push_pull  # BytePS names its all-reduce push_pull
        self._start(bps, average, None)
