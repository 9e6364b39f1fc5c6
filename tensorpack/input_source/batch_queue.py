"""BatchQueueInput: a queue of single datapoints; the model dequeues whole batches."""
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.input_source.base import build_or_reuse_placeholder
from tensorpack.input_source.sources import QueueInput, _EnqueueThread
from tensorpack.utils import logger

__all__ = ["BatchQueueInput"]


class BatchQueueInput(QueueInput):
    """Like :class:`QueueInput`, but the DataFlow yields single (unbatched) datapoints and the
    model gets batches of ``batch_size`` formed by ``dequeue_many``.

    Every input must have a fully defined shape apart from the batch dimension.
    """

    def __init__(self, ds, batch_size, queue=None):
        """
        Args:
            ds (DataFlow): yields one datapoint (no batch dimension) at a time.
            batch_size (int): the batch size.
            queue (tf.compat.v1.QueueBase): a queue of single datapoints, with fully defined
                shapes; defaults to a FIFOQueue of capacity 3000.

        Raises:
            ValueError: if ``batch_size`` is not positive or ``ds`` is not a DataFlow.
        """
        super().__init__(ds, queue)
        self.batch_size = int(batch_size)
        if self.batch_size <= 0:
            raise ValueError("BatchQueueInput: batch_size must be positive, got {}.".format(
                batch_size))

    def _size(self):
        return len(self.ds) // self.batch_size

    def _setup(self, inputs):
        logger.info("Setting up the queue for CPU prefetching ...")
        self._placeholders = [build_or_reuse_placeholder(v) for v in inputs]
        if not self._placeholders:
            raise ValueError("BatchQueueInput needs a model with at least one input.")
        single = []
        for p in self._placeholders:
            shape = p.shape[1:]
            if not shape.is_fully_defined():
                raise ValueError("BatchQueueInput: input '{}' has shape {}; all dimensions but "
                                 "the batch dimension must be known.".format(p.op.name, p.shape))
            single.append(tfv1.placeholder(p.dtype, shape, name=p.op.name + "-nobatch"))
        with self.cached_name_scope():
            if self.queue is None:
                self.queue = tfv1.FIFOQueue(3000, [p.dtype for p in single],
                                            shapes=[p.shape for p in single],
                                            name="input_queue")
            for shape in self.queue.shapes:
                if not shape.is_fully_defined():
                    raise ValueError("BatchQueueInput: the queue's shapes {} must be fully "
                                     "defined.".format(self.queue.shapes))
            self.thread = _EnqueueThread(self.queue, self._inf_ds, single)
            self._dequeue_op = self.queue.dequeue(name="dequeue_for_reset")

    def _get_input_tensors(self):
        with tf.device("/cpu:0"), self.cached_name_scope():
            ret = self.queue.dequeue_many(self.batch_size, name="input_deque")
            if isinstance(ret, tf.Tensor):  # a single input
                ret = [ret]
            for t, p in zip(ret, self._placeholders):
                t.set_shape([self.batch_size] + p.shape.as_list()[1:])
            return list(ret)
