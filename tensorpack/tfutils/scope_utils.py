"""Decorators and contexts that run graph-building code under a name or variable scope."""
import contextlib
import functools
import weakref
from typing import Callable, Optional

from tensorpack.compat import tfv1
from tensorpack.utils import logger
from tensorpack.utils.argtools import graph_memoized

__all__ = ["auto_reuse_variable_scope", "cached_name_scope", "under_name_scope",
           "under_variable_scope"]


def auto_reuse_variable_scope(func: Callable) -> Callable:
    """A decorator: the second and later calls of ``func`` in the same variable scope
    (of the same graph) reuse the variables the first call created.

    The first call in a scope inherits that scope's reuse flag. Name scopes are left
    alone, so each call still gets its own op names.

    Example::

        @auto_reuse_variable_scope
        def tower(x):
            return FullyConnected('fc', x, 10)

        a = tower(x1)      # creates fc/W, fc/b
        b = tower(x2)      # reuses them
    """
    seen = weakref.WeakKeyDictionary()  # graph -> names of the scopes used in it

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        scope = tfv1.get_variable_scope()
        used = seen.setdefault(tfv1.get_default_graph(), set())
        if scope.name in used:
            with tfv1.variable_scope(scope, reuse=True, auxiliary_name_scope=False):
                return func(*args, **kwargs)
        used.add(scope.name)
        return func(*args, **kwargs)
    return wrapper


def under_name_scope(name_scope: Optional[str] = None) -> Callable:
    """A decorator factory: the function runs under a name scope.

    The scope's name is, in order of preference: the ``name_scope=`` keyword given in
    the call (removed before calling the function), the ``name_scope`` given here, the
    function's name. When the call gives ``name_scope=``, an existing scope of that name
    is re-entered; if the name is already taken by an op so that TensorFlow picks another
    name, a warning says so.

    Example::

        @under_name_scope()
        def rms(x):
            return tf.sqrt(tf.reduce_mean(tf.square(x)))

        rms(t)                      # ops under 'rms/'
        rms(t, name_scope='norm')   # ops under 'norm/'
    """
    def deco(func):
        default = name_scope if name_scope is not None else func.__name__

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if "name_scope" not in kwargs:
                with tfv1.name_scope(default):
                    return func(*args, **kwargs)
            wanted = kwargs.pop("name_scope")
            with cached_name_scope(wanted, top_level=False) as scope:
                actual = scope.rstrip("/").split("/")[-1]
                if actual != wanted:
                    logger.warn("{}() was called with name_scope='{}', but the scope became "
                                "'{}': the name '{}' is probably taken by another op.".format(
                                    func.__name__, wanted, actual, wanted))
                return func(*args, **kwargs)
        return wrapper
    return deco


def under_variable_scope() -> Callable:
    """A decorator factory: the function runs under a variable scope named after it.

    Example::

        @under_variable_scope()
        def head(x):
            return FullyConnected('fc', x, 10)   # variables head/fc/W, head/fc/b
    """
    def deco(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with tfv1.variable_scope(func.__name__):
                return func(*args, **kwargs)
        return wrapper
    return deco


@graph_memoized
def _cached_ns(name):
    with tfv1.name_scope(None), tfv1.name_scope(name) as scope:
        return scope


@contextlib.contextmanager
def cached_name_scope(name: str, top_level: bool = True):
    """Open a name scope the first time, and re-enter the same scope on later uses
    (in the same graph) instead of creating ``name_1``, ``name_2``, ...

    Args:
        name (str): the scope's name.
        top_level (bool): True: the scope is at the graph's top level, whatever the
            caller's current name scope; False: it is nested under the current one.

    Yields:
        str: the full scope name, ending with ``/``.
    """
    if not top_level:
        current = tfv1.get_default_graph().get_name_scope()
        if current:
            name = current + "/" + name
    scope = _cached_ns(name)
    with tfv1.name_scope(scope):
        yield scope
