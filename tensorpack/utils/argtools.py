"""Small decorators and argument helpers: memoization, argument mapping, 2D/4D shapes.

TensorFlow-free at import time: :func:`graph_memoized` imports TensorFlow only when the
function it decorates is first called.
"""
import functools
import inspect
import numbers
import weakref
from typing import Any, Callable, List

from tensorpack.utils import logger

__all__ = ["map_arg", "memoized", "memoized_method", "graph_memoized", "shape2d", "shape4d",
           "memoized_ignoreargs", "log_once", "call_only_once", "get_data_format"]


def map_arg(**maps: Callable) -> Callable:
    """A decorator that passes some arguments through a function before the call.

    Args:
        maps: argument name -> function applied to that argument's value (when given).

    Example::

        @map_arg(path=os.path.expanduser)
        def load(path): ...
    """
    def deco(func):
        sig = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            bound = sig.bind_partial(*args, **kwargs)
            for name, fn in maps.items():
                if name in bound.arguments:
                    bound.arguments[name] = fn(bound.arguments[name])
            return func(*bound.args, **bound.kwargs)
        return wrapper
    return deco


memoized = functools.lru_cache(maxsize=None)
memoized.__doc__ = """``functools.lru_cache(maxsize=None)``: caches results by arguments.
Keys and results stay alive as long as the decorated function."""


def graph_memoized(func: Callable) -> Callable:
    """Like :data:`memoized`, with one cache per default TensorFlow graph.

    The cache of a graph goes away with the graph (it is not kept alive by the cache).
    """
    caches = weakref.WeakKeyDictionary()

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from tensorpack.compat import tfv1  # only when called: utils stays TF-free
        graph = tfv1.get_default_graph()
        cache = caches.get(graph)
        if cache is None:
            cache = caches[graph] = {}
        key = (args, tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = func(*args, **kwargs)
        return cache[key]
    return wrapper


_MEMOIZED_NOARGS = {}


def memoized_ignoreargs(func: Callable) -> Callable:
    """A decorator: the first call's result is returned for every later call, whatever
    the arguments."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if func not in _MEMOIZED_NOARGS:
            _MEMOIZED_NOARGS[func] = func(*args, **kwargs)
        return _MEMOIZED_NOARGS[func]
    return wrapper


def shape2d(a: Any) -> List[int]:
    """Normalize a 2D size.

    Args:
        a: an int or a list/tuple of two ints.

    Returns:
        list: ``[a, a]`` for an int, otherwise ``list(a)``.

    Raises:
        ValueError: for anything else.
    """
    if isinstance(a, numbers.Integral):
        return [int(a), int(a)]
    if isinstance(a, (list, tuple)) and len(a) == 2:
        return list(a)
    raise ValueError("Expected an int or a pair of ints as a 2D shape, got {!r}.".format(a))


_TO_KERAS = {"NCHW": "channels_first", "NHWC": "channels_last"}
_TO_TF = {"channels_first": "NCHW", "channels_last": "NHWC"}


def get_data_format(data_format: str, keras_mode: bool = True) -> str:
    """Normalize a data format name.

    Args:
        data_format (str): one of ``NCHW``, ``NHWC``, ``channels_first``, ``channels_last``.
        keras_mode (bool): True: return ``channels_first``/``channels_last``;
            False: return ``NCHW``/``NHWC``.

    Raises:
        ValueError: for any other value.
    """
    table = _TO_KERAS if keras_mode else _TO_TF
    ret = table.get(data_format, data_format)
    if ret not in table.values():
        raise ValueError("Unknown data_format {!r}: use 'NHWC'/'channels_last' or "
                         "'NCHW'/'channels_first'.".format(data_format))
    return ret


def shape4d(a: Any, data_format: str = "NHWC") -> List[int]:
    """A 2D size expanded to 4D for ``tf.nn`` ops.

    Returns:
        list: ``[1, h, w, 1]`` for NHWC, ``[1, 1, h, w]`` for NCHW.
    """
    h, w = shape2d(a)
    if get_data_format(data_format, keras_mode=False) == "NHWC":
        return [1, h, w, 1]
    return [1, 1, h, w]


@memoized
def log_once(message: str, func: str = "info") -> None:
    """Log a message only the first time it is seen.

    Args:
        message (str): the message.
        func (str): the logger method: ``info``, ``warn``, ``error``, ...
    """
    getattr(logger, func)(message)


def call_only_once(func: Callable) -> Callable:
    """Decorate a method (or property setter) so that it runs at most once per instance.

    Raises:
        RuntimeError: on a second call on the same instance.
    """
    @functools.wraps(func)
    def wrapper(self, *args, **kwargs):
        called = self.__dict__.setdefault("_CALL_ONLY_ONCE_CACHE", set())
        if func in called:
            raise RuntimeError("{}.{} can only be called once per object.".format(
                type(self).__name__, func.__name__))
        called.add(func)
        return func(self, *args, **kwargs)
    return wrapper


def memoized_method(func: Callable) -> Callable:
    """Memoize a method per instance; the cache is stored on the instance."""
    @functools.wraps(func)
    def wrapper(self, *args, **kwargs):
        cache = self.__dict__.setdefault("_MEMOIZED_CACHE", {})
        key = (func, args, tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = func(self, *args, **kwargs)
        return cache[key]
    return wrapper
