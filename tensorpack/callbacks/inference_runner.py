"""``InferenceRunner``: evaluate inferencers on a validation set at every trigger.

It builds an inference tower of the trainer's model (``trainer.tower_func`` under a
``training=False`` tower context, sharing the training variables), and at each trigger runs
it over the whole input, passing the fetched values to each :class:`Inferencer`; their
results go to ``trainer.monitors`` (hence to stats.json, the log, and e.g. ``MinSaver``).
"""
import sys

import tqdm

from tensorpack.compat import tfv1
from tensorpack.utils import logger
from tensorpack.utils.utils import get_tqdm_kwargs

from .base import Callback
from .group import Callbacks
from .inference import Inferencer

__all__ = ["InferenceRunnerBase", "InferenceRunner", "DataParallelInferenceRunner"]


class _RunWithHooks:
    """Run a session with hooks (``before_run``/``after_run``), like TF's hooked session."""

    def __init__(self, sess, hooks):
        self._sess = sess
        self._hooks = hooks

    def run(self):
        fetches, feeds = [], {}
        for h in self._hooks:
            args = h.before_run(None)
            fetches.append(None if args is None else args.fetches)
            if args is not None and args.feed_dict:
                feeds.update(args.feed_dict)
        to_run = [f if f is not None else [] for f in fetches]
        results = self._sess.run(to_run, feed_dict=feeds)
        for h, f, r in zip(self._hooks, fetches, results):
            if f is not None:
                h.after_run(None, tfv1.train.SessionRunValues(results=r, options=None,
                                                              run_metadata=None))


class _InferencerToHook:
    def __init__(self, inf, fetches):
        self._inf = inf
        self._args = tfv1.train.SessionRunArgs(fetches=fetches)

    def before_run(self, _):
        return self._args

    def after_run(self, _, run_values):
        self._inf.on_fetches(run_values.results)


class InferenceRunnerBase(Callback):
    """Common part of inference runners: inferencers, input size, hooks."""

    def __init__(self, input, infs):
        """
        Args:
            input (InputSource): the input; its ``size()`` decides the number of iterations.
            infs (list[Inferencer]): the inferencers.

        Raises:
            TypeError: if an element of ``infs`` is not an Inferencer.
        """
        self._input_source = input
        self.infs = infs if isinstance(infs, list) else [infs]
        for v in self.infs:
            if not isinstance(v, Inferencer):
                raise TypeError("InferenceRunner takes Inferencer instances (ScalarStats, "
                                "ClassificationError ...), got {!r}.".format(v))
        try:
            self._size = input.size()
        except NotImplementedError:
            self._size = 0
        self._hooks = []

    def register_hook(self, hook):
        """Add a hook (``before_run``/``after_run``) to every inference run."""
        self._hooks.append(hook)

    def _before_train(self):
        self._runner = _RunWithHooks(self.trainer.sess, self._hooks)
        self._input_callbacks.before_train()
        if self._size > 0:
            logger.info("[InferenceRunner] Will eval {} iterations".format(self._size))
        else:
            logger.warn("[InferenceRunner] Got an InputSource with unknown size! Will iterate "
                        "until OutOfRangeError!")

    def _after_train(self):
        self._input_callbacks.after_train()


class InferenceRunner(InferenceRunnerBase):
    """Run :class:`Inferencer` s over an input at every trigger (every epoch by default)."""

    def __init__(self, input, infs, tower_name="InferenceTower", tower_func=None, device=0):
        """
        Args:
            input (InputSource or DataFlow): the data; a DataFlow is fed through placeholders
                (``FeedInput(input, infinite=False)``).
            infs (list[Inferencer]): the inferencers.
            tower_name (str): name scope of the inference tower; distinct per runner.
            tower_func (TowerFunc): the model to run; ``trainer.tower_func`` by default.
            device (int): GPU index, -1 for the CPU. Without a visible GPU the tower is
                built on ``/cpu:0`` whatever the index.

        Raises:
            TypeError: for an input that is neither a DataFlow nor an InputSource.
        """
        from tensorpack.dataflow.base import DataFlow
        from tensorpack.input_source import FeedInput, InputSource
        if isinstance(input, DataFlow):
            input = FeedInput(input, infinite=False)
        if not isinstance(input, InputSource):
            raise TypeError("InferenceRunner takes a DataFlow or an InputSource, got "
                            "{!r}.".format(input))
        self._tower_name = tower_name
        self._device_id = device
        self._device = None  # chosen in _setup_graph, once TensorFlow has been configured
        self._tower_func = tower_func
        super().__init__(input, infs)

    def _setup_graph(self):
        from tensorpack.graph_builder.devices import single_device
        from tensorpack.tfutils.tower import PredictTowerContext
        self._device = single_device(self._device_id)
        if self._tower_func is None:
            self._tower_func = getattr(self.trainer, "tower_func", None)
            if self._tower_func is None:
                raise ValueError("InferenceRunner needs the model's tower function: use a "
                                 "trainer with tower_func (e.g. SimpleTrainer with a ModelDesc) "
                                 "or pass tower_func=.")
        input_callbacks = self._input_source.setup(self._tower_func.input_signature)
        vs_name = self.trainer._vs_name_for_predictor(self._device_id) \
            if hasattr(self.trainer, "_vs_name_for_predictor") else ""
        logger.info("[InferenceRunner] Building tower '{}' on device {} {}...".format(
            self._tower_name, self._device,
            "with variable scope '{}'".format(vs_name) if vs_name else ""))
        with tfv1.variable_scope(tfv1.get_variable_scope(), reuse=True), \
                tfv1.device(self._device), \
                PredictTowerContext(self._tower_name, vs_name=vs_name):
            self._tower_func(*self._input_source.get_input_tensors())
            self._tower_handle = self._tower_func.towers[-1]

        for inf in self.infs:
            fetches = self._tower_handle.get_tensors(inf.get_fetches())
            self.register_hook(_InferencerToHook(inf, fetches))
        # only before_train / after_train / run hooks of the input's callbacks are used
        self._input_callbacks = Callbacks(input_callbacks)
        for h in self._input_callbacks.get_hooks():
            self.register_hook(h)
        for inf in self.infs:
            inf.setup_graph(self.trainer)
        self._input_callbacks.setup_graph(self.trainer)

    def _trigger(self):
        for inf in self.infs:
            inf.before_epoch()
        self._input_source.reset_state()
        total = self._size if self._size > 0 else sys.maxsize
        with tqdm.tqdm(total=self._size, **get_tqdm_kwargs()) as bar:
            try:
                for _ in range(total):
                    self._runner.run()
                    bar.update()
            except (StopIteration, tfv1.errors.CancelledError):
                if self._size > 0:
                    logger.error("[InferenceRunner] input stopped before reaching its size {}! "
                                 "Check the input's __len__().".format(self._size))
                    raise
            except tfv1.errors.OutOfRangeError:  # a tf.data input reached its end
                pass
        for inf in self.infs:
            inf.trigger_epoch()


class _SplitFetchesHook(_InferencerToHook):
    """Gives an inferencer the fetches of each tower in turn (one datapoint per tower)."""

    def __init__(self, inf, fetches, per_tower):
        super().__init__(inf, fetches)
        self._per_tower = per_tower

    def after_run(self, _, run_values):
        res = run_values.results
        for i in range(0, len(res), self._per_tower):
            self._inf.on_fetches(res[i:i + self._per_tower])


class DataParallelInferenceRunner(InferenceRunnerBase):
    """Like :class:`InferenceRunner`, with one inference tower per device: each run takes
    one datapoint per tower from the queue, so ``len(gpus)`` datapoints are evaluated in
    parallel; the remainder (size not a multiple of the towers) runs on the first tower.
    """

    def __init__(self, input, infs, gpus, tower_name="InferenceTower", tower_func=None):
        """
        Args:
            input (DataFlow or QueueInput): the data (a DataFlow gets a QueueInput); it must
                have a size.
            infs (list[Inferencer]): the inferencers.
            gpus (int or list[int]): the number of devices, or GPU ids.
            tower_name (str): prefix of the towers' names (``<tower_name><k>``).
            tower_func (TowerFunc): the model to run; ``trainer.tower_func`` by default.

        Raises:
            TypeError: for an input that is neither a DataFlow nor a QueueInput.
            ValueError: for an input without a size or an empty ``gpus``.
        """
        from tensorpack.dataflow.base import DataFlow
        from tensorpack.input_source import QueueInput
        gpus = list(range(gpus)) if isinstance(gpus, int) else list(gpus)
        if not gpus:
            raise ValueError("DataParallelInferenceRunner needs at least one device.")
        if isinstance(input, DataFlow):
            input = QueueInput(input)
        if not isinstance(input, QueueInput):
            raise TypeError("DataParallelInferenceRunner takes a DataFlow or a QueueInput, got "
                            "{!r}.".format(input))
        super().__init__(input, infs)
        if self._size <= 0:
            raise ValueError("DataParallelInferenceRunner needs an input with a known size.")
        # the data-parallel trainers' rule (their sessions have that many CPU devices)
        from tensorpack.graph_builder.devices import tower_devices
        self._devices = tower_devices(gpus)
        self._tower_names = ["{}{}".format(tower_name, k) for k in range(len(gpus))]
        self._tower_func = tower_func
        self._hooks_parallel = []

    def register_hook(self, hook):
        """Add a hook to both the parallel and the one-tower runs."""
        self._hooks.append(hook)
        self._hooks_parallel.append(hook)

    def _setup_graph(self):
        from tensorpack.tfutils.tower import PredictTowerContext
        if self._tower_func is None:
            self._tower_func = getattr(self.trainer, "tower_func", None)
            if self._tower_func is None:
                raise ValueError("DataParallelInferenceRunner needs the model's tower function: "
                                 "use a trainer with tower_func or pass tower_func=.")
        input_callbacks = self._input_source.setup(self._tower_func.input_signature)
        handles = []
        with tfv1.variable_scope(tfv1.get_variable_scope(), reuse=True):
            for idx, dev in enumerate(self._devices):
                vs_name = self.trainer._vs_name_for_predictor(idx) \
                    if hasattr(self.trainer, "_vs_name_for_predictor") else ""
                logger.info("[InferenceRunner] Building tower '{}' on device {} {}...".format(
                    self._tower_names[idx], dev,
                    "with variable scope '{}'".format(vs_name) if vs_name else ""))
                with tfv1.device(dev), PredictTowerContext(self._tower_names[idx],
                                                           vs_name=vs_name):
                    self._tower_func(*self._input_source.get_input_tensors())
                    handles.append(self._tower_func.towers[-1])
        self._input_callbacks = Callbacks(input_callbacks)
        input_hooks = self._input_callbacks.get_hooks()
        for inf in self.infs:
            names = inf.get_fetches()
            self._hooks.append(_InferencerToHook(inf, handles[0].get_tensors(names)))
            fetches = [t for h in handles for t in h.get_tensors(names)]
            self._hooks_parallel.append(_SplitFetchesHook(inf, fetches, len(names)))
        self._hooks.extend(input_hooks)
        self._hooks_parallel.extend(input_hooks)
        for inf in self.infs:
            inf.setup_graph(self.trainer)
        self._input_callbacks.setup_graph(self.trainer)

    def _before_train(self):
        super()._before_train()
        self._parallel_runner = _RunWithHooks(self.trainer.sess, self._hooks_parallel)

    def _trigger(self):
        for inf in self.infs:
            inf.before_epoch()
        self._input_source.reset_state()
        towers, left = len(self._devices), self._size
        with tqdm.tqdm(total=self._size, **get_tqdm_kwargs()) as bar:
            while left >= towers:
                self._parallel_runner.run()
                bar.update(towers)
                left -= towers
            for _ in range(left):
                self._runner.run()
                bar.update(1)
        for inf in self.infs:
            inf.trigger_epoch()
