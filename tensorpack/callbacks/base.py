"""The :class:`Callback` base class: code that runs at fixed points of the training loop.

A trainer drives every callback through the same public methods, in this order::

    setup_graph(trainer)          # graph still mutable: build ops here
    before_train()                # session exists and is initialized, graph finalized
    for each epoch:
        before_epoch()
        for each step:
            before_run(ctx) / after_run(ctx, values)   # around every hooked_sess.run
            trigger_step()
        after_epoch()
        trigger_epoch()           # calls trigger() unless overridden
    after_train()                 # always, even when training fails

Subclasses override the underscore versions (``_setup_graph``, ``_trigger`` ...); the public
methods are what trainers and wrappers (``PeriodicTrigger`` ...) call.
"""
from tensorpack.compat import tfv1
from tensorpack.tfutils.common import get_op_or_tensor_by_name

__all__ = ["Callback", "ProxyCallback", "CallbackFactory"]


class Callback:
    """Base class of all callbacks.

    Attributes available from :meth:`setup_graph` on:
        trainer: the trainer running this callback.
        graph (tf.Graph): the training graph.
        epoch_num (int), global_step (int), local_step (int): the trainer's counters.
    """

    _chief_only = True

    name_scope = ""
    """Name scope for the ops this callback creates; defaults to the class name."""

    # ---- public driver methods (called by the trainer) -------------------------------------
    def setup_graph(self, trainer):
        """Attach to ``trainer`` and build this callback's ops in the default graph."""
        self.trainer = trainer
        self.graph = tfv1.get_default_graph()
        scope = (self.name_scope or type(self).__name__).replace("_", "")
        with tfv1.name_scope(scope):
            self._setup_graph()

    def before_train(self):
        self._before_train()

    def before_epoch(self):
        self._before_epoch()

    def after_epoch(self):
        self._after_epoch()

    def before_run(self, ctx):
        """Returns the extra fetches of the next ``hooked_sess.run`` as ``SessionRunArgs``."""
        fetches = self._before_run(ctx)
        if fetches is None or isinstance(fetches, tfv1.train.SessionRunArgs):
            return fetches
        if not isinstance(fetches, (list, tuple)):
            raise TypeError("{}._before_run must return None, SessionRunArgs or a list of "
                            "tensors/names; got {!r}.".format(type(self).__name__, fetches))
        resolved = [f if isinstance(f, (tfv1.Tensor, tfv1.Operation))
                    else get_op_or_tensor_by_name(f) for f in fetches]
        return tfv1.train.SessionRunArgs(fetches=resolved)

    def after_run(self, run_context, run_values):
        self._after_run(run_context, run_values)

    def trigger_step(self):
        self._trigger_step()

    def trigger_epoch(self):
        self._trigger_epoch()

    def trigger(self):
        self._trigger()

    def after_train(self):
        self._after_train()

    # ---- hooks for subclasses ---------------------------------------------------------------
    def _setup_graph(self):
        """Build ops; the graph is not finalized yet (like ``SessionRunHook.begin``)."""

    def _before_train(self):
        """Runs once the session is created and initialized by ``session_init``."""

    def _before_epoch(self):
        """Runs right before each epoch; prefer :meth:`_trigger` for periodic work."""

    def _after_epoch(self):
        """Runs right after the last step of each epoch, before :meth:`trigger_epoch`."""

    def _before_run(self, ctx):
        """Like ``SessionRunHook.before_run``: return fetches to run with the training step."""
        return None

    def _after_run(self, run_context, run_values):
        """Like ``SessionRunHook.after_run``: receives the values asked for in ``_before_run``."""

    def _trigger_step(self):
        """Runs after every training step."""

    def _trigger_epoch(self):
        """Runs after every epoch; calls :meth:`trigger` by default."""
        self.trigger()

    def _trigger(self):
        """The callback's periodic action. Every epoch by default; wrappers such as
        :class:`PeriodicTrigger` may call it at other times too."""

    def _after_train(self):
        """Runs once after training, even if it stopped on an error."""

    # ---- trainer state ------------------------------------------------------------------
    @property
    def epoch_num(self):
        return self.trainer.epoch_num

    @property
    def global_step(self):
        return self.trainer.global_step

    @property
    def local_step(self):
        return self.trainer.local_step

    @property
    def chief_only(self):
        """bool: run this callback only in the chief process of a distributed job."""
        return self._chief_only

    @chief_only.setter
    def chief_only(self, v):
        self._chief_only = v

    def set_chief_only(self, v=True):
        """Set :attr:`chief_only` and return the callback itself (for chaining)."""
        self._chief_only = v
        return self

    def __str__(self):
        return type(self).__name__

    def get_tensors_maybe_in_tower(self, names):
        """Look up tensors (or ops) by name; fall back to the first training tower.

        Args:
            names (list[str]): tensor names.

        Returns:
            list[tf.Tensor]

        Raises:
            KeyError: if a name is neither in the graph nor in the trainer's first tower.
        """
        def lookup(name):
            try:
                return get_op_or_tensor_by_name(name)
            except (KeyError, ValueError):
                pass
            towers = getattr(self.trainer, "towers", None)
            if towers is not None:
                try:
                    return towers.training()[0][name]
                except (KeyError, IndexError, AttributeError):
                    pass
            raise KeyError("Tensor '{}' asked for by {} is not in the graph (nor in the first "
                           "training tower). Check the name.".format(name, self))
        return [lookup(n) for n in names]


class ProxyCallback(Callback):
    """A callback forwarding every method to another callback; base of callback wrappers."""

    def __init__(self, cb):
        """
        Args:
            cb (Callback): the wrapped callback.

        Raises:
            TypeError: if ``cb`` is not a Callback.
        """
        if not isinstance(cb, Callback):
            raise TypeError("{} wraps a Callback, got {!r}.".format(type(self).__name__, cb))
        self.chief_only = cb.chief_only
        self.cb = cb

    def _setup_graph(self):
        with tfv1.name_scope(None):
            self.cb.setup_graph(self.trainer)

    def _before_train(self):
        self.cb.before_train()

    def _before_epoch(self):
        self.cb.before_epoch()

    def _after_epoch(self):
        self.cb.after_epoch()

    def _before_run(self, ctx):
        return self.cb.before_run(ctx)

    def _after_run(self, ctx, run_values):
        self.cb.after_run(ctx, run_values)

    def _trigger_step(self):
        self.cb.trigger_step()

    def _trigger_epoch(self):
        self.cb.trigger_epoch()

    def _trigger(self):
        self.cb.trigger()

    def _after_train(self):
        self.cb.after_train()

    def __str__(self):
        return "Proxy-" + str(self.cb)


class CallbackFactory(Callback):
    """A callback made of functions, each taking the callback itself as its only argument."""

    def __init__(self, setup_graph=None, before_train=None, trigger=None, after_train=None):
        self._fns = {"setup_graph": setup_graph, "before_train": before_train,
                     "trigger": trigger, "after_train": after_train}

    def _call(self, key):
        fn = self._fns[key]
        if fn is not None:
            fn(self)

    def _setup_graph(self):
        self._call("setup_graph")

    def _before_train(self):
        self._call("before_train")

    def _trigger(self):
        self._call("trigger")

    def _after_train(self):
        self._call("after_train")

    def __str__(self):
        given = ["{}={}".format(k, v) for k, v in self._fns.items() if v is not None]
        return "CallbackFactory({})".format(", ".join(given))
