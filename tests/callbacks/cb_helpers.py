"""Shared test helpers for the callback tests: a tiny model, a minimal trainer, log capture.

The trainer is a stand-in that drives callbacks exactly as tensorpack's trainers do
(setup_graph -> before_train -> epochs of steps -> after_train, with run hooks), so the
callbacks are tested on their own.
"""
import logging

import pytest

from tensorpack.callbacks.group import Callbacks
from tensorpack.callbacks.monitor import Monitors
from tensorpack.callbacks.steps import MaintainStepCounter
from tensorpack.compat import tfv1
from tensorpack.tfutils.common import get_global_step_var, get_global_step_value
from tensorpack.train.hooked_session import HookedSession
from tensorpack.utils import logger


class _Loop:
    def __init__(self):
        self._epoch_num = 0
        self._global_step = 0
        self._local_step = -1
        self.starting_epoch = 1
        self.max_epoch = 1
        self.steps_per_epoch = 1


class FakeTrainer:
    """Runs ``train_op`` for ``max_epoch`` epochs with the given callbacks and monitors."""

    is_chief = True

    def __init__(self):
        self.loop = _Loop()

    epoch_num = property(lambda self: self.loop._epoch_num)
    global_step = property(lambda self: self.loop._global_step)
    local_step = property(lambda self: self.loop._local_step)
    steps_per_epoch = property(lambda self: self.loop.steps_per_epoch)
    starting_epoch = property(lambda self: self.loop.starting_epoch)
    max_epoch = property(lambda self: self.loop.max_epoch)

    def setup(self, callbacks, monitors=()):
        get_global_step_var()
        cbs = [MaintainStepCounter()] + [c for c in callbacks if self.is_chief or not c.chief_only]
        self.monitors = Monitors(list(monitors))
        cbs += list(monitors) + [self.monitors]
        self.callbacks = Callbacks(cbs)
        self.callbacks.setup_graph(self)

    def train(self, train_op, callbacks, monitors=(), steps_per_epoch=3, max_epoch=2,
              starting_epoch=1, init_fn=None, sess=None):
        """Set up, create the session, run the loop. ``init_fn(sess)`` restores values."""
        self.train_op = train_op
        self.setup(callbacks, monitors)
        self.sess = sess or tfv1.Session()
        self.sess.run([tfv1.global_variables_initializer(), tfv1.local_variables_initializer()])
        if init_fn is not None:
            init_fn(self.sess)
        self.hooked_sess = HookedSession(self.sess, self.callbacks.get_hooks())
        self.sess.graph.finalize()
        loop = self.loop
        loop.starting_epoch, loop.max_epoch = starting_epoch, max_epoch
        loop.steps_per_epoch = steps_per_epoch
        loop._epoch_num = starting_epoch - 1
        with self.sess.as_default():
            loop._global_step = get_global_step_value()
            try:
                self.callbacks.before_train()
                for loop._epoch_num in range(starting_epoch, max_epoch + 1):
                    self.callbacks.before_epoch()
                    for loop._local_step in range(steps_per_epoch):
                        self.hooked_sess.run(self.train_op)
                        self.callbacks.trigger_step()
                    self.callbacks.after_epoch()
                    self.callbacks.trigger_epoch()
            finally:
                self.callbacks.after_train()
        return self


def tiny_model(lr=0.1):
    """A 3-element weight, a quadratic cost, plain SGD with a ``learning_rate`` variable.

    Returns:
        (train_op, cost, w)
    """
    w = tfv1.get_variable("w", initializer=tfv1.constant([1.0, 2.0, 3.0]))
    cost = tfv1.reduce_sum(tfv1.square(w), name="cost")
    lr_var = tfv1.get_variable("learning_rate", initializer=lr, trainable=False)
    train_op = tfv1.train.GradientDescentOptimizer(lr_var).minimize(cost)
    return train_op, cost, w


class LogCapture(logging.Handler):
    """Collects the tensorpack logger's records (it does not propagate to pytest's caplog)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def messages(self, level=logging.DEBUG):
        return [r.getMessage() for r in self.records if r.levelno >= level]

    def __enter__(self):
        logging.getLogger("tensorpack").addHandler(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger("tensorpack").removeHandler(self)


def set_logger_dir(path):
    """Point the logger dir at ``path`` (without the interactive prompt)."""
    logger.set_logger_dir(str(path), action="k")


@pytest.fixture(autouse=True)
def fresh_graph():
    """A fresh default graph per test; the logger dir and log file are restored after."""
    tfv1.reset_default_graph()
    old_dir = logger.LOG_DIR
    yield
    tfv1.reset_default_graph()
    handler = logger._FILE_HANDLER
    if handler is not None:
        logging.getLogger("tensorpack").removeHandler(handler)
        handler.close()
        logger._FILE_HANDLER = None
    logger.LOG_DIR = old_dir
