"""LinearWrap: chain single-input layers and TensorFlow functions fluently."""
from types import ModuleType

from tensorpack.models.registry import get_registered_layer

__all__ = ["LinearWrap"]


class LinearWrap:
    """Wrap a tensor so that layers chain as methods::

        logits = (LinearWrap(image)
                  .Conv2D('conv0', 32, 3, activation=tf.nn.relu)
                  .MaxPooling('pool0', 2)
                  .tf.nn.dropout(rate=0.5)
                  .FullyConnected('fc', 10)())
    """

    class _TFModuleFunc:
        def __init__(self, mod, tensor):
            self._mod = mod
            self._t = tensor

        def __getattr__(self, name):
            attr = getattr(self._mod, name)
            if isinstance(attr, ModuleType):
                return LinearWrap._TFModuleFunc(attr, self._t)

            def call(*args, **kwargs):
                return LinearWrap(attr(self._t, *args, **kwargs))
            return call

    def __init__(self, tensor):
        """
        Args:
            tensor (tf.Tensor): the tensor to wrap.
        """
        self._t = tensor

    def __getattr__(self, name):
        layer = get_registered_layer(name)
        if layer is not None:
            def call(*args, **kwargs):
                if layer.use_scope:
                    return LinearWrap(layer(args[0], self._t, *args[1:], **kwargs))
                if args and isinstance(args[0], str):
                    return LinearWrap(layer(args[0], self._t, *args[1:], **kwargs))
                return LinearWrap(layer(self._t, *args, **kwargs))
            return call
        if name == "tf":
            import tensorflow as tf
            return LinearWrap._TFModuleFunc(tf, self._t)
        raise AttributeError("LinearWrap.{}: neither a registered layer nor 'tf'. Did you forget "
                             "to take the tensor out with ()?".format(name))

    def apply(self, func, *args, **kwargs):
        """Returns: LinearWrap of ``func(tensor, *args, **kwargs)``."""
        return LinearWrap(func(self._t, *args, **kwargs))

    def apply2(self, func, *args, **kwargs):
        """Returns: LinearWrap of ``func(args[0], tensor, *args[1:], **kwargs)`` (for functions
        taking a name first, like layers)."""
        return LinearWrap(func(args[0], self._t, *args[1:], **kwargs))

    def __call__(self):
        """Returns: tf.Tensor: the wrapped tensor."""
        return self._t

    def tensor(self):
        """Returns: tf.Tensor: the wrapped tensor."""
        return self._t

    def print_tensor(self):
        """Print the wrapped tensor; returns self."""
        print(self._t)
        return self
