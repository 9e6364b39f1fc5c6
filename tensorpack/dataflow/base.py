"""The DataFlow protocol: an iterable of datapoints with an optional length.

A datapoint is a list (or dict) of components, e.g. ``[image, label]``. This module never
imports TensorFlow, so data pipelines run anywhere.
"""
import threading
from abc import ABCMeta, abstractmethod

from tensorpack.utils.utils import get_rng

__all__ = ["DataFlow", "ProxyDataFlow", "RNGDataFlow", "DataFlowTerminated"]


class DataFlowTerminated(BaseException):
    """Raised when a DataFlow can no longer produce data (e.g. its source went away)."""


class DataFlowReentrantGuard:
    """Context manager that fails loudly when a stateful ``__iter__`` is entered twice."""

    def __init__(self):
        self._lock = threading.Lock()

    def __enter__(self):
        if not self._lock.acquire(False):
            raise threading.ThreadError(
                "This DataFlow is not reentrant: its __iter__ is already running. "
                "Create a second instance to iterate it in two places.")

    def __exit__(self, exc_type, exc_val, exc_tb):
        self._lock.release()
        return False



class _DataFlowMeta(ABCMeta):
    """Lets old-style subclasses (``get_data`` / ``size``) work as ``__iter__`` / ``__len__``."""

    def __new__(mcls, name, bases, namespace, **kwargs):
        for new, old in (("__iter__", "get_data"), ("__len__", "size")):
            if new not in namespace and old in namespace:
                namespace[new] = namespace[old]
        return super().__new__(mcls, name, bases, namespace, **kwargs)


class DataFlow(metaclass=_DataFlowMeta):
    """Base class of all DataFlows.

    Subclasses implement :meth:`__iter__` (yield datapoints) and optionally :meth:`__len__`.
    Whoever consumes a DataFlow calls :meth:`reset_state` once, in the consuming process,
    before the first iteration.
    """

    @abstractmethod
    def __iter__(self):
        """Yield datapoints (lists or dicts). May be finite or infinite."""

    def __len__(self):
        """The number of datapoints one pass yields (a rough guide; may be inaccurate).

        Raises:
            NotImplementedError: when the size is unknown.
        """
        raise NotImplementedError("{} has no known length".format(type(self).__name__))

    def reset_state(self):
        """Initialize per-process state (RNGs, workers). Called once before iterating."""

    # upstream's older names
    def get_data(self):
        return self.__iter__()

    def size(self):
        return self.__len__()


class RNGDataFlow(DataFlow):
    """A DataFlow owning ``self.rng``, a RandomState (re)seeded by :meth:`reset_state`."""

    rng = None

    def reset_state(self):
        self.rng = get_rng(self)


class ProxyDataFlow(DataFlow):
    """A DataFlow that forwards everything to ``self.ds`` unless a subclass overrides it."""

    def __init__(self, ds):
        """
        Args:
            ds (DataFlow): the wrapped DataFlow.
        """
        self.ds = ds

    def reset_state(self):
        self.ds.reset_state()

    def __len__(self):
        return len(self.ds)

    def __iter__(self):
        return iter(self.ds)
