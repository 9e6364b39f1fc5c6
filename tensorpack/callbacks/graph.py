"""Callbacks that run graph ops: ``RunOp``, ``RunUpdateOps``, ``ProcessTensors``."""
from tensorpack.compat import tfv1
from tensorpack.utils import logger

from .base import Callback

__all__ = ["RunOp", "RunUpdateOps", "ProcessTensors", "CheckNumerics"]


class RunOp(Callback):
    """Run an op before training, at each trigger, and/or with every step."""

    _chief_only = False

    def __init__(self, op, run_before=True, run_as_trigger=True, run_step=False, verbose=False):
        """
        Args:
            op (tf.Operation or callable): the op, or a function returning it (called in
                ``setup_graph``, once the model is built).
            run_before (bool): run it in ``before_train``.
            run_as_trigger (bool): run it on every ``trigger()``.
            run_step (bool): run it along with every training step.
            verbose (bool): log each run.
        """
        self.setup_func = op if callable(op) else (lambda: op)
        self.run_before = run_before
        self.run_as_trigger = run_as_trigger
        self.run_step = run_step
        self.verbose = verbose

    def _setup_graph(self):
        self._op = self.setup_func()
        if self.run_step:
            self._fetch = tfv1.train.SessionRunArgs(fetches=self._op)

    def _run(self):
        if self.verbose:
            logger.info("Running Op {} ...".format(self._op.name))
        self._op.run()

    def _before_train(self):
        if self.run_before:
            self._run()

    def _trigger(self):
        if self.run_as_trigger:
            self._run()

    def _before_run(self, _):
        if self.run_step:
            if self.verbose:
                logger.info("Running Op {} ...".format(self._op.name))
            return self._fetch
        return None


class RunUpdateOps(RunOp):
    """Run the ops of a collection (``UPDATE_OPS`` by default, e.g. batch-norm statistics)
    with every step. One of the default callbacks."""

    def __init__(self, collection=None):
        """
        Args:
            collection (str): the collection; ``tf.GraphKeys.UPDATE_OPS`` by default.
        """
        collection = tfv1.GraphKeys.UPDATE_OPS if collection is None else collection
        label = "UPDATE_OPS" if collection == tfv1.GraphKeys.UPDATE_OPS else collection

        def make_op():
            ops = tfv1.get_collection(collection)
            if not ops:
                return tfv1.no_op(name="empty_update_ops")
            logger.info("Applying collection {} of {} ops.".format(label, len(ops)))
            return tfv1.group(*ops, name="update_ops")

        super().__init__(make_op, run_before=False, run_as_trigger=False, run_step=True)


class ProcessTensors(Callback):
    """Fetch tensors with every step and pass their values to a function."""

    def __init__(self, names, fn):
        """
        Args:
            names (list[str]): tensor names.
            fn (callable): called as ``fn(*values)`` after every step.
        """
        if not isinstance(names, (list, tuple)):
            raise TypeError("ProcessTensors: names must be a list, got {!r}.".format(names))
        self._names = names
        self._fn = fn

    def _setup_graph(self):
        self._fetch = tfv1.train.SessionRunArgs(
            fetches=self.get_tensors_maybe_in_tower(self._names))

    def _before_run(self, _):
        return self._fetch

    def _after_run(self, _, rv):
        self._fn(*rv.results)


class CheckNumerics(RunOp):
    """Fail (``InvalidArgumentError`` naming the variable) when a trainable variable holds
    NaN or Inf; checked at every trigger and/or every step."""

    _chief_only = True

    def __init__(self, run_as_trigger=True, run_step=False):
        """
        Args:
            run_as_trigger (bool), run_step (bool): as in :class:`RunOp`.
        """
        super().__init__(self._make_op, run_before=True, run_as_trigger=run_as_trigger,
                         run_step=run_step)

    @staticmethod
    def _make_op():
        checks = [tfv1.debugging.check_numerics(v, "CheckNumerics['{}']".format(v.op.name)).op
                  for v in tfv1.trainable_variables()]
        return tfv1.group(*checks, name="CheckAllNumerics")


def __getattr__(name):
    # upstream defined the dump callbacks here; they live in dump.py (which imports this module)
    if name in ("DumpTensors", "DumpTensor", "DumpTensorAsImage", "DumpParamAsImage"):
        from . import dump
        return getattr(dump, name)
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
