"""Wrappers that change when a callback runs."""
from .base import ProxyCallback

__all__ = ["PeriodicTrigger", "PeriodicCallback", "EnableCallbackIf"]


def _check_period(owner, k, what):
    if k is not None and (not isinstance(k, int) or k <= 0):
        raise ValueError("{}: {} must be a positive int or None, got {!r}.".format(owner, what, k))


class PeriodicTrigger(ProxyCallback):
    """Call a callback's :meth:`trigger` every k global steps and/or every k epochs.

    Its other methods (``trigger_step``, ``before_run`` ...) keep running as usual; only the
    epoch-end ``trigger_epoch`` of the wrapped callback is replaced by this schedule.
    """

    def __init__(self, triggerable, every_k_steps=None, every_k_epochs=None, before_train=False):
        """
        Args:
            triggerable (Callback): the callback whose ``trigger()`` is scheduled.
            every_k_steps (int): trigger when ``global_step % k == 0``; None to disable.
            every_k_epochs (int): trigger when ``epoch_num % k == 0``; None to disable.
            before_train (bool): also trigger once in ``before_train``.

        Raises:
            ValueError: if nothing would ever trigger, or for a non-positive period.
        """
        super().__init__(triggerable)
        if not before_train and every_k_steps is None and every_k_epochs is None:
            raise ValueError("PeriodicTrigger({}) would never trigger: give every_k_steps, "
                             "every_k_epochs or before_train=True.".format(triggerable))
        _check_period("PeriodicTrigger", every_k_steps, "every_k_steps")
        _check_period("PeriodicTrigger", every_k_epochs, "every_k_epochs")
        self._step_k = every_k_steps
        self._epoch_k = every_k_epochs
        self._do_before_train = before_train

    def _before_train(self):
        self.cb.before_train()
        if self._do_before_train:
            self.cb.trigger()

    def _trigger_step(self):
        self.cb.trigger_step()
        if self._step_k is not None and self.global_step % self._step_k == 0:
            self.cb.trigger()

    def _trigger_epoch(self):
        if self._epoch_k is not None and self.epoch_num % self._epoch_k == 0:
            self.cb.trigger()

    def __str__(self):
        return "PeriodicTrigger-" + str(self.cb)


class EnableCallbackIf(ProxyCallback):
    """Run a callback's per-step and per-epoch methods only while a predicate holds.

    ``before/after_epoch``, ``before/after_run`` and ``trigger_step/epoch`` are gated;
    ``setup_graph``, ``before_train`` and ``after_train`` always run.
    """

    def __init__(self, callback, pred):
        """
        Args:
            callback (Callback): the wrapped callback.
            pred (callable): ``pred(self) -> bool``, evaluated at each gated call (for
                ``before/after_run``: once, in ``before_run``).
        """
        self._pred = pred
        self._enabled = False
        super().__init__(callback)

    def _before_run(self, ctx):
        self._enabled = bool(self._pred(self))
        return super()._before_run(ctx) if self._enabled else None

    def _after_run(self, ctx, rv):
        if self._enabled:
            super()._after_run(ctx, rv)

    def _before_epoch(self):
        if self._pred(self):
            super()._before_epoch()

    def _after_epoch(self):
        if self._pred(self):
            super()._after_epoch()

    def _trigger_epoch(self):
        if self._pred(self):
            super()._trigger_epoch()

    def _trigger_step(self):
        if self._pred(self):
            super()._trigger_step()

    def __str__(self):
        return "EnableCallbackIf-" + str(self.cb)


class PeriodicCallback(EnableCallbackIf):
    """Enable a callback only at every k-th global step and/or every k-th epoch.

    It can only make a callback run *less* often; to run ``trigger()`` more often than once
    per epoch use :class:`PeriodicTrigger`. With ``every_k_epochs`` the last step of the
    last epoch is enabled too.
    """

    def __init__(self, callback, every_k_steps=None, every_k_epochs=None):
        """
        Args:
            callback (Callback): the wrapped callback.
            every_k_steps (int): enable when ``global_step % k == 0``; None to ignore.
            every_k_epochs (int): enable when ``epoch_num % k == 0``; None to ignore.

        Raises:
            ValueError: if both periods are None.
        """
        if every_k_steps is None and every_k_epochs is None:
            raise ValueError("PeriodicCallback({}): every_k_steps and every_k_epochs cannot "
                             "both be None.".format(callback))
        _check_period("PeriodicCallback", every_k_steps, "every_k_steps")
        _check_period("PeriodicCallback", every_k_epochs, "every_k_epochs")
        self._step_k = every_k_steps
        self._epoch_k = every_k_epochs
        super().__init__(callback, PeriodicCallback.predicate)

    def predicate(self):
        if self._step_k is not None and self.global_step % self._step_k == 0:
            return True
        if self._epoch_k is not None:
            if self.epoch_num % self._epoch_k == 0:
                return True
            last_step = self.local_step == self.trainer.steps_per_epoch - 1
            if last_step and self.epoch_num == self.trainer.max_epoch:
                return True
        return False

    def __str__(self):
        return "PeriodicCallback-" + str(self.cb)
