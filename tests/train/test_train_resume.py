"""Train -> save -> resume (AutoResumeTrainConfig, with and without stats.json) -> predict."""
import glob
import logging
import os

import numpy as np
import pytest

from tensorpack import (AutoResumeTrainConfig, BatchData, Callback, DataFromList, ModelSaver,
                        OfflinePredictor, PredictConfig, SimpleTrainer, TrainConfig,
                        launch_train_with_config)
from tensorpack.compat import tfv1
from tensorpack.tfutils.sessinit import JustCurrentSession, SaverRestore
from train_testlib import TinyModel, make_points

X = np.random.RandomState(1).randn(5, 4).astype("float32")


class Probe(Callback):
    """Records epochs and the global step seen at before_train; predicts X at the end."""

    def __init__(self):
        self.epochs = []

    def _before_train(self):
        self.start_step = self.trainer.global_step

    def _before_epoch(self):
        self.epochs.append(self.epoch_num)

    def _after_train(self):
        g = tfv1.get_default_graph()
        self.prob = self.trainer.sess.run(g.get_tensor_by_name("prob:0"),
                                          {g.get_tensor_by_name("x:0"): X})


class LogCapture(logging.Handler):
    def __init__(self, level=logging.NOTSET):
        super().__init__(level)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def captured():
    handler = LogCapture()
    log = logging.getLogger("tensorpack")
    log.addHandler(handler)
    yield handler.lines
    log.removeHandler(handler)


def _df():
    return BatchData(DataFromList(make_points(24), shuffle=False), 8)


def _run(config_cls=TrainConfig, monitors=None, **kw):
    probe = Probe()
    kw.setdefault("steps_per_epoch", 3)
    config = config_cls(model=TinyModel(), dataflow=_df(), callbacks=[ModelSaver(), probe],
                        monitors=monitors, **kw)
    launch_train_with_config(config, SimpleTrainer())
    tfv1.reset_default_graph()
    return config, probe


def _resume_lines(lines):
    return [s for s in lines if s.startswith("AutoResumeTrainConfig")]


def test_train_save_resume_with_stats_json_then_predict(logdir, captured):
    _, first = _run(max_epoch=2)
    files = os.listdir(logdir)
    for pattern in ["model-6.index", "model-6.data-*", "checkpoint", "graph-*.meta", "log.log",
                    "stats.json", "events.*"]:
        assert glob.glob(os.path.join(logdir, pattern)), (pattern, files)
    assert first.epochs == [1, 2]

    # predict from the checkpoint: the same outputs as the trained session
    pred = OfflinePredictor(PredictConfig(model=TinyModel(), input_names=["x"],
                                          output_names=["prob"],
                                          session_init=SaverRestore(
                                              os.path.join(logdir, "checkpoint"))))
    np.testing.assert_allclose(pred(X)[0], first.prob, rtol=1e-6)

    # resume: weights and epoch come from the logger dir
    config, second = _run(AutoResumeTrainConfig, max_epoch=4)
    assert config.starting_epoch == 3
    assert isinstance(config.session_init, SaverRestore)
    assert second.epochs == [3, 4] and second.start_step == 6
    assert os.path.exists(os.path.join(logdir, "model-12.index"))
    lines = _resume_lines(captured)
    assert len(lines) == 1
    assert "model-6" in lines[0] and "global_step 6" in lines[0] and "epoch 3" in lines[0]
    assert "stats.json" in lines[0]


def test_resume_without_stats_json_uses_global_step(logdir, captured):
    _run(max_epoch=2, monitors=[])
    assert not os.path.exists(os.path.join(logdir, "stats.json"))
    config, probe = _run(AutoResumeTrainConfig, max_epoch=3, monitors=[])
    assert config.starting_epoch == 3 and probe.epochs == [3] and probe.start_step == 6
    line, = _resume_lines(captured)
    assert "global_step 6 // steps_per_epoch 3" in line


def test_resume_overrides_user_arguments_and_says_so(logdir, captured):
    _run(max_epoch=1, monitors=[])
    config = AutoResumeTrainConfig(model=TinyModel(), dataflow=_df(), steps_per_epoch=3,
                                   session_init=JustCurrentSession(), starting_epoch=1)
    assert isinstance(config.session_init, SaverRestore) and config.starting_epoch == 2
    line, = _resume_lines(captured)
    assert "overriding session_init=JustCurrentSession, starting_epoch=1" in line


def test_always_resume_false_keeps_user_arguments(logdir, captured):
    _run(max_epoch=1, monitors=[])
    mine = JustCurrentSession()
    config = AutoResumeTrainConfig(always_resume=False, model=TinyModel(), dataflow=_df(),
                                   steps_per_epoch=3, session_init=mine, starting_epoch=1)
    assert config.session_init is mine and config.starting_epoch == 1
    line, = _resume_lines(captured)
    assert "always_resume=False" in line and "nothing is resumed" in line
    # without a session_init of your own, the checkpoint fills it in
    config = AutoResumeTrainConfig(always_resume=False, model=TinyModel(), dataflow=_df(),
                                   steps_per_epoch=3, starting_epoch=1)
    assert isinstance(config.session_init, SaverRestore) and config.starting_epoch == 1


def test_nothing_to_resume_starts_fresh(logdir, captured, fresh_graph):
    with open(os.path.join(logdir, "stats.json"), "w") as f:
        f.write('[{"epoch_num": 7, "global_step": 70}]')  # stats without weights
    config = AutoResumeTrainConfig(model=TinyModel(), dataflow=_df(), steps_per_epoch=3)
    assert config.session_init is None and config.starting_epoch == 1
    line, = _resume_lines(captured)
    assert "no checkpoint" in line


def test_global_step_is_read_without_tensorflow(logdir, monkeypatch):
    _run(max_epoch=1, monitors=[])
    import tensorflow as tf

    from tensorpack.train.config import _read_global_step

    def no_tf(*args, **kwargs):
        raise AssertionError("TensorFlow's reader must not be needed")
    monkeypatch.setattr(tf.train, "load_variable", no_tf)
    assert _read_global_step(os.path.join(logdir, "model-3")) == 3


def test_always_resume_false_treats_session_init_none_as_not_given(logdir, captured):
    _run(max_epoch=1, monitors=[])
    config = AutoResumeTrainConfig(always_resume=False, model=TinyModel(), dataflow=_df(),
                                   steps_per_epoch=3, session_init=None)
    assert isinstance(config.session_init, SaverRestore) and config.starting_epoch == 2


@pytest.fixture
def warnings_logged():
    handler = LogCapture(logging.WARNING)
    log = logging.getLogger("tensorpack")
    log.addHandler(handler)
    yield handler.lines
    log.removeHandler(handler)


@pytest.mark.parametrize("named", ["/moved/away/run1/model-6", "model-9"])
def test_resume_falls_back_when_state_names_a_missing_checkpoint(logdir, captured,
                                                                 warnings_logged, named):
    """A moved run directory (absolute paths) or a deleted latest checkpoint: resume from the
    checkpoint SmartInit would pick, say so at WARNING level, and overwrite nothing."""
    _run(max_epoch=2, monitors=[])
    with open(os.path.join(logdir, "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "{0}"\nall_model_checkpoint_paths: "{0}"\n'.format(named))
    before = open(os.path.join(logdir, "model-6.data-00000-of-00001"), "rb").read()
    config, probe = _run(AutoResumeTrainConfig, max_epoch=3, monitors=[])
    assert config.starting_epoch == 3 and probe.start_step == 6
    assert any(named in w and "model-6" in w for w in warnings_logged), warnings_logged
    assert open(os.path.join(logdir, "model-6.data-00000-of-00001"), "rb").read() == before
    assert os.path.exists(os.path.join(logdir, "model-9.index"))


def test_starting_fresh_over_unloadable_checkpoints_is_a_warning(logdir, warnings_logged,
                                                                 fresh_graph):
    with open(os.path.join(logdir, "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "/gone/model-6"\n')
    open(os.path.join(logdir, "model-6.data-00000-of-00001"), "wb").close()  # no index
    config = AutoResumeTrainConfig(model=TinyModel(), dataflow=_df(), steps_per_epoch=3)
    assert config.session_init is None and config.starting_epoch == 1
    assert any("starting fresh" in w and "state file" in w for w in warnings_logged)


def test_resume_skips_a_damaged_latest_checkpoint(logdir, captured, warnings_logged):
    _run(max_epoch=2, monitors=[])
    with open(os.path.join(logdir, "model-6.data-00000-of-00001"), "r+b") as f:
        f.seek(4)
        byte = f.read(1)
        f.seek(4)
        f.write(bytes([byte[0] ^ 0x10]))
    config, probe = _run(AutoResumeTrainConfig, max_epoch=3, monitors=[])
    assert config.starting_epoch == 2 and probe.start_step == 3  # from model-3
    assert any("skipping damaged checkpoint" in w and "model-6" in w and "checksum" in w
               for w in warnings_logged)
    assert any("model-3" in w and "newest intact" in w for w in warnings_logged)
