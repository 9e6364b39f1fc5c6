"""Layer registration: upstream's calling convention for layers.

A registered layer is called as ``Layer(name, inputs, ...)``. It builds its variables in
``variable_scope(name)`` (so a FullyConnected named ``fc`` owns ``fc/W`` and ``fc/b``),
takes default arguments from the enclosing :func:`~tensorpack.tfutils.argscope.argscope`,
and (if registered with ``log_shape=True``) logs its input and output shapes the first time
a scope name is built.
"""
import functools
import re
from typing import Callable, Optional

import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.tfutils.argscope import get_arg_scope
from tensorpack.tfutils.model_utils import get_shape_str
from tensorpack.utils import logger

__all__ = ["layer_register", "disable_layer_logging"]

_LAYER_REGISTRY = {}
_CONFLICT = object()  # marks a name registered twice
_TOWER_PREFIX = re.compile(r"tower[0-9]+/")


class _ShapeLog:
    """Logs layer shapes, indenting the layers built inside another layer.

    A layer with no logged layer inside gives one line ``'name': in --> out``; a layer
    with nested layers gives an ``input`` line, its children's lines, and an ``output``
    line.
    """

    def __init__(self):
        self.logged = set()
        self.disabled = False
        self._pending = []  # layers entered whose input line is not printed yet
        self._depth = 0

    def reset(self):
        self._pending = []
        self._depth = 0

    def should_log(self, scope_name):
        return not self.disabled and _TOWER_PREFIX.sub("", scope_name) not in self.logged

    def enter(self, name, shapes):
        for pending_name, pending_shapes in self._pending:  # a parent of this layer
            logger.info("{}'{}' input: {}".format("  " * self._depth, pending_name,
                                                  pending_shapes))
            self._depth += 1
        self._pending = [(name, shapes)]

    def leave(self, name, in_shapes, out_shapes):
        self.logged.add(_TOWER_PREFIX.sub("", name))
        if self._pending:
            self._pending = []
            logger.info("{}'{}': {} --> {}".format("  " * self._depth, name, in_shapes,
                                                   out_shapes))
        else:
            self._depth = max(self._depth - 1, 0)
            logger.info("{}'{}' output: {}".format("  " * self._depth, name, out_shapes))


_SHAPE_LOG = _ShapeLog()


def disable_layer_logging() -> None:
    """From now on, no layer logs its shapes (useful when building many towers)."""
    _SHAPE_LOG.disabled = True


def get_registered_layer(name: str) -> Optional[Callable]:
    """
    Args:
        name (str): a layer's name, e.g. ``'Conv2D'``.

    Returns:
        the registered layer, or None.

    Raises:
        KeyError: if two different layers were registered under this name.
    """
    layer = _LAYER_REGISTRY.get(name)
    if layer is _CONFLICT:
        raise KeyError("Two layers are registered with the name '{}' (@layer_register on two "
                       "functions of that name); rename one of them.".format(name))
    return layer


def _register(name, layer):
    if name == "tf":
        raise ValueError("A layer cannot be named 'tf' (LinearWrap uses .tf for TensorFlow).")
    _LAYER_REGISTRY[name] = _CONFLICT if name in _LAYER_REGISTRY else layer
    if name == "Conv2DTranspose":
        _register("Deconv2D", layer)


def _is_tensor_like(x):
    if isinstance(x, (tf.Tensor, tf.Variable)):
        return True
    return isinstance(x, (list, tuple)) and len(x) > 0 and \
        isinstance(x[0], (tf.Tensor, tf.Variable))


def layer_register(log_shape: bool = False, use_scope: Optional[bool] = True) -> Callable:
    """A decorator that turns ``func(inputs, ...)`` into a layer.

    Args:
        log_shape (bool): log the input and output shapes the first time each scope name is
            built (see :func:`disable_layer_logging`).
        use_scope (bool or None): True: the layer is called as ``Layer(name, inputs, ...)``
            and built in ``variable_scope(name)``. None: the name is optional (called with
            one, as for True). False: called without a name.

    Example::

        @layer_register()
        def Scale(x, init=1.0):
            return x * tf.get_variable('s', [], initializer=tf.constant_initializer(init))

        y = Scale('scale0', x)    # variable scale0/s
    """
    if use_scope is False and log_shape:
        raise ValueError("layer_register(log_shape=True) needs use_scope=True or None: "
                         "shapes are logged per layer name.")

    def wrapper(func):
        fname = func.__name__

        @functools.wraps(func)
        def layer(*args, **kwargs):
            named = bool(args) and isinstance(args[0], str)
            if use_scope and not named:
                raise ValueError("{0} must be called as {0}(name, inputs, ...): the first "
                                 "argument should be the layer's name, got {1!r}.".format(
                                     fname, args[0] if args else None))
            if named:
                if use_scope is False:
                    logger.warn("Layer {} takes no name argument; call it without the name or "
                                "register it with use_scope=None.".format(fname))
                name, args = args[0], args[1:]
            else:
                name = None
            if not args or not _is_tensor_like(args[0]):
                raise ValueError("{}: the inputs must be a tf.Tensor (or a list of them), "
                                 "got {!r}.".format(fname, args[0] if args else None))
            scope_args = get_arg_scope().get(fname)
            if scope_args:
                actual = dict(scope_args)
                actual.update(kwargs)
            else:
                actual = kwargs
            if name is None:
                return func(*args, **actual)
            with tfv1.variable_scope(name) as scope:
                do_log = log_shape and _SHAPE_LOG.should_log(scope.name)
                if not do_log:
                    return func(*args, **actual)
                in_shapes = get_shape_str(args[0])
                _SHAPE_LOG.enter(scope.name, in_shapes)
                try:
                    outputs = func(*args, **actual)
                except BaseException:
                    _SHAPE_LOG.reset()  # a failed build must not skew later indentation
                    raise
                _SHAPE_LOG.leave(scope.name, in_shapes, get_shape_str(outputs))
                return outputs

        layer.use_scope = use_scope
        layer.symbolic_function = func
        layer.__argscope_enabled__ = True
        layer._is_registered_layer = True
        _register(fname, layer)
        return layer
    return wrapper
