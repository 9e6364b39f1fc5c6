"""Trainers built from a tower function: TowerTrainer and SingleCostTrainer."""
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.tfutils.tower import PredictTowerContext, TowerFunc, get_current_tower_context
from tensorpack.train.base import Trainer, call_only_once
from tensorpack.utils import logger

__all__ = ["TowerTrainer", "SingleCostTrainer"]


class TowerTrainer(Trainer):
    """A trainer whose model is a :class:`TowerFunc`, so it can build more towers of the same
    model (for inference: :meth:`get_predictor`, InferenceRunner).
    """

    _tower_func = None

    def __init__(self):
        super().__init__()
        self._predictors = []

    @property
    def tower_func(self):
        """TowerFunc: the model-building function (settable once)."""
        return self._tower_func

    @tower_func.setter
    def tower_func(self, func):
        if not isinstance(func, TowerFunc):
            raise TypeError("tower_func must be a TowerFunc, got {!r}.".format(func))
        if self._tower_func is not None:
            raise RuntimeError("tower_func of {} is already set.".format(type(self).__name__))
        self._tower_func = func

    @property
    def input_signature(self):
        """list[tf.TensorSpec]: the inputs of the tower function."""
        return self.tower_func.input_signature

    @property
    def towers(self):
        """TowerTensorHandles: the towers built so far (``trainer.towers.training()[0]``)."""
        return self.tower_func.towers

    def _vs_name_for_predictor(self, device):
        towers = self.towers.training()
        if not len(towers):
            return ""
        return towers[device].vs_name if 0 <= device < len(towers) else towers[0].vs_name

    def get_predictor(self, input_names, output_names, device=0):
        """Build (once per device) an inference tower sharing the training variables.

        Args:
            input_names (list[str]): input names of the tower function.
            output_names (list[str]): tensor names inside the tower (no tower prefix).
            device (int): GPU index, or -1 for the CPU. Without a visible GPU the tower is
                built on ``/cpu:0`` whatever the index.

        Returns:
            OnlinePredictor: usable once the session exists.
        """
        from tensorpack.graph_builder.devices import single_device
        from tensorpack.input_source import PlaceholderInput
        from tensorpack.predict.base import OnlinePredictor
        if self.tower_func is None:
            raise RuntimeError("get_predictor() needs the trainer's tower_func to be set.")
        tower_name = "tower-pred-{}".format(device) if device >= 0 else "tower-pred-cpu"
        try:
            tower = self.tower_func.towers[tower_name]
        except KeyError:
            inp = PlaceholderInput()
            inp.setup(self.input_signature)
            vs_name = self._vs_name_for_predictor(device)
            dev = single_device(device)
            with tfv1.variable_scope(tfv1.get_variable_scope(), reuse=True), tf.device(dev), \
                    PredictTowerContext(tower_name, vs_name=vs_name):
                logger.info("Building graph for predict tower '{}' on device {} ...".format(
                    tower_name, dev))
                self.tower_func(*inp.get_input_tensors())
            tower = self.tower_func.towers[tower_name]
        pred = OnlinePredictor(tower.get_tensors(input_names), tower.get_tensors(output_names))
        self._predictors.append(pred)
        return pred

    def initialize(self, session_creator, session_init):
        super().initialize(session_creator, session_init)
        # predictors built before the session existed get it now
        for pred in self._predictors:
            pred.sess = self.sess


class SingleCostTrainer(TowerTrainer):
    """A trainer minimizing one cost with one optimizer.

    Use: ``trainer.setup_graph(input_signature, input, get_cost_fn, get_opt_fn)`` then
    ``trainer.train(...)`` (or let :func:`launch_train_with_config` do both).
    """

    COLOCATE_GRADIENTS_WITH_OPS = True
    GATE_GRADIENTS = False
    AGGREGATION_METHOD = tf.AggregationMethod.DEFAULT

    @call_only_once
    def setup_graph(self, input_signature, input, get_cost_fn, get_opt_fn):
        """Build the training graph.

        Args:
            input_signature (list[tf.TensorSpec]): the inputs.
            input (InputSource): where the inputs come from (not set up yet).
            get_cost_fn (callable): input tensors -> scalar cost; becomes the tower function.
            get_opt_fn (callable): () -> optimizer; called once.
        """
        get_cost_fn = TowerFunc(get_cost_fn, input_signature)
        opt_cache = []

        def get_opt_once():
            if not opt_cache:
                opt_cache.append(get_opt_fn())
            return opt_cache[0]

        self.tower_func = get_cost_fn
        if input.setup_done():
            raise RuntimeError("The InputSource {} was already set up; give the trainer a new "
                               "one.".format(type(input).__name__))
        input_callbacks = input.setup(input_signature)
        train_callbacks = self._setup_graph(input, get_cost_fn, get_opt_once)
        self.register_callback(input_callbacks + train_callbacks)

    def _setup_graph(self, input, get_cost_fn, get_opt_fn):
        """Build the graph from a set-up input; return the extra callbacks needed."""
        raise NotImplementedError()

    def _make_get_grad_fn(self, input, get_cost_fn, get_opt_fn):
        """A function that, called under a TowerContext, builds one tower and returns its
        (gradient, variable) pairs (None under an inference context).
        """
        def get_grad_fn():
            ctx = get_current_tower_context()
            cost = get_cost_fn(*input.get_input_tensors())
            if not isinstance(cost, tf.Tensor):
                raise TypeError("build_graph() must return the cost tensor when training, got "
                                "{!r}.".format(cost))
            if cost.shape.ndims != 0:
                raise ValueError("The cost must be a scalar, got {} of shape {}.".format(
                    cost.name, cost.shape))
            if not ctx.is_training:
                return None
            if ctx.has_own_variables:
                varlist = ctx.get_collection_in_tower(tfv1.GraphKeys.TRAINABLE_VARIABLES)
            else:
                varlist = tfv1.trainable_variables()
            opt = get_opt_fn()
            grads = opt.compute_gradients(
                cost, var_list=varlist, gate_gradients=self.GATE_GRADIENTS,
                colocate_gradients_with_ops=self.COLOCATE_GRADIENTS_WITH_OPS,
                aggregation_method=self.AGGREGATION_METHOD)
            kept = [(g, v) for g, v in grads if g is not None]
            missing = [v.op.name for g, v in grads if g is None]
            if missing:
                logger.warn("No gradient w.r.t. {} trainable variable(s): {}".format(
                    len(missing), ", ".join(missing)))
            if not kept:
                raise ValueError("The cost {} depends on no trainable variable.".format(cost.name))
            return kept
        return get_grad_fn
