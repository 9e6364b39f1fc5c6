"""Layer registration and ``argscope``: upstream's calling convention for layers.

A registered layer is called as ``Layer(name, inputs, ...)``; it builds its variables in
``variable_scope(name)`` (so a FullyConnected named ``fc`` owns ``fc/W`` and ``fc/b``),
names its result ``name/output``, and takes default arguments from the enclosing
:func:`argscope`.
"""
import contextlib
import copy
import functools

from tensorpack.compat import tfv1
from tensorpack.utils import logger

__all__ = ["layer_register", "argscope", "get_arg_scope", "get_registered_layer"]

_ARG_SCOPE_STACK = []
_LAYER_REGISTRY = {}
_LOGGED_SCOPES = set()


def get_arg_scope():
    """Returns: dict: layer name -> default keyword arguments currently in effect."""
    return _ARG_SCOPE_STACK[-1] if _ARG_SCOPE_STACK else {}


@contextlib.contextmanager
def argscope(layers, **kwargs):
    """Set default keyword arguments of some layers inside a ``with`` block.

    Args:
        layers: a registered layer or a list of them.
        kwargs: the defaults.

    Example::

        with argscope([Conv2D, FullyConnected], activation=tf.nn.relu):
            x = Conv2D('conv0', x, 32, 3)
    """
    if not isinstance(layers, (list, tuple)):
        layers = [layers]
    new_scope = copy.copy(get_arg_scope())
    for layer in layers:
        name = getattr(layer, "__name__", None)
        if not getattr(layer, "_is_registered_layer", False):
            raise ValueError("argscope() takes registered layers, got {!r}.".format(layer))
        new_scope[name] = dict(new_scope.get(name, {}), **kwargs)
    _ARG_SCOPE_STACK.append(new_scope)
    try:
        yield
    finally:
        _ARG_SCOPE_STACK.pop()


def _shape_str(t):
    if isinstance(t, (list, tuple)):
        return ",".join(_shape_str(x) for x in t)
    return str(t.shape.as_list() if t.shape.rank is not None else "?")


def get_registered_layer(name):
    """Returns: the registered layer called ``name``, or None."""
    return _LAYER_REGISTRY.get(name)


def layer_register(log_shape=True, use_scope=True):
    """Turn ``func(inputs, ...)`` into a layer called as ``Layer(name, inputs, ...)``.

    Args:
        log_shape (bool): log the input and output shapes the first time a name is built.
        use_scope (bool or None): True: called with a name, built in ``variable_scope(name)``;
            None: the name is optional (with one, as for True); False: an optional name
            only opens a name scope.
    """
    def wrap(func):
        @functools.wraps(func)
        def layer(*args, **kwargs):
            named = bool(args) and isinstance(args[0], str)
            if use_scope and not named:
                raise ValueError("{} must be called as {}(name, inputs, ...), got {!r} as "
                                 "the first argument.".format(func.__name__, func.__name__,
                                                              args[:1]))
            if named and use_scope is not False:
                name, inputs, rest = args[0], args[1], args[2:]
            elif named:  # a name for a layer without variables: just a name scope
                with tfv1.name_scope(args[0]):
                    actual = dict(get_arg_scope().get(func.__name__, {}), **kwargs)
                    return func(*args[1:], **actual)
            else:
                name, inputs, rest = None, args[0], args[1:]
            actual = dict(get_arg_scope().get(func.__name__, {}))
            actual.update(kwargs)
            if name is None:
                return func(inputs, *rest, **actual)
            with tfv1.variable_scope(name) as scope:
                outputs = func(inputs, *rest, **actual)
                if log_shape and scope.name not in _LOGGED_SCOPES:
                    _LOGGED_SCOPES.add(scope.name)
                    logger.info("{} input: {}".format(scope.name, _shape_str(inputs)))
                    logger.info("{} output: {}".format(scope.name, _shape_str(outputs)))
            return outputs
        layer._is_registered_layer = True
        layer.symbolic_function = func
        layer.use_scope = use_scope
        _LAYER_REGISTRY[func.__name__] = layer
        return layer
    return wrap
