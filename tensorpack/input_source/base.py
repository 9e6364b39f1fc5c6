"""InputSource: how the model's input tensors get their data during training."""
from contextlib import contextmanager

from tensorpack.callbacks.base import Callback
from tensorpack.compat import tfv1

__all__ = ["InputSource", "build_or_reuse_placeholder"]


def build_or_reuse_placeholder(tensor_spec):
    """The placeholder named like ``tensor_spec`` in the default graph, created if missing.

    Args:
        tensor_spec (tf.TensorSpec): a named spec.

    Returns:
        tf.Tensor: the placeholder.

    Raises:
        ValueError: if a tensor of that name exists but is not a compatible placeholder.
    """
    graph = tfv1.get_default_graph()
    name = tensor_spec.name
    try:
        tensor = graph.get_tensor_by_name(name + ":0")
    except KeyError:
        tensor = None
    if tensor is not None:
        if "Placeholder" not in tensor.op.type:
            raise ValueError("Input '{}': the graph already has a tensor of that name which is "
                             "not a placeholder ({}). Rename the input or that tensor.".format(
                                 name, tensor.op.type))
        if not tensor_spec.is_compatible_with(tensor):
            raise ValueError("Input '{}': the existing placeholder {} {} is not compatible with "
                             "the input signature {} {}.".format(
                                 name, tensor.dtype.name, tensor.shape,
                                 tensor_spec.dtype.name, tensor_spec.shape))
        if tensor.shape == tensor_spec.shape:
            return tensor
    with tfv1.name_scope(None):  # the placeholder's name must be exactly the input's name
        return tfv1.placeholder(tensor_spec.dtype, shape=tensor_spec.shape, name=name)


class _ResetOnBeforeTrain(Callback):
    _chief_only = False

    def __init__(self, input_source):
        self._input = input_source

    def _before_train(self):
        self._input.reset_state()


class InputSource:
    """Base class: provides the input tensors of the tower function.

    Life cycle: :meth:`setup` (with the model's input signature; returns callbacks the
    trainer must run), :meth:`get_input_tensors` (while building the tower),
    :meth:`reset_state` (under the session, before use).
    """

    _name_scope = None
    _setup_done = False
    _callbacks = None

    def get_input_tensors(self):
        """Returns:
            list[tf.Tensor]: one tensor per model input, to call the tower function with.
        """
        return self._get_input_tensors()

    def _get_input_tensors(self):
        raise NotImplementedError()

    def setup(self, input_signature):
        """Create the graph parts of this input (placeholders, queues...). Once only.

        Args:
            input_signature (list[tf.TensorSpec]): the model's inputs.

        Returns:
            list[Callback]: callbacks that keep this input running; the trainer runs them.

        Raises:
            RuntimeError: if called twice.
        """
        if self._setup_done:
            raise RuntimeError("{}.setup() was already called; an InputSource serves one "
                               "trainer/inference runner.".format(type(self).__name__))
        self._setup(list(input_signature))
        self._setup_done = True
        return self.get_callbacks()

    def _setup(self, input_signature):
        pass

    def setup_done(self):
        """Returns: bool: whether :meth:`setup` was called."""
        return self._setup_done

    def get_callbacks(self):
        """The callbacks this input needs (computed once). They never need the trainer and
        only use before_train / before_run / after_run / after_train; all run on every worker.

        Returns:
            list[Callback]
        """
        if not self._setup_done:
            raise RuntimeError("{}.get_callbacks() needs setup() first.".format(
                type(self).__name__))
        if self._callbacks is None:
            cbs = [_ResetOnBeforeTrain(self)] + list(self._get_callbacks())
            for cb in cbs:
                cb.chief_only = False
            self._callbacks = cbs
        return self._callbacks

    def _get_callbacks(self):
        return []

    def reset_state(self):
        """(Re)start this input. Called under the session: once before training, and by
        InferenceRunner before every evaluation."""
        self._reset_state()

    def _reset_state(self):
        pass

    def size(self):
        """Returns: int: the number of datapoints per epoch.

        Raises:
            NotImplementedError: if unknown.
        """
        return self._size()

    def _size(self):
        raise NotImplementedError("{} has no known size.".format(type(self).__name__))

    @contextmanager
    def cached_name_scope(self):
        """A name scope named after the class, the same one every time it is entered."""
        if self._name_scope:
            with tfv1.name_scope(self._name_scope):
                yield self._name_scope
        else:
            with tfv1.name_scope(type(self).__name__) as ns:
                self._name_scope = ns
                yield ns
