"""The default summary callbacks: maintain moving averages, evaluate summaries each epoch."""
from collections import deque

import numpy as np

from tensorpack.checkpoint.names import get_op_tensor_name
from tensorpack.compat import tfv1
from tensorpack.tfutils.summary import MOVING_SUMMARY_OPS_KEY
from tensorpack.utils import logger

from .base import Callback

__all__ = ["MovingAverageSummary", "MergeAllSummaries", "SimpleMovingAverage"]


class MovingAverageSummary(Callback):
    """Update the moving averages of ``add_moving_summary`` with every step.

    Only the averages are maintained here; ``MergeAllSummaries`` reports them.
    One of the default callbacks.
    """

    def __init__(self, collection=MOVING_SUMMARY_OPS_KEY, train_op=None):
        """
        Args:
            collection (str): the collection of EMA-updating ops.
            train_op (tf.Operation or str): if given, attach the updates to this op as control
                dependencies instead of running them through the session hooks.
        """
        self._collection = collection
        self._train_op = train_op

    def _setup_graph(self):
        ops = [k.op for k in tfv1.get_collection(self._collection)]
        if self._train_op is None:
            logger.info("[MovingAverageSummary] {} operations in collection '{}' will be run "
                        "with session hooks.".format(len(ops), self._collection))
            self.ema_op = tfv1.group(*ops, name="maintain_moving_average_summary")
            self._fetch = tfv1.train.SessionRunArgs(fetches=self.ema_op)
            return
        op = self._train_op
        if isinstance(op, tfv1.Tensor):
            op = op.op
        if not isinstance(op, tfv1.Operation):
            op = self.graph.get_operation_by_name(op)
        op._add_control_inputs(ops)
        self._train_op = op
        logger.info("[MovingAverageSummary] {} operations in collection '{}' will be run "
                    "together with operation '{}'.".format(len(ops), self._collection, op.name))

    def _before_run(self, _):
        return self._fetch if self._train_op is None else None


class _MergeAllSummariesBase(Callback):
    """Builds the merged summary op of a collection; subclasses decide when to run it."""

    def __init__(self, period, key):
        self._period = period
        self._key = key

    def _setup_graph(self):
        logger.info("Summarizing collection '{}' of size {}.".format(
            self._key, len(tfv1.get_collection(self._key))))
        self.summary_op = tfv1.summary.merge_all(self._key)


class _MergeAllSummariesAlone(_MergeAllSummariesBase):
    def _trigger_step(self):
        if self._period and (self.local_step + 1) % self._period == 0:
            self._trigger()

    def _trigger(self):
        if self.summary_op is not None:
            self.trainer.monitors.put_summary(self.summary_op.eval())


class _MergeAllSummariesWithOp(_MergeAllSummariesBase):
    def _setup_graph(self):
        super()._setup_graph()
        self._fetches = (None if self.summary_op is None
                         else tfv1.train.SessionRunArgs(self.summary_op))

    def _need_run(self):
        if self.local_step == self.trainer.steps_per_epoch - 1:
            return True
        return self._period > 0 and (self.local_step + 1) % self._period == 0

    def _before_run(self, _):
        return self._fetches if self._need_run() else None

    def _after_run(self, _, run_values):
        if run_values.results is not None:
            self.trainer.monitors.put_summary(run_values.results)


def MergeAllSummaries(period=0, run_alone=False, key=None):
    """Evaluate ``tf.summary.merge_all(key)`` and send the result to the monitors.

    One of the default callbacks.

    Args:
        period (int): besides once per epoch, also every ``period`` steps (0: never).
        run_alone (bool): evaluate the summaries in a separate ``sess.run`` after each epoch,
            instead of along with the last step of the epoch (which is needed when the
            summaries depend on the training inputs).
        key (str): the summary collection; ``tf.GraphKeys.SUMMARIES`` by default.

    Returns:
        Callback
    """
    key = tfv1.GraphKeys.SUMMARIES if key is None else key
    cls = _MergeAllSummariesAlone if run_alone else _MergeAllSummariesWithOp
    return cls(int(period), key)


class SimpleMovingAverage(Callback):
    """Report the average of scalar tensors over a sliding window of steps."""

    def __init__(self, tensors, window_size):
        """
        Args:
            tensors (list[str]): tensor names.
            window_size (int): the window, in steps.
        """
        self._tensor_names = [get_op_tensor_name(x)[1] for x in tensors]
        self._display_names = [get_op_tensor_name(x)[0] for x in tensors]
        self._window = int(window_size)
        self._queue = deque(maxlen=self._window)

    def _setup_graph(self):
        tensors = self.get_tensors_maybe_in_tower(self._tensor_names)
        for t in tensors:
            if t.shape.ndims != 0:
                raise ValueError("SimpleMovingAverage only accepts scalar tensors; '{}' has "
                                 "shape {}.".format(t.name, t.shape))
        self._fetch = tfv1.train.SessionRunArgs(fetches=tensors)

    def _before_run(self, _):
        return self._fetch

    def _after_run(self, _, rv):
        self._queue.append(rv.results)

    def _trigger_step(self):
        if self.global_step % self._window == 0:
            for name, avg in zip(self._display_names, np.asarray(self._queue).mean(axis=0)):
                self.trainer.monitors.put_scalar(name + "/SMA", avg)
