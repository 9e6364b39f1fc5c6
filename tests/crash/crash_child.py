"""A training run that saves every epoch (two steps) and keeps its best model: the process
that the crash tests and ``bench/stress_crash.py`` kill with SIGKILL at random moments.

Usage: ``python crash_child.py LOGDIR [sync|async]``. It resumes from LOGDIR (as a restarted
job would) and prints ``started STEP`` once its callbacks are set up, then trains until killed.
"""
import itertools
import os
import sys

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tensorpack import (AutoResumeTrainConfig, Callback, DataFromGenerator,  # noqa: E402
                        MinSaver, ModelDesc, ModelSaver, SimpleTrainer, launch_train_with_config,
                        logger)
from tensorpack.compat import tfv1  # noqa: E402


class Model(ModelDesc):
    def inputs(self):
        return [tf.TensorSpec((None, 4), tf.float32, "x")]

    def build_graph(self, x):
        big = tfv1.get_variable("big", [1024, 1024], initializer=tfv1.ones_initializer())
        small = tfv1.get_variable("small", [4], initializer=tfv1.ones_initializer())
        return tf.reduce_sum(big * big) * 1e-9 + tf.reduce_mean(x * small)

    def optimizer(self):
        return tfv1.train.GradientDescentOptimizer(0.01)


class Started(Callback):
    """Says when every callback before it has set up (and cleaned up) for training."""

    def _before_train(self):
        print("started", self.global_step, flush=True)


class Val(Callback):
    """Puts a validation value that improves on every other epoch."""

    def _trigger(self):
        self.trainer.monitors.put_scalar("val", 1.0 / (1 + self.epoch_num // 2))


def main():
    logdir, mode = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "sync"
    logger.set_logger_dir(logdir, action="k")
    saver_kw = {"background": True} if mode == "async" else {}
    data = DataFromGenerator(lambda: itertools.repeat([np.ones((2, 4), np.float32)]))
    config = AutoResumeTrainConfig(
        model=Model(), dataflow=data, steps_per_epoch=2, max_epoch=10 ** 6,
        callbacks=[ModelSaver(max_to_keep=3, **saver_kw), Val(), MinSaver("val", **saver_kw),
                   Started()],
        monitors=[])
    launch_train_with_config(config, SimpleTrainer())


if __name__ == "__main__":
    main()
