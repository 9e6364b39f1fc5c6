"""The one interface every checkpoint format is read through.

A :class:`CheckpointSource` lists its tensors (name, shape, dtype) without reading any
data, and reads one tensor on demand. Restore, listing, conversion and the scripts only
ever talk to this interface, so a new format is one new subclass.
"""
import abc
import functools
import math
from typing import NamedTuple

import numpy as np

__all__ = ["TensorInfo", "CheckpointSource"]


class TensorInfo(NamedTuple):
    """What is known about a stored tensor without reading it.

    Attributes:
        name (str): the key as stored (e.g. ``conv1/W``, or ``conv1/W:0`` in some npz files).
        shape (tuple[int]): the full shape.
        dtype (str): a NumPy dtype name (``"float32"``, ``"int64"``, ``"bool"``,
            ``"complex64"``), or ``"bfloat16"``, or ``"string"`` for variable-length bytes.
    """
    name: str
    shape: tuple
    dtype: str

    @property
    def size(self):
        """Number of elements."""
        return math.prod(self.shape)  # not np.prod: listing 10,000 tensors calls this a lot

    @property
    def nbytes(self):
        """Bytes of the element data, or None for strings (whose size is in the data)."""
        itemsize = _itemsize(self.dtype)
        return None if itemsize is None else itemsize * self.size


@functools.lru_cache(maxsize=None)
def _itemsize(dtype):
    if dtype == "string":
        return None
    if dtype == "bfloat16":
        return 2
    if dtype.startswith("float8"):  # ml_dtypes' names; NumPy knows them only once it is imported
        return 1
    return np.dtype(dtype).itemsize


class CheckpointSource(abc.ABC):
    """A readable collection of named tensors.

    Subclasses implement :meth:`_list` and :meth:`_read`. Use as a context manager, or
    call :meth:`close`, to release open files.

    Attributes:
        path (str or None): the file the tensors come from, for messages.
    """

    path = None

    def __init__(self):
        self._infos = None

    @abc.abstractmethod
    def _list(self):
        """Returns: a list of :class:`TensorInfo`, in any order."""

    @abc.abstractmethod
    def _read(self, name):
        """Returns: the tensor ``name`` as a NumPy array (``name`` is known to exist)."""

    def infos(self):
        """Returns:
            dict[str, TensorInfo]: every tensor, sorted by name. Reads no tensor data.
        """
        if self._infos is None:
            self._infos = {i.name: i for i in sorted(self._list(), key=lambda i: i.name)}
        return self._infos

    def keys(self):
        """Returns: list[str]: the tensor names, sorted."""
        return list(self.infos())

    def read(self, name):
        """Read one tensor.

        Args:
            name (str): a name from :meth:`keys`.

        Returns:
            np.ndarray: the tensor; strings come back as an ``object`` array of ``bytes``.

        Raises:
            KeyError: if there is no such tensor.
        """
        if name not in self.infos():
            raise KeyError("Tensor '{}' is not in {} ({} tensors).".format(
                name, self.path or "this source", len(self.infos())))
        return self._read(name)

    def items(self, names=None):
        """Yield ``(name, array)`` one tensor at a time, so memory stays bounded."""
        for name in (self.keys() if names is None else names):
            yield name, self.read(name)

    def close(self):
        """Release open files. Safe to call more than once."""

    def __contains__(self, name):
        return name in self.infos()

    def __len__(self):
        return len(self.infos())

    def __iter__(self):
        return iter(self.keys())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "{}({!r})".format(type(self).__name__, self.path)
