"""Upstream-style optimizers in a real training run: gradient processors (with their
summaries) and gradient accumulation, as upstream's examples write them in
``ModelDesc.optimizer``."""
import numpy as np
import pytest

from tensorpack import (BatchData, DataFromList, ModelSaver, SimpleTrainer, TrainConfig,
                        launch_train_with_config)
from tensorpack.compat import tfv1
from tensorpack.tfutils import gradproc, optimizer
from train_testlib import TinyModel, make_points


class ProcModel(TinyModel):
    def __init__(self, accumulate_outside):
        super().__init__()
        self.accumulate_outside = accumulate_outside

    def optimizer(self):
        lr = tfv1.get_variable("learning_rate", initializer=0.1, trainable=False)
        opt = tfv1.train.MomentumOptimizer(lr, 0.9)
        procs = [gradproc.ScaleGradient(("fc/b", 0.0), verbose=False),
                 gradproc.GlobalNormClip(1.0), gradproc.SummaryGradient()]
        if self.accumulate_outside:   # processors see each step's gradients
            return optimizer.apply_grad_processors(optimizer.AccumGradOptimizer(opt, 2), procs)
        # processors see the accumulated gradients, inside AccumGrad's tf.cond
        return optimizer.AccumGradOptimizer(optimizer.apply_grad_processors(opt, procs), 2)


@pytest.fixture(autouse=True)
def _fresh_summary_registry():
    gradproc.SummaryGradient._summaried_gradient.clear()
    yield
    gradproc.SummaryGradient._summaried_gradient.clear()


@pytest.mark.parametrize("outside", [True, False])
def test_grad_processors_and_accumulation_in_training(logdir, outside):
    df = BatchData(DataFromList(make_points(24), shuffle=False), 8)
    config = TrainConfig(model=ProcModel(outside), dataflow=df, callbacks=[ModelSaver()],
                         steps_per_epoch=3, max_epoch=2)
    trainer = SimpleTrainer()
    launch_train_with_config(config, trainer)
    assert trainer.global_step == 6
    tfv1.reset_default_graph()
    reader = tfv1.train.load_checkpoint(logdir)
    assert np.all(reader.get_tensor("fc/b") == 0)        # its gradient was scaled by 0
    assert np.any(reader.get_tensor("fc/W") != 0)        # the rest trained
    assert reader.get_tensor("AccumGrad/counter") == 6   # accumulation state is saved
    names = reader.get_variable_to_shape_map()
    assert "fc/W/AccumGrad" in names
    hist = trainer.monitors.get_history("SummaryGradient/fc/W/rms")  # its moving summary
    if outside:
        assert hist and hist[-1][1] > 0
    else:  # inside the cond it cannot be summarized: skipped with a warning, no crash
        assert not hist
