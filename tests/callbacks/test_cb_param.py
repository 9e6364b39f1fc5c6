"""ScheduledHyperParamSetter and friends."""
import pytest

from cb_helpers import FakeTrainer, LogCapture, fresh_graph, tiny_model  # noqa: F401
from tensorpack.callbacks import (Callback, HyperParamSetterWithFunc, ObjAttrParam,
                                  ScheduledHyperParamSetter, StatMonitorParamSetter)
from tensorpack.compat import tfv1


class LrRecorder(Callback):
    """Reads the learning rate at the start of every epoch and after every step."""

    def __init__(self):
        self.per_epoch = {}
        self.per_step = {}

    def _setup_graph(self):
        (self.lr,) = [v for v in tfv1.global_variables() if v.op.name == "learning_rate"]

    def _before_epoch(self):
        self.per_epoch[self.epoch_num] = round(float(self.lr.eval()), 6)

    def _trigger_step(self):
        self.per_step[self.global_step] = round(float(self.lr.eval()), 6)


def test_value_changes_after_the_scheduled_epochs():
    train_op, _, _ = tiny_model(lr=0.5)
    rec = LrRecorder()
    sched = ScheduledHyperParamSetter("learning_rate", [(0, 0.1), (2, 0.01), (4, 0.001)])
    FakeTrainer().train(train_op, [sched, rec], steps_per_epoch=1, max_epoch=6)
    # "(2, 0.01)": set after epoch 2 completes, so epoch 3 runs with it
    assert rec.per_epoch == {1: 0.1, 2: 0.1, 3: 0.01, 4: 0.01, 5: 0.001, 6: 0.001}


def test_linear_interpolation():
    train_op, _, _ = tiny_model()
    rec = LrRecorder()
    sched = ScheduledHyperParamSetter("learning_rate", [(0, 1.0), (4, 0.2)], interp="linear")
    FakeTrainer().train(train_op, [sched, rec], steps_per_epoch=1, max_epoch=5)
    assert rec.per_epoch == {1: 1.0, 2: 0.8, 3: 0.6, 4: 0.4, 5: 0.2}
    with pytest.raises(ValueError, match="interp"):
        ScheduledHyperParamSetter("learning_rate", [(0, 1.0)], interp="cubic")


def test_step_based():
    train_op, _, _ = tiny_model(lr=0.5)
    rec = LrRecorder()
    sched = ScheduledHyperParamSetter("learning_rate", [(3, 0.05)], step_based=True)
    FakeTrainer().train(train_op, [sched, rec], steps_per_epoch=2, max_epoch=3)
    assert rec.per_step == {1: 0.5, 2: 0.5, 3: 0.05, 4: 0.05, 5: 0.05, 6: 0.05}


def test_resume_sets_the_value_the_schedule_expects():
    """Starting at epoch 4 (resume): the value due after epoch 2 is applied before training."""
    train_op, _, _ = tiny_model(lr=0.5)
    rec = LrRecorder()
    sched = ScheduledHyperParamSetter("learning_rate", [(2, 0.01), (6, 0.001)])
    with LogCapture() as logs:
        FakeTrainer().train(train_op, [sched, rec], steps_per_epoch=1, max_epoch=4,
                            starting_epoch=4)
    assert rec.per_epoch == {4: 0.01}
    assert any("should be 0.01" in m for m in logs.messages())


def test_unknown_variable_is_a_clear_error():
    train_op, _, _ = tiny_model()
    with pytest.raises(ValueError, match="no_such_var"):
        FakeTrainer().train(train_op, [ScheduledHyperParamSetter("no_such_var", [(1, 0.1)])])


def test_obj_attr_param_with_func_and_stat_monitor():
    train_op, _, _ = tiny_model()

    class Obj:
        value = 1.0
    obj = Obj()

    class PutStat(Callback):
        def _trigger(self):
            self.trainer.monitors.put_scalar("err", 0.5)  # never improves

    rec = LrRecorder()
    FakeTrainer().train(train_op, [
        HyperParamSetterWithFunc(ObjAttrParam(obj, "value"), lambda e, v: v * 2),
        PutStat(),
        StatMonitorParamSetter("learning_rate", "err", lambda v: v / 10, threshold=0, last_k=2),
        rec], steps_per_epoch=1, max_epoch=3)
    assert obj.value == 2.0 ** 4  # before_train + 3 epochs
    # 'err' stayed flat over the last 2 observations (after epoch 2): lr divided by 10
    assert rec.per_epoch == {1: 0.1, 2: 0.1, 3: 0.01}
