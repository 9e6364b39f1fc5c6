"""DataFlows that produce data from Python objects."""
from tensorpack.dataflow.base import DataFlow, RNGDataFlow

__all__ = ["DataFromList", "DataFromGenerator", "DataFromIterable", "FakeData"]


class DataFromList(RNGDataFlow):
    """Yield the elements of a list, optionally in a new random order each pass."""

    def __init__(self, lst, shuffle=True):
        """
        Args:
            lst (list): the datapoints.
            shuffle (bool): shuffle each pass (needs :meth:`reset_state` first).
        """
        super().__init__()
        self.lst = lst
        self.shuffle = shuffle

    def __len__(self):
        return len(self.lst)

    def __iter__(self):
        if not self.shuffle:
            yield from self.lst
            return
        if self.rng is None:
            raise RuntimeError("DataFromList(shuffle=True): call reset_state() before iterating.")
        for k in self.rng.permutation(len(self.lst)):
            yield self.lst[k]


class DataFromGenerator(DataFlow):
    """Wrap an iterable, or a function returning one (called again for every pass)."""

    def __init__(self, gen):
        """
        Args:
            gen: an iterable, or a callable returning an iterable.
        """
        self._gen = gen

    def __iter__(self):
        yield from (self._gen() if callable(self._gen) else self._gen)

    def __len__(self):
        try:
            return len(self._gen)
        except TypeError:
            raise NotImplementedError("DataFromGenerator: the generator has no length.") from None


class DataFromIterable(DataFlow):
    """Wrap an iterable; its length is used if it has one."""

    def __init__(self, iterable):
        """
        Args:
            iterable: the datapoints.
        """
        self._itr = iterable
        try:
            self._len = len(iterable)
        except TypeError:
            self._len = None

    def __len__(self):
        if self._len is None:
            raise NotImplementedError("DataFromIterable: the iterable has no length.")
        return self._len

    def __iter__(self):
        yield from self._itr




class FakeData(RNGDataFlow):
    """Random arrays of given shapes, e.g. to benchmark a model without real data."""

    def __init__(self, shapes, size=1000, random=True, dtype="float32", domain=(0, 1)):
        """
        Args:
            shapes (list): one shape per component.
            size (int): datapoints per pass.
            random (bool): new values for every datapoint (else the same datapoint repeated).
            dtype (str or list[str]): dtype of all components, or one per component.
            domain (tuple or list[tuple]): ``(low, high)`` of all components, or one per
                component.

        Raises:
            ValueError: if per-component lists do not match ``shapes`` in length.
        """
        super().__init__()
        self.shapes = [tuple(s) for s in shapes]
        self._size = int(size)
        self.random = random
        self.dtype = [dtype] * len(shapes) if isinstance(dtype, str) else list(dtype)
        self.domain = [domain] * len(shapes) if isinstance(domain, tuple) else list(domain)
        if len(self.dtype) != len(self.shapes) or len(self.domain) != len(self.shapes):
            raise ValueError("FakeData: {} shapes but {} dtypes and {} domains.".format(
                len(self.shapes), len(self.dtype), len(self.domain)))

    def __len__(self):
        return self._size

    def _one(self):
        return [(self.rng.rand(*s) * (hi - lo) + lo).astype(dt)
                for s, dt, (lo, hi) in zip(self.shapes, self.dtype, self.domain)]

    def __iter__(self):
        if self.rng is None:
            self.reset_state()
        fixed = None if self.random else self._one()
        for _ in range(self._size):
            yield self._one() if self.random else list(fixed)
