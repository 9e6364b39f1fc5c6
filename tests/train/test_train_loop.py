"""The training loop: callback order, counters, hooks, stopping, errors, inputs, config checks."""
import threading

import numpy as np
import pytest
import tensorflow as tf

from tensorpack import (BatchData, Callback, DataFromGenerator, DataFromList, FeedInput,
                        QueueInput, SimpleTrainer, StopTraining, TrainConfig,
                        launch_train_with_config)
from tensorpack.compat import tfv1
from train_testlib import TinyModel, make_points


class Recorder(Callback):
    """Records every callback call with the trainer's counters."""

    def __init__(self):
        self.calls = []

    def _rec(self, name):
        self.calls.append((name, self.trainer.epoch_num, self.trainer.local_step,
                           self.trainer.global_step))

    def _setup_graph(self):
        self._rec("setup_graph")

    def _before_train(self):
        self._rec("before_train")

    def _before_epoch(self):
        self._rec("before_epoch")

    def _after_epoch(self):
        self._rec("after_epoch")

    def _before_run(self, ctx):
        self._rec("before_run")

    def _after_run(self, ctx, values):
        self._rec("after_run")

    def _trigger_step(self):
        self._rec("trigger_step")

    def _trigger(self):
        self._rec("trigger")

    def _after_train(self):
        self._rec("after_train")


def _df(n=24, batch=8):
    return BatchData(DataFromList(make_points(n), shuffle=False), batch)


def _train(callbacks, steps=3, epochs=2, data=None, trainer=None, **kw):
    config = TrainConfig(model=TinyModel(summary=False), data=data,
                         dataflow=None if data is not None else _df(),
                         callbacks=callbacks, monitors=[], extra_callbacks=[],
                         steps_per_epoch=steps, max_epoch=epochs, **kw)
    trainer = trainer or SimpleTrainer()
    launch_train_with_config(config, trainer)
    return trainer


def test_callback_order_and_counters(fresh_graph):
    rec = Recorder()
    trainer = _train([rec], steps=2, epochs=2)
    names = [c[0] for c in rec.calls]
    step = ["before_run", "after_run", "trigger_step"]
    epoch = ["before_epoch"] + step * 2 + ["after_epoch", "trigger"]
    assert names == ["setup_graph", "before_train"] + epoch * 2 + ["after_train"]
    # counters as callbacks see them
    triggers = [c for c in rec.calls if c[0] == "trigger"]
    assert [(c[1], c[3]) for c in triggers] == [(1, 2), (2, 4)]
    steps = [c for c in rec.calls if c[0] == "trigger_step"]
    assert [(c[1], c[2], c[3]) for c in steps] == [(1, 0, 1), (1, 1, 2), (2, 0, 3), (2, 1, 4)]
    assert trainer.global_step == 4 and trainer.epoch_num == 2
    assert trainer.steps_per_epoch == 2 and trainer.max_epoch == 2


def test_starting_epoch_is_honoured(fresh_graph):
    rec = Recorder()
    _train([rec], steps=1, epochs=4, starting_epoch=3)
    assert [c[1] for c in rec.calls if c[0] == "before_epoch"] == [3, 4]


class FetchCost(Callback):
    """Asks for the cost by name in every step; records the values."""

    def __init__(self):
        self.values = []

    def _before_run(self, ctx):
        return ["cost:0"]

    def _after_run(self, ctx, values):
        self.values.append(values.results[0])


def test_before_run_fetches_reach_after_run_and_training_learns(fresh_graph):
    cb = FetchCost()
    _train([cb], steps=3, epochs=5)
    assert len(cb.values) == 15
    assert all(np.isscalar(v) or np.ndim(v) == 0 for v in cb.values)
    assert cb.values[-1] < cb.values[0]  # gradient descent on a separable problem


class StopAt(Callback):
    def __init__(self, step, how):
        self.step, self.how, self.after_train_called = step, how, False

    def _before_run(self, ctx):
        if self.how == "request" and self.trainer.global_step == self.step:
            ctx.request_stop()

    def _trigger_step(self):
        if self.trainer.global_step == self.step:
            if self.how == "StopTraining":
                raise StopTraining("enough")
            if self.how == "error":
                raise ValueError("boom")

    def _after_train(self):
        self.after_train_called = True


@pytest.mark.parametrize("how", ["request", "StopTraining"])
def test_stopping_early_ends_cleanly(fresh_graph, how):
    cb = StopAt(2, how)
    trainer = _train([cb], steps=5, epochs=3)
    assert cb.after_train_called
    # a stop request takes effect before the next step; StopTraining right away
    assert trainer.global_step == 3 if how == "request" else trainer.global_step == 2


def test_failure_propagates_after_running_after_train(fresh_graph):
    cb = StopAt(2, "error")
    with pytest.raises(ValueError, match="boom"):
        _train([cb], steps=5, epochs=1)
    assert cb.after_train_called


class AfterRunOnly(Callback):
    def __init__(self):
        self.n = 0

    def _after_run(self, ctx, values):
        assert values.results is None
        self.n += 1


def test_callback_with_only_after_run_is_still_hooked(fresh_graph):
    cb = AfterRunOnly()
    _train([cb], steps=2, epochs=2)
    assert cb.n == 4


def test_register_callback_after_setup_is_an_error(fresh_graph):
    trainer = _train([], steps=1, epochs=1)
    with pytest.raises(RuntimeError, match="after the trainer set up"):
        trainer.register_callback(Recorder())
    with pytest.raises(TypeError, match="Callback"):
        SimpleTrainer().register_callback(object())


def test_old_trainer_api_is_a_clear_type_error(fresh_graph):
    config = TrainConfig(model=TinyModel(), dataflow=_df())
    with pytest.raises(TypeError, match="launch_train_with_config"):
        SimpleTrainer(config)


def _var(name):
    """A graph variable by name (resource variables' ``:0`` tensors are handles, not values)."""
    return {v.op.name: v for v in tfv1.global_variables()}[name]


class Snapshot(Callback):
    """Keeps the fc weights at the end of training (the session closes afterwards)."""

    def _after_train(self):
        self.w = self.trainer.sess.run(_var("fc/W"))


def test_feedinput_with_dict_datapoints(fresh_graph):
    pts = [{"x": x, "y": y} for x, y in make_points(16)]
    df = BatchData(DataFromList(pts, shuffle=False), 4)
    snap = Snapshot()
    trainer = _train([snap], steps=4, epochs=1, data=FeedInput(df))
    assert trainer.global_step == 4 and snap.w.shape == (4, 3)


def _enqueue_threads():
    return [t for t in threading.enumerate() if t.name.startswith("EnqueueThread")]


def test_queueinput_trains_and_its_thread_exits(fresh_graph):
    before = len(_enqueue_threads())
    rec = Recorder()
    trainer = _train([rec], steps=4, epochs=2, data=QueueInput(_df()))
    assert trainer.global_step == 8
    assert len(_enqueue_threads()) == before
    assert rec.calls[-1][0] == "after_train"


def test_queueinput_dataflow_error_stops_training_and_thread(fresh_graph):
    def gen():
        for dp in make_points(8):
            yield [dp[0][None], dp[1][None]]
        raise IOError("disk gone")
    before = len(_enqueue_threads())
    trainer = _train([], steps=50, epochs=1, data=QueueInput(DataFromGenerator(gen)))
    assert trainer.global_step == 8  # the queue closed after the 8 good datapoints
    assert len(_enqueue_threads()) == before


def test_get_predictor_shares_the_training_variables(fresh_graph):
    class Check(Callback):
        def _setup_graph(self):
            self.pred = self.trainer.get_predictor(["x"], ["prob"])

        def _after_train(self):
            x = np.ones((2, 4), "float32")
            self.out = self.pred(x)[0]
            g = tfv1.get_default_graph()
            w, b = self.trainer.sess.run([_var("fc/W"), _var("fc/b")])
            logits = x @ w + b
            e = np.exp(logits - logits.max(1, keepdims=True))
            self.expected = e / e.sum(1, keepdims=True)
            self.ops = [op.name for op in g.get_operations()]
    cb = Check()
    _train([cb], steps=2, epochs=1)
    np.testing.assert_allclose(cb.out, cb.expected, rtol=1e-5)
    assert "tower-pred-0/prob" in cb.ops


# ---------------------------------------------------------------- TrainConfig validation
def test_trainconfig_steps_per_epoch_defaults_to_dataflow_length(fresh_graph):
    assert TrainConfig(model=TinyModel(), dataflow=_df(24, 8)).steps_per_epoch == 3
    assert TrainConfig(model=TinyModel(), data=FeedInput(_df(32, 8))).steps_per_epoch == 4


@pytest.mark.parametrize("kwargs, match", [
    (dict(dataflow="df", data=None), "dataflow"),
    (dict(model="not a model"), "model"),
    (dict(callbacks="ModelSaver()"), "callbacks"),
    (dict(monitors=3), "monitors"),
    (dict(session_init="ckpt"), "session_init"),
    (dict(session_creator=object(), session_config=object()), "not both"),
    (dict(max_epoch=-1), "negative"),
    (dict(steps_per_epoch="many"), "integer"),
])
def test_trainconfig_rejects_bad_arguments_with_value_error(fresh_graph, kwargs, match):
    base = dict(model=TinyModel(), dataflow=_df(), steps_per_epoch=1)
    base.update(kwargs)
    with pytest.raises(ValueError, match=match):
        TrainConfig(**base)


def test_trainconfig_needs_steps_when_length_unknown(fresh_graph):
    df = DataFromGenerator(lambda: iter([]))
    with pytest.raises(ValueError, match="steps_per_epoch"):
        TrainConfig(model=TinyModel(), dataflow=df)
    with pytest.raises(ValueError, match="both"):
        TrainConfig(model=TinyModel(), dataflow=_df(), data=FeedInput(_df()))


def test_launch_checks_trainer_and_model(fresh_graph):
    with pytest.raises(TypeError, match="TrainConfig"):
        launch_train_with_config({"model": None}, SimpleTrainer())
    with pytest.raises(ValueError, match="model"):
        launch_train_with_config(TrainConfig(dataflow=_df()), SimpleTrainer())


def test_model_inputs_must_be_named_specs(fresh_graph):
    class Bad(TinyModel):
        def inputs(self):
            return [tf.TensorSpec((None, 4), tf.float32)]
    with pytest.raises(ValueError, match="name"):
        Bad().get_input_signature()


def test_queueinput_thread_exits_when_training_fails(fresh_graph):
    before = len(_enqueue_threads())
    with pytest.raises(ValueError, match="boom"):
        _train([StopAt(3, "error")], steps=10, epochs=1, data=QueueInput(_df()))
    assert len(_enqueue_threads()) == before


def test_queueinput_reports_its_queue_size(logdir):
    import json
    import os
    config = TrainConfig(model=TinyModel(), data=QueueInput(_df()), callbacks=[],
                         steps_per_epoch=3, max_epoch=1)
    launch_train_with_config(config, SimpleTrainer())
    with open(os.path.join(logdir, "stats.json")) as f:
        stats = json.load(f)
    assert "QueueInput/queue_size" in stats[-1]
    assert 0 <= stats[-1]["QueueInput/queue_size"] <= 50


@pytest.mark.parametrize("make", ["replicated", "ps", "sync", "async"])
def test_one_device_data_parallel_trainers_train_like_upstream(fresh_graph, make):
    from tensorpack import (AsyncMultiGPUTrainer, SyncMultiGPUTrainer,
                            SyncMultiGPUTrainerParameterServer, SyncMultiGPUTrainerReplicated)
    trainer = {"replicated": lambda: SyncMultiGPUTrainerReplicated(1),
               "ps": lambda: SyncMultiGPUTrainerParameterServer([0], ps_device="cpu"),
               "sync": lambda: SyncMultiGPUTrainer(1),
               "async": lambda: AsyncMultiGPUTrainer(1)}[make]()
    rec = Recorder()
    config = TrainConfig(model=TinyModel(summary=False), dataflow=_df(), callbacks=[rec],
                         monitors=[], extra_callbacks=[], steps_per_epoch=2, max_epoch=1)
    launch_train_with_config(config, trainer)  # a DataFlow gets a QueueInput, as upstream
    assert trainer.global_step == 2
    names = {op.name for op in tfv1.get_default_graph().get_operations()}
    assert "tower0/cost" in names and "fc/W" in names  # upstream's one-GPU naming
    assert trainer.towers.training()[0].get_tensor("cost").name == "tower0/cost:0"


def test_data_parallel_trainer_bad_gpu_count_is_a_clear_error():
    from tensorpack import SyncMultiGPUTrainerReplicated
    with pytest.raises(ValueError, match="empty"):
        SyncMultiGPUTrainerReplicated([])
    with pytest.raises(ValueError, match="positive"):
        SyncMultiGPUTrainerReplicated(0)
