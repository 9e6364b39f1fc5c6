"""Load the CIFAR "python version" batch files without executing arbitrary pickle code.

The CIFAR files are pickles written by Python 2: dicts of lists, byte strings and one uint8
NumPy array. :func:`load_restricted` unpickles only those building blocks; a pickle that
refers to any other callable (the way malicious pickles run code) is rejected.
"""
import codecs
import pickle

import numpy as np

__all__ = ["load_restricted"]


def _numpy_reconstruct():
    core = getattr(np, "_core", None) or np.core
    return core.multiarray._reconstruct


def _numpy_scalar():
    core = getattr(np, "_core", None) or np.core
    return core.multiarray.scalar


def _numpy_frombuffer():  # what NumPy writes for pickle protocol 5
    core = getattr(np, "_core", None) or np.core
    return core.numeric._frombuffer


_ALLOWED = {
    ("numpy.core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "ndarray"): lambda: np.ndarray,
    # Python 3 writes bytes as _codecs.encode(text, 'latin1') under protocols 0-2
    ("_codecs", "encode"): lambda: codecs.encode,
    ("numpy", "dtype"): lambda: np.dtype,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        make = _ALLOWED.get((module, name))
        if make is None:
            raise pickle.UnpicklingError(
                "refusing to load '{}.{}': only lists, dicts, strings, numbers and numpy arrays "
                "are allowed in a dataset file".format(module, name))
        return make()


def load_restricted(filename, encoding="bytes"):
    """Unpickle a data file that may only contain builtin containers and NumPy arrays.

    Args:
        filename (str): the file.
        encoding (str): how Python 2 ``str`` objects are decoded (``'bytes'`` keeps bytes).

    Returns:
        the unpickled object.

    Raises:
        ValueError: if the file is not such a pickle (corrupt, truncated, or containing
            other objects).
    """
    with open(filename, "rb") as f:
        try:
            return _RestrictedUnpickler(f, encoding=encoding).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
                IndexError, KeyError) as e:
            raise ValueError("{} is not a valid dataset pickle: {}".format(filename, e)) from None
