"""PredictConfig: what an OfflinePredictor builds, loads and runs."""
from tensorpack.compat import tfv1
from tensorpack.tfutils.sesscreate import NewSessionCreator
from tensorpack.tfutils.sessinit import JustCurrentSession, SessionInit
from tensorpack.tfutils.tower import TowerFunc
from tensorpack.train.model_desc import ModelDescBase
from tensorpack.utils import logger

__all__ = ["PredictConfig"]


class PredictConfig:
    """Options of a predictor: the model (or a tower function), how to initialize it, and
    which tensors are its inputs and outputs.
    """

    def __init__(self, model=None, tower_func=None, input_signature=None, input_names=None,
                 output_names=None, session_creator=None, session_init=None,
                 return_input=False, create_graph=True):
        """
        Args:
            model (ModelDescBase): the model; or give ``tower_func`` (a TowerFunc, or a
                function plus ``input_signature``).
            tower_func: a :class:`TowerFunc`, or a function taking the input tensors.
            input_signature (list[tf.TensorSpec]): inputs of a plain ``tower_func``.
            input_names (list[str]): tensors to feed; defaults to all model inputs.
            output_names (list[str]): tensors to fetch (required, non-empty).
            session_creator (tf.compat.v1.train.SessionCreator): defaults to
                :class:`NewSessionCreator`.
            session_init (SessionInit): e.g. ``SmartInit('train_log/run/checkpoint')``;
                by default variables keep their initial values.
            return_input (bool): predictors return ``(inputs, outputs)``.
            create_graph (bool): build in a new graph (else in the default graph).

        Raises:
            ValueError: for missing or inconsistent arguments or wrong types.
        """
        if model is not None:
            if not isinstance(model, ModelDescBase):
                raise ValueError("PredictConfig(model=...) must be a ModelDesc, got {}.".format(
                    type(model).__name__))
            if tower_func is not None or input_signature is not None:
                raise ValueError("PredictConfig: give model= or tower_func=/input_signature=, "
                                 "not both.")
            self.input_signature = model.get_input_signature()
            self.tower_func = TowerFunc(model.build_graph, self.input_signature)
        else:
            if tower_func is None:
                raise ValueError("PredictConfig needs model= or tower_func=.")
            if isinstance(tower_func, TowerFunc):
                input_signature = tower_func.input_signature
            if input_signature is None:
                raise ValueError("PredictConfig(tower_func=<function>) also needs "
                                 "input_signature=.")
            self.input_signature = input_signature
            self.tower_func = TowerFunc(tower_func, input_signature)

        self.session_init = JustCurrentSession() if session_init is None else session_init
        if not isinstance(self.session_init, SessionInit):
            raise ValueError("PredictConfig(session_init=...) must be a SessionInit (e.g. "
                             "SmartInit(path)), got {}.".format(type(self.session_init).__name__))
        self.session_creator = session_creator or NewSessionCreator()

        self.input_names = ([s.name for s in self.input_signature] if input_names is None
                            else input_names)
        if not isinstance(self.input_names, (list, tuple)) or \
                not all(isinstance(n, str) for n in self.input_names):
            raise ValueError("PredictConfig(input_names=...) must be a list of strings, got "
                             "{!r}.".format(self.input_names))
        if not self.input_names:
            logger.warn("PredictConfig got empty input_names.")
        if not output_names or not isinstance(output_names, (list, tuple)) or \
                not all(isinstance(n, str) for n in output_names):
            raise ValueError("PredictConfig(output_names=...) must be a non-empty list of tensor "
                             "names, got {!r}.".format(output_names))
        self.input_names = list(self.input_names)
        self.output_names = list(output_names)
        self.return_input = bool(return_input)
        self.create_graph = bool(create_graph)

    def _maybe_create_graph(self):
        return tfv1.Graph() if self.create_graph else tfv1.get_default_graph()
