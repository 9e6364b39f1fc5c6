"""Adapters between callbacks and ``tf.compat.v1.train.SessionRunHook``."""
from tensorpack.compat import tfv1

from .base import Callback

__all__ = ["CallbackToHook", "HookToCallback", "TFLocalCLIDebugHook"]


class CallbackToHook(tfv1.train.SessionRunHook):
    """Expose a callback's ``before_run`` / ``after_run`` as a SessionRunHook.

    Trainers use it to hook callbacks onto their ``MonitoredSession``.
    """

    def __init__(self, cb):
        self._cb = cb

    def before_run(self, run_context):
        return self._cb.before_run(run_context)

    def after_run(self, run_context, run_values):
        self._cb.after_run(run_context, run_values)


class HookToCallback(Callback):
    """Run a ``SessionRunHook`` as a callback (``after_create_session`` gets ``coord=None``)."""

    _chief_only = False

    def __init__(self, hook):
        """
        Args:
            hook (tf.compat.v1.train.SessionRunHook): the hook to run.
        """
        self._hook = hook

    def _setup_graph(self):
        with tfv1.name_scope(None):
            self._hook.begin()

    def _before_train(self):
        self._hook.after_create_session(tfv1.get_default_session(), None)

    def _before_run(self, ctx):
        return self._hook.before_run(ctx)

    def _after_run(self, ctx, run_values):
        self._hook.after_run(ctx, run_values)

    def _after_train(self):
        self._hook.end(self.trainer.sess)


class TFLocalCLIDebugHook(HookToCallback):
    """Run TensorFlow's interactive command-line debugger (``tfdbg.LocalCLIDebugHook``)
    on the training steps. Needs a terminal."""

    _chief_only = True

    def __init__(self, *args, **kwargs):
        """
        Args:
            args, kwargs: arguments of ``tfdbg.LocalCLIDebugHook``.
        """
        from tensorflow.python import debug as tfdbg
        super().__init__(tfdbg.LocalCLIDebugHook(*args, **kwargs))

    def add_tensor_filter(self, *args, **kwargs):
        """Register a tensor filter; arguments as ``tfdbg.LocalCLIDebugHook.add_tensor_filter``."""
        self._hook.add_tensor_filter(*args, **kwargs)
