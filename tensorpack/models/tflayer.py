"""Argument-name compatibility for layers, and variable renaming contexts.

Layers accept both upstream's old argument names (``out_channel``, ``kernel_shape``,
``stride``, ``nl``, ``W_init``, ...) and the ``tf.layers``-style names (``filters``,
``kernel_size``, ``strides``, ``activation``, ``kernel_initializer``, ...).
"""
import contextlib
import functools
from typing import Callable, Dict, Sequence

from tensorpack.compat import tfv1
from tensorpack.utils.argtools import get_data_format

__all__ = []

# Old names understood by every layer that has the new name.
_COMMON_RENAMES = {"nl": "activation", "W_init": "kernel_initializer",
                   "b_init": "bias_initializer"}


def map_common_tfargs(kwargs: Dict) -> Dict:
    """Rename the old arguments every layer understands (``nl``, ``W_init``, ``b_init``)
    and normalize ``data_format`` to ``channels_last`` / ``channels_first``.

    Returns:
        dict: a new dict of keyword arguments.
    """
    ret = {_COMMON_RENAMES.get(k, k): v for k, v in kwargs.items()}
    if ret.get("data_format") is not None:
        ret["data_format"] = get_data_format(ret["data_format"], keras_mode=True)
    return ret


def convert_to_tflayer_args(args_names: Sequence[str], name_mapping: Dict[str, str]) -> Callable:
    """A decorator for a layer function ``func(inputs, **kwargs)`` that:

    1. binds positional arguments after ``inputs`` to the names ``args_names``; they win
       over keyword arguments of the same name (which may come from an ``argscope``);
    2. renames old keyword arguments to new ones (``name_mapping`` plus ``nl``, ``W_init``,
       ``b_init``).

    Raises:
        TypeError: too many positional arguments, or an old and a new name given together.
    """
    mapping = dict(_COMMON_RENAMES)
    mapping.update(name_mapping)
    args_names = tuple(args_names)

    def decorator(func):
        fname = func.__name__

        @functools.wraps(func)
        def decorated(inputs, *args, **kwargs):
            if len(args) > len(args_names):
                raise TypeError("{}() takes at most {} positional arguments after the inputs "
                                "({}); pass the others by keyword.".format(
                                    fname, len(args_names), ", ".join(args_names) or "none"))
            ret = {}
            for name, value in kwargs.items():
                new = mapping.get(name)
                if new is not None:
                    if new in kwargs:
                        raise TypeError("{}(): arguments '{}' and '{}' mean the same thing; "
                                        "give only one.".format(fname, name, new))
                    name = new
                ret[name] = value
            ret.update(zip(args_names, args))
            return func(inputs, **ret)
        return decorated
    return decorator


@contextlib.contextmanager
def _custom_getter_scope(getter):
    scope = tfv1.get_variable_scope()
    with tfv1.variable_scope(scope, custom_getter=getter, auxiliary_name_scope=False):
        yield


def rename_get_variable(mapping: Dict[str, str]):
    """A context in which ``tf.get_variable`` renames variables by their last name part.

    Args:
        mapping (dict): old basename -> new basename, e.g. ``{'kernel': 'W'}``.

    Returns:
        a context manager.
    """
    def renaming_getter(getter, name, *args, **kwargs):  # TF passes these by keyword
        head, sep, base = name.rpartition("/")
        if base in mapping:
            name = head + sep + mapping[base]
        return getter(name, *args, **kwargs)
    return _custom_getter_scope(renaming_getter)


def rename_tflayer_get_variable():
    """A context in which variables created with ``tf.layers``' names get upstream
    tensorpack's names: ``kernel`` -> ``W``, ``bias`` -> ``b``, ``moving_mean`` ->
    ``mean/EMA``, ``moving_variance`` -> ``variance/EMA``.

    Example::

        with rename_tflayer_get_variable():
            w = tf.get_variable('conv0/kernel', [3, 3, 3, 8])   # named conv0/W
    """
    return rename_get_variable({"kernel": "W", "bias": "b", "moving_mean": "mean/EMA",
                                "moving_variance": "variance/EMA"})
