"""Predictors: call a built graph like a function."""
from tensorpack.checkpoint.names import get_op_tensor_name
from tensorpack.compat import tfv1
from tensorpack.input_source.sources import PlaceholderInput
from tensorpack.tfutils.common import get_tensors_by_names
from tensorpack.tfutils.tower import PredictTowerContext

__all__ = ["PredictorBase", "OnlinePredictor", "OfflinePredictor"]


class PredictorBase:
    """Base class of predictors: ``predictor(*inputs)`` returns the list of outputs.

    Attributes:
        return_input (bool): return ``(inputs, outputs)`` instead of just the outputs.
    """

    return_input = False

    def __call__(self, *dp):
        """
        Args:
            dp: one array per input, in the order of ``input_names``.

        Returns:
            list[np.ndarray]: one array per output (or ``(dp, outputs)``).
        """
        out = self._do_call(dp)
        return (dp, out) if self.return_input else out

    def _do_call(self, dp):
        raise NotImplementedError()


class OnlinePredictor(PredictorBase):
    """Run given tensors of an existing graph in a session.

    Attributes:
        sess: the session; if None, the default session at the first call is used.
    """

    ACCEPT_OPTIONS = False

    def __init__(self, input_tensors, output_tensors, return_input=False, sess=None):
        """
        Args:
            input_tensors (list): tensors or tensor names to feed.
            output_tensors (list): tensors or tensor names to fetch.
            return_input (bool): see :attr:`PredictorBase.return_input`.
            sess (tf.compat.v1.Session): the session; None for the default one at call time.
        """
        def norm(t):
            return get_op_tensor_name(t)[1] if isinstance(t, str) else t
        self.return_input = return_input
        self.input_tensors = [norm(t) for t in input_tensors]
        self.output_tensors = [norm(t) for t in output_tensors]
        self._callable = None
        self._callable_sess = None
        self.sess = sess

    def _do_call(self, dp):
        if len(dp) != len(self.input_tensors):
            raise ValueError("The predictor takes {} inputs ({}), got {}.".format(
                len(self.input_tensors), [getattr(t, "name", t) for t in self.input_tensors],
                len(dp)))
        if self.sess is None:
            self.sess = tfv1.get_default_session()
            if self.sess is None:
                raise RuntimeError("OnlinePredictor has no session: give sess= or call it under "
                                   "a default session.")
        if self._callable is None or self._callable_sess is not self.sess:
            self._callable = self.sess.make_callable(
                fetches=self.output_tensors, feed_list=self.input_tensors,
                accept_options=self.ACCEPT_OPTIONS)
            self._callable_sess = self.sess
        return self._callable(*dp)


def build_inference_graph(config):
    """Build a :class:`PredictConfig`'s model as an inference tower (named '') fed by
    placeholders, and prepare its ``session_init`` (not run yet).

    Args:
        config (PredictConfig):

    Returns:
        (tf.Graph, list[tf.Tensor], list[tf.Tensor]): the graph, the tensors of
        ``config.input_names`` and of ``config.output_names``.
    """
    graph = config._maybe_create_graph()
    with graph.as_default():
        inp = PlaceholderInput()
        inp.setup(config.input_signature)
        with PredictTowerContext(""):
            config.tower_func(*inp.get_input_tensors())
        input_tensors = get_tensors_by_names(config.input_names)
        output_tensors = get_tensors_by_names(config.output_names)
        config.session_init._setup_graph()
    return graph, input_tensors, output_tensors


class OfflinePredictor(OnlinePredictor):
    """Build the model of a :class:`PredictConfig` in a new graph (an inference tower without
    prefix), create a session, initialize it with ``session_init`` and predict.

    Example::

        pred = OfflinePredictor(PredictConfig(model=MyModel(),
                                              session_init=SmartInit('train_log/run/checkpoint'),
                                              input_names=['x'], output_names=['prob']))
        prob, = pred(x_batch)
    """

    def __init__(self, config):
        """
        Args:
            config (PredictConfig):
        """
        self.graph, input_tensors, output_tensors = build_inference_graph(config)
        with self.graph.as_default():
            sess = config.session_creator.create_session()
            config.session_init._run_init(sess)
            super().__init__(input_tensors, output_tensors, config.return_input, sess)
