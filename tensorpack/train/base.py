"""The trainer base class: callbacks, session creation and the epoch/step loop.

The life of a trainer (see :meth:`Trainer.train`)::

    setup_callbacks(callbacks, monitors)    # callbacks build their ops; graph still mutable
    initialize(session_creator, session_init)   # session created, variables loaded, graph finalized
    main_loop(steps_per_epoch, starting_epoch, max_epoch)

Callbacks get ``self.trainer`` and read the loop counters through it
(``trainer.global_step``, ``epoch_num``, ``local_step``, ``steps_per_epoch``...).
"""
import copy
import time
import weakref

import tensorflow as tf

from tensorpack.callbacks.base import Callback
from tensorpack.callbacks.group import Callbacks
from tensorpack.callbacks.monitor import Monitors
from tensorpack.callbacks.steps import MaintainStepCounter
from tensorpack.compat import tfv1
from tensorpack.tfutils.common import get_global_step_value
from tensorpack.tfutils.model_utils import describe_trainable_vars
from tensorpack.tfutils.sesscreate import NewSessionCreator
from tensorpack.tfutils.sessinit import JustCurrentSession, SessionInit
from tensorpack.train.hooked_session import HookedSession
from tensorpack.utils import logger
from tensorpack.utils.argtools import call_only_once
from tensorpack.utils.utils import humanize_time_delta

__all__ = ["StopTraining", "Trainer"]


class StopTraining(Exception):
    """Raise it (e.g. from a callback) to end training cleanly."""


class TrainLoop:
    """The counters of the training loop, shared with the callbacks through the trainer."""

    def __init__(self):
        self._epoch_num = 0
        self._global_step = 0
        self._local_step = -1
        self.starting_epoch = 1
        self.max_epoch = 0
        self.steps_per_epoch = 0

    def config(self, steps_per_epoch, starting_epoch, max_epoch):
        """Set the loop bounds.

        Raises:
            ValueError: for negative values.
        """
        steps_per_epoch, starting_epoch, max_epoch = (
            int(steps_per_epoch), int(starting_epoch), int(max_epoch))
        if steps_per_epoch < 0 or max_epoch < 0:
            raise ValueError("steps_per_epoch ({}) and max_epoch ({}) must not be negative.".format(
                steps_per_epoch, max_epoch))
        self.steps_per_epoch = steps_per_epoch
        self.starting_epoch = starting_epoch
        self.max_epoch = max_epoch
        self._epoch_num = starting_epoch - 1

    def update_global_step(self):
        """Read the global step from the default session into the Python counter."""
        self._global_step = get_global_step_value()

    @property
    def epoch_num(self):
        """int: the current epoch (1-based), from before ``before_epoch`` to after
        ``trigger_epoch``."""
        return self._epoch_num

    @property
    def global_step(self):
        """int: how many training iterations (``hooked_sess.run`` calls) ever ran."""
        return self._global_step

    @property
    def local_step(self):
        """int: the index of the current step inside the epoch (0-based)."""
        return self._local_step


class Trainer:
    """Base class of trainers: runs callbacks around a loop of :meth:`run_step`.

    Attributes:
        sess (tf.compat.v1.Session): the session, after :meth:`initialize`.
        hooked_sess: a session whose ``run`` also runs the callbacks' ``before_run`` /
            ``after_run`` hooks; training iterations use it. After :meth:`initialize`.
        monitors (Monitors): where callbacks send scalars, after :meth:`setup_callbacks`.
        loop (TrainLoop): the counters (also readable as ``trainer.global_step`` etc.).
        is_chief (bool): whether this process is the chief (chief-only callbacks run here).
    """

    is_chief = True
    sess = None
    hooked_sess = None
    monitors = None

    def __new__(cls, *args, **kwargs):
        from tensorpack.train.config import TrainConfig
        if (args and isinstance(args[0], TrainConfig)) or "config" in kwargs:
            raise TypeError("{}(config) is the old trainer API. Use "
                            "launch_train_with_config(config, {}()) instead.".format(
                                cls.__name__, cls.__name__))
        return super().__new__(cls)

    def __init__(self):
        self._callbacks = []
        self.loop = TrainLoop()

    # ---- callbacks ---------------------------------------------------------------------------
    def register_callback(self, cb):
        """Add a callback (or a list of them). Only before :meth:`setup_callbacks` finishes.

        Args:
            cb (Callback or list[Callback]):

        Returns:
            bool: False if it was skipped (a chief-only callback on a non-chief worker).

        Raises:
            TypeError: if ``cb`` is not a Callback.
            RuntimeError: if the callbacks were already set up.
        """
        if isinstance(cb, (list, tuple)):
            for c in cb:
                self.register_callback(c)
            return True
        if not isinstance(cb, Callback):
            raise TypeError("register_callback() expects a Callback, got {!r} of type {}.".format(
                cb, type(cb).__name__))
        if isinstance(self._callbacks, Callbacks):
            raise RuntimeError("Cannot register callback {} after the trainer set up its "
                               "callbacks.".format(cb))
        if not self.is_chief and cb.chief_only:
            logger.warn("Callback {} is chief-only, skipped.".format(cb))
            return False
        self._callbacks.append(cb)
        return True

    _register_callback = register_callback

    @call_only_once
    def setup_callbacks(self, callbacks, monitors):
        """Register the step counter, ``callbacks`` and ``monitors``, and let them build their
        ops. Call after the training graph is built.

        Args:
            callbacks (list[Callback]):
            monitors (list[MonitorBase]):
        """
        if not isinstance(callbacks, list) or not isinstance(monitors, list):
            raise TypeError("setup_callbacks() takes two lists, got {} and {}.".format(
                type(callbacks).__name__, type(monitors).__name__))
        describe_trainable_vars()
        self.register_callback(self._make_step_counter())
        for cb in callbacks:
            self.register_callback(cb)
        # Monitors are callbacks too (they write files at trigger time); the Monitors group
        # only dispatches what others put into it.
        registered = [m for m in monitors if self.register_callback(m)]
        self.monitors = Monitors(registered)
        self.register_callback(self.monitors)
        logger.info("Setup callbacks graph ...")
        self._callbacks = Callbacks(self._callbacks)
        self._callbacks.setup_graph(weakref.proxy(self))

    def _make_step_counter(self):
        """The callback that advances the global step with every training iteration."""
        return MaintainStepCounter()

    # ---- session -----------------------------------------------------------------------------
    @call_only_once
    def initialize(self, session_creator, session_init):
        """Create the session, load the initial values, hook the callbacks, finalize the graph.

        Args:
            session_creator (tf.compat.v1.train.SessionCreator):
            session_init (SessionInit):

        Raises:
            TypeError: for arguments of the wrong type.
        """
        if not isinstance(session_creator, tfv1.train.SessionCreator):
            raise TypeError("session_creator must be a tf.compat.v1.train.SessionCreator, got "
                            "{!r}.".format(session_creator))
        if not isinstance(session_init, SessionInit):
            raise TypeError("session_init must be a SessionInit (e.g. SmartInit(path)), got "
                            "{!r}.".format(session_init))
        session_init._setup_graph()
        logger.info("Creating the session ...")
        self.sess = session_creator.create_session()
        self.initialize_hooks()
        if self.is_chief:
            logger.info("Initializing the session ...")
            session_init._run_init(self.sess)
        elif not isinstance(session_init, JustCurrentSession):
            logger.warn("This is not a chief worker, 'session_init' was ignored!")
        self.sess.graph.finalize()
        logger.info("Graph Finalized.")

    @call_only_once
    def initialize_hooks(self):
        """Create :attr:`hooked_sess`: :attr:`sess` with the callbacks' run hooks attached."""
        hooks = [h for h in self._callbacks.get_hooks() if _has_run_hooks(getattr(h, "_cb", h))]
        self.hooked_sess = HookedSession(self.sess, hooks)

    # ---- loop --------------------------------------------------------------------------------
    def run_step(self):
        """One training iteration: ``self.hooked_sess.run(self.train_op)`` by default.

        Override it, or set ``self.train_op``, to change what an iteration does.
        """
        if not hasattr(self, "train_op"):
            raise NotImplementedError("Set Trainer.train_op or override Trainer.run_step().")
        self.hooked_sess.run(self.train_op)

    @call_only_once
    def main_loop(self, steps_per_epoch, starting_epoch, max_epoch):
        """Run epochs ``starting_epoch .. max_epoch`` of ``steps_per_epoch`` steps each.

        ``after_train`` of every callback runs even if training fails; the session is closed
        at the end.
        """
        cbs = self._callbacks
        with self.sess.as_default():
            self.loop.config(steps_per_epoch, starting_epoch, max_epoch)
            self.loop.update_global_step()
            try:
                cbs.before_train()
                # callbacks (e.g. a restore) may have changed the global step
                self.loop.update_global_step()
                for self.loop._epoch_num in range(self.loop.starting_epoch,
                                                  self.loop.max_epoch + 1):
                    logger.info("Start Epoch {} ...".format(self.loop.epoch_num))
                    cbs.before_epoch()
                    start = time.time()
                    for self.loop._local_step in range(self.loop.steps_per_epoch):
                        if self.hooked_sess.should_stop():
                            return
                        self.run_step()
                        cbs.trigger_step()
                    cbs.after_epoch()
                    logger.info("Epoch {} (global_step {}) finished, time:{}.".format(
                        self.loop.epoch_num, self.loop.global_step,
                        humanize_time_delta(time.time() - start)))
                    cbs.trigger_epoch()
                logger.info("Training has finished!")
            except (StopTraining, tf.errors.OutOfRangeError) as e:
                logger.info("Training was stopped by exception {}.".format(e))
            except KeyboardInterrupt:
                logger.info("Detected Ctrl-C and exiting main loop.")
                raise
            except Exception:
                logger.error("Training failed at global_step={}".format(self.loop.global_step))
                raise
            finally:
                cbs.after_train()
                self.hooked_sess.close()

    def train(self, callbacks, monitors, session_creator, session_init, steps_per_epoch,
              starting_epoch=1, max_epoch=9999999):
        """``setup_callbacks``, then ``initialize``, then ``main_loop``."""
        self.setup_callbacks(callbacks, monitors)
        self.initialize(session_creator, session_init)
        self.main_loop(steps_per_epoch, starting_epoch, max_epoch)

    def train_with_defaults(self, _sentinel=None, callbacks=None, monitors=None,
                            session_creator=None, session_init=None, steps_per_epoch=None,
                            starting_epoch=1, max_epoch=9999999, extra_callbacks=None):
        """Like :meth:`train` with defaults: ``extra_callbacks`` defaults to
        ``DEFAULT_CALLBACKS()`` and is appended to ``callbacks``; ``monitors`` defaults to
        ``DEFAULT_MONITORS()``. Keyword arguments only; ``steps_per_epoch`` is required.

        Raises:
            TypeError: if called with positional arguments.
            ValueError: if ``steps_per_epoch`` is missing.
        """
        from tensorpack.train.config import DEFAULT_CALLBACKS, DEFAULT_MONITORS
        if _sentinel is not None:
            raise TypeError("train_with_defaults() takes keyword arguments only.")
        if steps_per_epoch is None:
            raise ValueError("train_with_defaults() needs steps_per_epoch=.")
        callbacks = copy.copy(callbacks or [])
        monitors = DEFAULT_MONITORS() if monitors is None else monitors
        callbacks.extend(DEFAULT_CALLBACKS() if extra_callbacks is None else extra_callbacks)
        self.train(callbacks, monitors, session_creator or NewSessionCreator(),
                   session_init or JustCurrentSession(), steps_per_epoch, starting_epoch,
                   max_epoch)


def _overrides(cb, name):
    return getattr(type(cb), name, None) is not getattr(Callback, name)


def _has_run_hooks(cb):
    """Whether a callback does anything in before_run/after_run (others cost nothing per step)."""
    if not isinstance(cb, Callback):
        return True
    return any(_overrides(cb, n) for n in ("before_run", "_before_run", "after_run", "_after_run"))


def _loop_property(name):
    return property(lambda self: getattr(self.loop, name),
                    doc="See :class:`TrainLoop` (``trainer.loop.{}``).".format(name))


for _name in ("global_step", "local_step", "steps_per_epoch", "epoch_num", "starting_epoch",
              "max_epoch"):
    setattr(Trainer, _name, _loop_property(_name))
