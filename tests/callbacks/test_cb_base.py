"""Callback hooks order, grouping, triggers, the step counter and the progress bar."""
import numpy as np
import pytest

from cb_helpers import FakeTrainer, LogCapture, fresh_graph, tiny_model  # noqa: F401
from tensorpack.callbacks import (Callback, CallbackFactory, Callbacks, EnableCallbackIf,
                                  PeriodicCallback, PeriodicTrigger, ProgressBar)
from tensorpack.compat import tfv1
from tensorpack.tfutils.common import get_global_step_var


class Recorder(Callback):
    """Records every hook call with the trainer's counters."""

    def __init__(self, fetch=None):
        self.calls = []
        self.fetch = fetch
        self.fetched = []

    def _rec(self, name):
        self.calls.append((name, self.epoch_num, self.global_step, self.local_step))

    def _setup_graph(self):
        self.calls.append(("setup_graph",))
        self.scope = tfv1.no_op(name="op").name

    def _before_train(self):
        self._rec("before_train")

    def _before_epoch(self):
        self._rec("before_epoch")

    def _after_epoch(self):
        self._rec("after_epoch")

    def _before_run(self, ctx):
        return [self.fetch] if self.fetch else None

    def _after_run(self, ctx, values):
        if self.fetch:
            self.fetched.append(values.results[0])

    def _trigger_step(self):
        self._rec("trigger_step")

    def _trigger(self):
        self._rec("trigger")

    def _after_train(self):
        self._rec("after_train")

    def names(self):
        return [c[0] for c in self.calls]


def test_hook_order_and_counters():
    train_op, _, _ = tiny_model()
    rec = Recorder(fetch="cost:0")
    t = FakeTrainer().train(train_op, [rec], steps_per_epoch=2, max_epoch=2)
    assert rec.names() == ["setup_graph", "before_train",
                           "before_epoch", "trigger_step", "trigger_step", "after_epoch", "trigger",
                           "before_epoch", "trigger_step", "trigger_step", "after_epoch", "trigger",
                           "after_train"]
    assert rec.calls[2] == ("before_epoch", 1, 0, -1)
    assert rec.calls[3] == ("trigger_step", 1, 1, 0)   # global step counted after the run
    assert rec.calls[6] == ("trigger", 1, 2, 1)
    assert rec.calls[-2] == ("trigger", 2, 4, 1)
    assert rec.scope == "Recorder/op"  # ops are built under the callback's name scope
    assert len(rec.fetched) == 4 and rec.fetched[0] == pytest.approx(14.0)
    assert t.sess.run(get_global_step_var()) == 4  # MaintainStepCounter


def test_after_train_runs_for_all_callbacks_even_on_error():
    train_op, _, _ = tiny_model()

    class Boom(Callback):
        def _trigger_step(self):
            raise RuntimeError("boom")

    class BadCleanup(Callback):
        def _after_train(self):
            raise OSError("cleanup failed")
    rec = Recorder()
    with pytest.raises(RuntimeError, match="boom"), LogCapture() as logs:
        FakeTrainer().train(train_op, [BadCleanup(), Boom(), rec], steps_per_epoch=2)
    assert rec.names()[-1] == "after_train"
    assert any("BadCleanup" in m for m in logs.messages())


def test_callbacks_rejects_non_callbacks():
    with pytest.raises(TypeError, match="instantiate"):
        Callbacks([Recorder])


def test_periodic_trigger_steps_epochs_and_before_train():
    train_op, _, _ = tiny_model()
    by_step, by_epoch, before = Recorder(), Recorder(), Recorder()
    FakeTrainer().train(train_op, [PeriodicTrigger(by_step, every_k_steps=3),
                                   PeriodicTrigger(by_epoch, every_k_epochs=2),
                                   PeriodicTrigger(before, before_train=True)],
                        steps_per_epoch=2, max_epoch=4)
    assert [c[2] for c in by_step.calls if c[0] == "trigger"] == [3, 6]
    assert [c[1] for c in by_epoch.calls if c[0] == "trigger"] == [2, 4]
    assert [c[2] for c in before.calls if c[0] == "trigger"] == [0]
    # the wrapped callback's other hooks still run every step
    assert by_step.names().count("trigger_step") == 8
    with pytest.raises(ValueError, match="never trigger"):
        PeriodicTrigger(Recorder())
    with pytest.raises(ValueError, match="positive"):
        PeriodicTrigger(Recorder(), every_k_steps=0)


def test_periodic_callback_and_enable_if():
    train_op, _, _ = tiny_model()
    pc, cond = Recorder(), Recorder(fetch="cost:0")
    FakeTrainer().train(train_op, [PeriodicCallback(pc, every_k_epochs=2),
                                   EnableCallbackIf(cond, lambda self: self.epoch_num == 1)],
                        steps_per_epoch=2, max_epoch=2)
    assert [c[1] for c in pc.calls if c[0] == "trigger"] == [2]
    assert [c[1] for c in cond.calls if c[0] == "trigger"] == [1]
    assert len(cond.fetched) == 2  # run hooks only in epoch 1


def test_callback_factory():
    train_op, _, _ = tiny_model()
    seen = []
    cb = CallbackFactory(before_train=lambda self: seen.append("bt"),
                         trigger=lambda self: seen.append(self.epoch_num))
    FakeTrainer().train(train_op, [cb], steps_per_epoch=1, max_epoch=2)
    assert seen == ["bt", 1, 2]


def test_progress_bar_counts_steps_and_shows_tensors(capsys, monkeypatch):
    monkeypatch.setenv("TENSORPACK_PROGRESS_REFRESH", "100")  # a bar even in a log file
    train_op, _, _ = tiny_model()
    FakeTrainer().train(train_op, [ProgressBar(["cost"])], steps_per_epoch=5, max_epoch=2)
    err = capsys.readouterr().err
    assert err.count("5/5") == 2  # one finished bar per epoch
    assert "cost=" in err


def test_progress_bar_stays_out_of_log_files_for_short_epochs(capsys):
    """Without a terminal, an epoch shorter than the refresh interval prints no bar: the
    trainer's one line per epoch is the log."""
    train_op, _, _ = tiny_model()
    FakeTrainer().train(train_op, [ProgressBar(["cost"])], steps_per_epoch=5, max_epoch=2)
    assert "5/5" not in capsys.readouterr().err


def test_progress_bar_rejects_non_scalars():
    train_op, _, w = tiny_model()
    with pytest.raises(ValueError, match="scalar"):
        FakeTrainer().train(train_op, [ProgressBar(["w/Read/ReadVariableOp"])])


def test_before_run_rejects_garbage():
    class Bad(Callback):
        def _before_run(self, ctx):
            return 42
    with pytest.raises(TypeError, match="_before_run"):
        Bad().before_run(None)


def test_chief_only_defaults():
    from tensorpack.callbacks import ModelSaver, ScalarPrinter
    assert Recorder().chief_only
    assert not ProgressBar().chief_only and not ScalarPrinter().chief_only
    assert ModelSaver(checkpoint_dir=None).set_chief_only(False).chief_only is False
    np.testing.assert_equal(PeriodicTrigger(ProgressBar(), every_k_steps=1).chief_only, False)


def test_throughput_tracker_and_check_numerics():
    from tensorpack.callbacks import CheckNumerics, ThroughputTracker
    train_op, _, _ = tiny_model()
    t = FakeTrainer().train(train_op, [ThroughputTracker(samples_per_step=8), CheckNumerics()],
                            steps_per_epoch=3, max_epoch=2)
    hist = t.monitors.get_history("Throughput (samples/sec)")
    assert [s for s, _ in hist] == [3, 6] and all(v > 0 for _, v in hist)


def test_check_numerics_catches_nan():
    from tensorpack.callbacks import CheckNumerics
    w = tfv1.get_variable("w", initializer=1.0)
    train_op = tfv1.assign(w, w * float("nan"))
    with pytest.raises(tfv1.errors.InvalidArgumentError, match="CheckNumerics\\['w'\\]"):
        FakeTrainer().train(train_op, [CheckNumerics()], steps_per_epoch=1, max_epoch=1)
