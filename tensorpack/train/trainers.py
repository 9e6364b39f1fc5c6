"""Concrete single-process trainers."""
from tensorpack.tfutils.tower import TrainTowerContext
from tensorpack.train.tower import SingleCostTrainer
from tensorpack.utils import logger

__all__ = ["SimpleTrainer", "NoOpTrainer", "QueueInputTrainer"]


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
