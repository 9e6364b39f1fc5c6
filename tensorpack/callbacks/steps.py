"""Per-step callbacks: the global-step counter and the progress bar."""
import tqdm

from tensorpack.checkpoint.names import get_op_tensor_name
from tensorpack.compat import tfv1
from tensorpack.tfutils.common import get_global_step_var
from tensorpack.utils import logger
from tensorpack.utils.naming import GLOBAL_STEP_INCR_OP_NAME
from tensorpack.utils.utils import get_tqdm_kwargs

from .base import Callback
from .misc import SessionRunTimeout  # noqa: F401  (upstream's module for it)

__all__ = ["TensorPrinter", "ProgressBar"]


class TensorPrinter(Callback):
    """Log the values of some tensors after every step (slow; for debugging)."""

    def __init__(self, names):
        """
        Args:
            names (list[str]): tensor names.
        """
        self._names = [get_op_tensor_name(n)[1] for n in names]

    def _setup_graph(self):
        self._fetches = self.get_tensors_maybe_in_tower(self._names)

    def _before_run(self, _):
        return self._fetches

    def _after_run(self, _, values):
        for name, v in zip(self._names, values.results):
            logger.info("{}: {}".format(name, v))


class ProgressBar(Callback):
    """A tqdm progress bar over the steps of each epoch, optionally showing scalar tensors.

    One of the default callbacks.
    """

    _chief_only = False

    def __init__(self, names=()):
        """
        Args:
            names (tuple[str]): names of scalar tensors to show next to the bar.
        """
        self._names = [get_op_tensor_name(n)[1] for n in names]
        self._tags = [get_op_tensor_name(n)[0].split("/")[-1] for n in names]
        self._bar = None

    def _before_train(self):
        self._last_updated = self.local_step
        self._total = self.trainer.steps_per_epoch
        self._tqdm_args = get_tqdm_kwargs(leave=True)
        fetches = self.get_tensors_maybe_in_tower(self._names)
        for t in fetches:
            if t.shape.ndims != 0:
                raise ValueError("ProgressBar can only show scalar tensors; '{}' has shape "
                                 "{}.".format(t.name, t.shape))
        self._fetches = tfv1.train.SessionRunArgs(fetches) if fetches else None
        if fetches:
            self._tqdm_args["bar_format"] += "{postfix} "

    def _before_epoch(self):
        self._bar = tqdm.trange(self._total, **self._tqdm_args)

    def _after_epoch(self):
        self._bar.close()

    def _before_run(self, _):
        # fetch the tensors once per finished step, not for every extra hooked run
        if self._fetches is not None and self.local_step != self._last_updated:
            self._last_updated = self.local_step
            return self._fetches
        return None

    def _after_run(self, _, run_values):
        if run_values.results:
            self._bar.set_postfix(zip(self._tags, run_values.results))

    def _trigger_step(self):
        self._bar.update()

    def _after_train(self):
        if self._bar is not None:  # training may stop before the first epoch
            self._bar.close()


class MaintainStepCounter(Callback):
    """Increment the global step with every ``hooked_sess.run``; trainers add it themselves.

    The Python-side counter (``trainer.loop._global_step``) is kept equal to the variable
    without reading it back from the session.
    """

    _chief_only = False  # each worker maintains its own counter

    def _setup_graph(self):
        gs = get_global_step_var()
        with tfv1.name_scope(None):
            self.gs_incr_op = tfv1.assign_add(gs, 1, name=GLOBAL_STEP_INCR_OP_NAME).op
        self._fetches = tfv1.train.SessionRunArgs(self.gs_incr_op)

    def _before_train(self):
        if self.global_step != 0:
            logger.info("Start training with global_step={}".format(self.global_step))

    def _before_run(self, _):
        return self._fetches

    def _after_run(self, _, __):
        self.trainer.loop._global_step += 1
