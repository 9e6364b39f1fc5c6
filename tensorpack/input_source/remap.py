"""Wrap an input source: pass everything through, or feed only some of the model's inputs."""
import copy

from tensorpack.checkpoint.names import get_op_tensor_name
from tensorpack.input_source.base import InputSource, build_or_reuse_placeholder

__all__ = ["ProxyInputSource", "remap_input_source"]


class ProxyInputSource(InputSource):
    """An input source forwarding everything to the input source it wraps."""

    def __init__(self, input):  # noqa: A002  (upstream's argument name)
        """
        Args:
            input (InputSource): the wrapped input.

        Raises:
            TypeError: if ``input`` is not an InputSource.
        """
        if not isinstance(input, InputSource):
            raise TypeError("{} wraps an InputSource, got {!r}.".format(type(self).__name__,
                                                                        input))
        self._input = input

    def _get_input_tensors(self):
        return self._input.get_input_tensors()

    def _setup(self, input_signature):
        self._input.setup(input_signature)

    def _get_callbacks(self):
        return self._input.get_callbacks()

    def _size(self):
        return self._input.size()

    def _reset_state(self):
        self._input.reset_state()


def _subset_by_names(specs, names):
    by_name = {s.name: s for s in specs}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ValueError("remap_input_source: {} are not inputs of the model (its inputs: "
                         "{}).".format(missing, list(by_name)))
    return [by_name[n] for n in names]


def remap_input_source(input, names):  # noqa: A002  (upstream's argument name)
    """Use an input source that provides only some of the model's inputs, or provides them
    in another order.

    The result gives the wrapped source's tensors to the inputs named ``names`` and plain
    placeholders (to be fed) to the others. It is an instance of the wrapped source's class.

    Example::

        # ds yields [image, label], the model's inputs are [score, label, image]
        inp = remap_input_source(QueueInput(ds), ['image', 'label'])

    Args:
        input (InputSource): the source to wrap.
        names (list[str]): the model inputs its tensors are for, in its order.

    Returns:
        InputSource
    """
    if not isinstance(names, (list, tuple)):
        raise TypeError("remap_input_source: names must be a list of input names, got "
                        "{!r}.".format(names))

    def __init__(self, input, names):  # noqa: A002
        ProxyInputSource.__init__(self, input)
        self._names = tuple(names)

    def _setup(self, inputs):
        self._all_placeholders = [build_or_reuse_placeholder(v) for v in inputs]
        self._input.setup(_subset_by_names(inputs, self._names))

    def _get_input_tensors(self):
        tensors = self._input.get_input_tensors()
        if len(tensors) != len(self._names):
            raise ValueError("remap_input_source: the wrapped input gave {} tensors for the "
                             "{} names {}.".format(len(tensors), len(self._names), self._names))
        ret = copy.copy(self._all_placeholders)
        index = {p.name: i for i, p in enumerate(ret)}
        for name, tensor in zip(self._names, tensors):
            ret[index[get_op_tensor_name(name)[1]]] = tensor
        return ret

    wrapped_cls = type(input)
    cls = type("Remapped" + wrapped_cls.__name__, (ProxyInputSource, wrapped_cls),
               {"__init__": __init__, "_setup": _setup, "_get_input_tensors": _get_input_tensors})
    return cls(input, names)
