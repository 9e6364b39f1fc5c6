"""Predictors with one inference tower per device: MultiTowerOfflinePredictor (one
predictor per tower) and DataParallelOfflinePredictor (one call runs every tower).

Towers go to ``/gpu:<id>``, or to ``/cpu:<k>`` when no GPU is visible; the session is then
created with that many CPU devices (when the config uses the default session creator).
"""
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.graph_builder.devices import (as_gpu_list, cpu_device_count, devices_are_cpus,
                                              tower_devices, with_cpu_devices)
from tensorpack.input_source import PlaceholderInput
from tensorpack.predict.base import OnlinePredictor
from tensorpack.tfutils.sesscreate import NewSessionCreator
from tensorpack.tfutils.tower import PredictTowerContext
from tensorpack.utils import logger

__all__ = ["MultiTowerOfflinePredictor", "DataParallelOfflinePredictor"]


def _create_session(config, devices):
    creator = config.session_creator
    n = len(devices)
    if n > 1 and devices_are_cpus(devices) and type(creator) is NewSessionCreator and \
            cpu_device_count(creator.config) < n:
        creator = NewSessionCreator(target=creator.target,
                                    config=with_cpu_devices(n, creator.config))
    config.session_init._setup_graph()
    sess = creator.create_session()
    config.session_init._run_init(sess)
    return sess


def _build_towers(config, towers, input_for):
    """Build one inference tower per GPU id; ``input_for(k)`` gives tower k's inputs."""
    handles = []
    devices = tower_devices(towers)
    for idx, (t, dev) in enumerate(zip(towers, devices)):
        name = "tower{}".format(t)
        with tfv1.variable_scope(tfv1.get_variable_scope(), reuse=idx > 0), tf.device(dev), \
                PredictTowerContext(name):
            logger.info("Building graph for predict tower '{}' on device {} ...".format(
                name, dev))
            config.tower_func(*input_for(idx))
            handles.append(config.tower_func.towers[-1])
    return handles, devices


class MultiTowerOfflinePredictor(OnlinePredictor):
    """One inference tower per device, in one session; :meth:`get_predictors` gives one
    predictor per tower (e.g. one per thread). Calling it directly uses the first tower.
    """

    def __init__(self, config, towers):
        """
        Args:
            config (PredictConfig): the model, its initialization and the names.
            towers (list[int]): GPU ids, one tower each.
        """
        towers = as_gpu_list(towers)
        self.graph = config._maybe_create_graph()
        self.return_input = config.return_input
        with self.graph.as_default():
            inp = PlaceholderInput()
            inp.setup(config.input_signature)
            handles, devices = _build_towers(config, towers,
                                             lambda _: inp.get_input_tensors())
            self.sess = _create_session(config, devices)
            self.predictors = [
                OnlinePredictor(h.get_tensors(config.input_names),
                                h.get_tensors(config.output_names), config.return_input,
                                self.sess) for h in handles]
        first = self.predictors[0]
        super().__init__(first.input_tensors, first.output_tensors, config.return_input,
                         self.sess)

    def get_predictor(self, n):
        """Returns: list[OnlinePredictor]: ``n`` predictors, assigned to towers round-robin."""
        if n > len(self.predictors):
            logger.warn("{} predictors for {} towers: towers are shared round-robin.".format(
                n, len(self.predictors)))
        return [self.predictors[k % len(self.predictors)] for k in range(n)]

    def get_predictors(self):
        """Returns: list[OnlinePredictor]: one predictor per tower."""
        return self.predictors


class DataParallelOfflinePredictor(OnlinePredictor):
    """One predictor running every tower in one call. Inputs and outputs are not split or
    joined: it takes tower 0's inputs, then tower 1's, ... and returns the outputs in the
    same order (``[in0@tower0, in1@tower0, in0@tower1, ...]``). Arguments as for
    :class:`MultiTowerOfflinePredictor`.
    """

    def __init__(self, config, towers):
        self.graph = config._maybe_create_graph()
        towers = as_gpu_list(towers)
        with self.graph.as_default():
            inputs = []
            for t in towers:
                sig = [tf.TensorSpec(shape=s.shape, dtype=s.dtype,
                                     name="tower{}_{}".format(t, s.name))
                       for s in config.input_signature]
                inp = PlaceholderInput()
                inp.setup(sig)
                inputs.append(inp)
            handles, devices = _build_towers(config, towers,
                                             lambda k: inputs[k].get_input_tensors())
            input_tensors, output_tensors = [], []
            for h in handles:
                input_tensors.extend(h.get_tensors(config.input_names))
                output_tensors.extend(h.get_tensors(config.output_names))
            sess = _create_session(config, devices)
            super().__init__(input_tensors, output_tensors, config.return_input, sess)
