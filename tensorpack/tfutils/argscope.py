"""``argscope``: default keyword arguments for layers inside a ``with`` block."""
import contextlib
import functools
import inspect
from collections import defaultdict
from typing import Any, Callable, Dict

from tensorpack.tfutils.model_utils import get_shape_str
from tensorpack.tfutils.tower import get_current_tower_context
from tensorpack.utils import logger

__all__ = ["argscope", "get_arg_scope", "enable_argscope_for_module",
           "enable_argscope_for_function"]

_ARG_SCOPE_STACK = []


def get_arg_scope() -> Dict[str, Dict[str, Any]]:
    """The defaults currently in effect.

    Returns:
        dict: layer name -> {argument: value}; a layer not mentioned maps to ``{}``.
    """
    if _ARG_SCOPE_STACK:
        return _ARG_SCOPE_STACK[-1]
    return defaultdict(dict)


@contextlib.contextmanager
def argscope(layers, **kwargs):
    """Give layers default keyword arguments inside a ``with`` block.

    Arguments given explicitly in a call win over the scope; an inner scope adds to (and
    overrides) the outer one.

    Args:
        layers: a layer (registered with ``layer_register`` or wrapped by
            :func:`enable_argscope_for_function`) or a list of them.
        kwargs: the defaults.

    Raises:
        ValueError: if a layer does not support argscope.

    Example::

        with argscope(Conv2D, kernel_size=3, activation=tf.nn.relu, filters=32):
            x = Conv2D('conv0', x)
            x = Conv2D('conv1', x, filters=64)   # explicit argument wins
    """
    if not isinstance(layers, (list, tuple)):
        layers = [layers]
    for layer in layers:
        if not getattr(layer, "__argscope_enabled__", False):
            raise ValueError("argscope() works only on layers registered with @layer_register "
                             "or wrapped by enable_argscope_for_function(); got {!r}.".format(
                                 layer))
    current = get_arg_scope()
    new_scope = defaultdict(dict, {k: dict(v) for k, v in current.items()})
    for layer in layers:
        new_scope[layer.__name__].update(kwargs)
    _ARG_SCOPE_STACK.append(new_scope)
    try:
        yield
    finally:
        _ARG_SCOPE_STACK.pop()


def _should_log_shapes() -> bool:
    ctx = get_current_tower_context()
    if ctx is None:
        return True
    return "tower" not in ctx.ns_name.lower() or ctx.is_main_training_tower


def enable_argscope_for_function(func: Callable, log_shape: bool = True) -> Callable:
    """Make a plain function usable in :func:`argscope` (keyed by ``func.__name__``).

    Args:
        func: a function taking a tensor first and returning a tensor (or a tuple of them).
        log_shape (bool): log the first input's and first output's shapes on each call
            (except in non-main training towers).

    Returns:
        the wrapped function.

    Example::

        my_conv = enable_argscope_for_function(my_conv)
        with argscope(my_conv, padding='same'):
            my_conv(x, 32)
    """
    if not callable(func):
        raise ValueError("enable_argscope_for_function() needs a callable, got {!r}.".format(
            func))
    name = func.__name__

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        actual = dict(get_arg_scope().get(name, ()))
        actual.update(kwargs)
        out = func(*args, **actual)
        if log_shape and args and _should_log_shapes():
            first_out = out[0] if isinstance(out, tuple) else out
            logger.info("{:<12}: {} --> {}".format("'" + kwargs.get("name", name) + "'",
                                                  get_shape_str(args[0]), get_shape_str(first_out)))
        return out

    wrapped.__argscope_enabled__ = True
    return wrapped


def enable_argscope_for_module(module, log_shape: bool = True) -> None:
    """Replace every function of a module by its argscope-enabled version (monkey-patching).

    Args:
        module: a Python module.
        log_shape (bool): as in :func:`enable_argscope_for_function`.
    """
    for name, obj in inspect.getmembers(module, inspect.isfunction):
        setattr(module, name, enable_argscope_for_function(obj, log_shape=log_shape))
