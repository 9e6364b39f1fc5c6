"""FeedfreePredictor: run a model on inputs that come from an InputSource, not from feeds."""
from tensorpack.callbacks.group import Callbacks
from tensorpack.tfutils.tower import PredictTowerContext
from tensorpack.train.hooked_session import HookedSession

from .base import PredictorBase

__all__ = ["FeedfreePredictor"]


class FeedfreePredictor(PredictorBase):
    """A predictor whose inputs come from a feed-free :class:`InputSource` (e.g.
    ``QueueInput``, ``TFDatasetInput``): call it as ``pred()``; it returns the values of
    ``config.output_names`` for the next input.
    """

    def __init__(self, config, input_source):
        """
        Args:
            config (PredictConfig): the model, its initialization and ``output_names``.
            input_source (InputSource): provides the model's inputs; must match
                ``config.input_signature``.

        Raises:
            ValueError: if ``config.return_input`` is set (fetch the inputs by adding their
                names to ``output_names`` instead).
        """
        if config.return_input:
            raise ValueError("FeedfreePredictor does not support return_input=True; add the "
                             "input names to output_names to fetch them.")
        self._config = config
        self._input_source = input_source
        self.graph = config._maybe_create_graph()
        with self.graph.as_default():
            self._input_callbacks = Callbacks(input_source.setup(config.input_signature))
            with PredictTowerContext(""):
                self._input_tensors = input_source.get_input_tensors()
                config.tower_func(*self._input_tensors)
            self._tower_handle = config.tower_func.towers[-1]
            self._output_tensors = self._tower_handle.get_tensors(config.output_names)
            self._input_callbacks.setup_graph(None)
            config.session_init._setup_graph()
            self._sess = config.session_creator.create_session()
            config.session_init._run_init(self._sess)
            with self._sess.as_default():
                self._input_callbacks.before_train()
            self._hooked_sess = HookedSession(self._sess, self._input_callbacks.get_hooks())

    def __call__(self):
        """Returns: list: the outputs for the next input."""
        return self._hooked_sess.run(self._output_tensors)

    def _do_call(self, dp):
        raise NotImplementedError("FeedfreePredictor takes no arguments: call it as pred().")

    def close(self):
        """Stop the input source's workers and close the session."""
        with self.graph.as_default(), self._sess.as_default():
            self._input_callbacks.after_train()
        self._sess.close()
