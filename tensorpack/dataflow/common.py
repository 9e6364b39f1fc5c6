"""Common DataFlow wrappers: batching, fixed-size epochs, mapping, repetition."""
import copy
from collections import defaultdict

import numpy as np

from tensorpack.dataflow.base import DataFlowReentrantGuard, ProxyDataFlow

__all__ = ["BatchData", "BatchDataByShape", "FixedSizeData", "MapData", "MapDataComponent",
           "RepeatedData"]


def _stack(values, use_list):
    if use_list:
        return values
    first = values[0]
    # Python scalars get the dtypes upstream picks (int32 / float32), not NumPy's 64-bit ones.
    if isinstance(first, bool):
        dtype = "bool"
    elif isinstance(first, int):
        dtype = "int32"
    elif isinstance(first, float):
        dtype = "float32"
    elif isinstance(first, (str, bytes)):
        dtype = None
    elif hasattr(first, "dtype"):
        dtype = first.dtype
    else:
        raise TypeError("BatchData cannot batch components of type {}; use numbers, strings, "
                        "NumPy arrays, or use_list=True.".format(type(first).__name__))
    try:
        return np.asarray(values, dtype=dtype)
    except ValueError as e:
        shapes = sorted({np.shape(v) for v in values})
        raise ValueError("BatchData cannot stack components of different shapes {}: {}. "
                         "Make the shapes equal or pass use_list=True.".format(shapes, e)) from e


class BatchData(ProxyDataFlow):
    """Group consecutive datapoints into batches; each component gains a leading batch axis."""

    def __init__(self, ds, batch_size, remainder=False, use_list=False):
        """
        Args:
            ds (DataFlow): yields lists or dicts whose components have consistent shapes.
            batch_size (int): datapoints per batch.
            remainder (bool): also yield the last, smaller batch.
            use_list (bool): make each component a Python list instead of a stacked array.

        Raises:
            ValueError: if ``batch_size`` is not positive, or exceeds ``len(ds)`` while
                ``remainder`` is False (no batch would ever be produced).
        """
        super().__init__(ds)
        batch_size = int(batch_size)
        if batch_size <= 0:
            raise ValueError("BatchData: batch_size must be positive, got {}.".format(batch_size))
        if not remainder:
            try:
                n = len(ds)
            except NotImplementedError:
                n = None
            if n is not None and batch_size > n:
                raise ValueError("BatchData: batch_size {} is larger than the DataFlow's length {} "
                                 "and remainder=False, so no batch would be produced. Use a "
                                 "smaller batch_size or remainder=True.".format(batch_size, n))
        self.batch_size = batch_size
        self.remainder = remainder
        self.use_list = use_list

    def __len__(self):
        full, rest = divmod(len(self.ds), self.batch_size)
        return full + int(self.remainder and rest > 0)

    def __iter__(self):
        # locals instead of attribute lookups: this loop runs once per datapoint
        size, use_list, aggregate = self.batch_size, self.use_list, self.aggregate_batch
        holder = []
        append = holder.append
        for dp in self.ds:
            append(dp)
            if len(holder) == size:
                yield aggregate(holder, use_list)
                holder = []
                append = holder.append
        if self.remainder and holder:
            yield aggregate(holder, use_list)

    @staticmethod
    def aggregate_batch(data_holder, use_list=False):
        """Combine a list of datapoints into one batched datapoint.

        Args:
            data_holder (list): datapoints, all lists/tuples or all dicts.
            use_list (bool): keep Python lists instead of stacking arrays.

        Returns:
            list or dict: the batched datapoint.

        Raises:
            ValueError: for datapoints that are not lists, tuples or dicts.
        """
        first = data_holder[0]
        if isinstance(first, (list, tuple)):
            return [_stack([dp[k] for dp in data_holder], use_list) for k in range(len(first))]
        if isinstance(first, dict):
            return {k: _stack([dp[k] for dp in data_holder], use_list) for k in first}
        raise ValueError("BatchData: a datapoint must be a list, tuple or dict, got {}.".format(
            type(first).__name__))


class BatchDataByShape(BatchData):
    """Batch datapoints whose ``dp[idx]`` have the same shape; shapes need not agree overall.

    Datapoints wait in one bucket per shape until ``batch_size`` of them are there, so a
    rare shape may never fill a batch (and is then never yielded).
    """

    def __init__(self, ds, batch_size, idx):
        """
        Args:
            ds (DataFlow): yields datapoints whose ``dp[idx]`` is a NumPy array.
            batch_size (int): datapoints per batch.
            idx (int): the component whose shape groups datapoints.
        """
        super().__init__(ds, batch_size, remainder=False)
        self.idx = idx
        self._guard = DataFlowReentrantGuard()
        self.holder = defaultdict(list)

    def reset_state(self):
        super().reset_state()
        self.holder = defaultdict(list)

    def __iter__(self):
        with self._guard:
            for dp in self.ds:
                bucket = self.holder[np.shape(dp[self.idx])]
                bucket.append(dp)
                if len(bucket) == self.batch_size:
                    yield BatchData.aggregate_batch(bucket)
                    bucket.clear()


class FixedSizeData(ProxyDataFlow):
    """Yield exactly ``size`` datapoints per pass, cycling through ``ds`` as needed."""

    def __init__(self, ds, size, keep_state=True):
        """
        Args:
            ds (DataFlow): the source.
            size (int): datapoints per pass.
            keep_state (bool): continue where the previous pass stopped, instead of
                restarting ``ds`` each pass.
        """
        super().__init__(ds)
        self._size = int(size)
        self._keep = keep_state
        self.itr = None
        self._guard = DataFlowReentrantGuard()

    def __len__(self):
        return self._size

    def reset_state(self):
        super().reset_state()
        self.itr = None

    def __iter__(self):
        with self._guard:
            if self.itr is None:
                self.itr = iter(self.ds)
            for _ in range(self._size):
                try:
                    dp = next(self.itr)
                except StopIteration:
                    self.itr = iter(self.ds)
                    try:
                        dp = next(self.itr)
                    except StopIteration:
                        raise ValueError("FixedSizeData: the wrapped DataFlow is empty.") from None
                yield dp
            if not self._keep:
                self.itr = None


class MapData(ProxyDataFlow):
    """Apply ``func`` to every datapoint; a ``None`` result drops the datapoint.

    ``func`` receives a shallow copy, so replacing components does not touch the source.
    Dropping datapoints makes ``len()`` an over-estimate.
    """

    def __init__(self, ds, func):
        """
        Args:
            ds (DataFlow): the source.
            func (callable): datapoint -> datapoint or None.
        """
        super().__init__(ds)
        self.func = func

    def __iter__(self):
        func = self.func
        for dp in self.ds:
            # list(dp) is the same shallow copy as copy.copy(dp), several times faster
            out = func(list(dp) if type(dp) is list else copy.copy(dp))
            if out is not None:
                yield out


class MapDataComponent(MapData):
    """Apply ``func`` to one component (``dp[index]``); a ``None`` result drops the datapoint."""

    def __init__(self, ds, func, index=0):
        """
        Args:
            ds (DataFlow): yields lists or dicts.
            func (callable): component -> component or None.
            index (int or str): list index or dict key of the component.
        """
        self._func = func
        self._index = index
        super().__init__(ds, self._map_one)

    def _map_one(self, dp):
        value = self._func(dp[self._index])
        if value is None:
            return None
        if isinstance(dp, tuple):
            dp = list(dp)
        dp[self._index] = value  # dp is already a shallow copy (made by MapData)
        return dp


class RepeatedData(ProxyDataFlow):
    """Iterate ``ds`` ``num`` times in a row (``num=-1``: forever)."""

    def __init__(self, ds, num):
        """
        Args:
            ds (DataFlow): the source.
            num (int): how many passes; -1 for infinitely many.
        """
        super().__init__(ds)
        self.num = int(num)

    def __len__(self):
        if self.num == -1:
            raise NotImplementedError("RepeatedData(num=-1) is infinite and has no length.")
        return len(self.ds) * self.num

    def __iter__(self):
        count = 0
        while self.num == -1 or count < self.num:
            yield from self.ds
            count += 1


# Upstream defined these here; they live in tensorpack.dataflow.debug now.
from tensorpack.dataflow.debug import PrintData, TestDataSpeed  # noqa: E402,F401


def __getattr__(name):
    # upstream defined these in this module; they live in compose.py (which imports this one)
    from tensorpack.dataflow import compose
    if name in compose.__all__:
        return getattr(compose, name)
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
