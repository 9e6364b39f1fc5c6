"""DataFlows that combine, select, shuffle, cache or repeat datapoints of other DataFlows."""
import collections
import itertools

import numpy as np

from tensorpack.dataflow.base import DataFlow, DataFlowReentrantGuard, ProxyDataFlow, RNGDataFlow
from tensorpack.dataflow.common import MapData, RepeatedData
from tensorpack.utils.utils import get_rng

__all__ = ["ConcatData", "JoinData", "SelectComponent", "RandomChooseData", "RandomMixData",
           "LocallyShuffleData", "CacheData", "RepeatedDataPoint"]


class ConcatData(DataFlow):
    """All datapoints of the first DataFlow, then of the second, and so on."""

    def __init__(self, df_lists):
        """
        Args:
            df_lists (list[DataFlow]):
        """
        self.df_lists = list(df_lists)

    def reset_state(self):
        for d in self.df_lists:
            d.reset_state()

    def __len__(self):
        return sum(len(d) for d in self.df_lists)

    def __iter__(self):
        for d in self.df_lists:
            yield from d


class JoinData(DataFlow):
    """Put the components of several DataFlows side by side: ``[a1, a2] + [b1]`` gives
    ``[a1, a2, b1]``; dicts are merged. Stops when any of them is exhausted."""

    def __init__(self, df_lists):
        """
        Args:
            df_lists (list[DataFlow]): all producing lists, or all producing dicts.
        """
        self.df_lists = list(df_lists)

    def reset_state(self):
        seen = set()
        for d in self.df_lists:  # the same instance may appear twice: reset it once
            if id(d) not in seen:
                seen.add(id(d))
                d.reset_state()

    def __len__(self):
        return min(len(d) for d in self.df_lists)

    def __iter__(self):
        for dps in zip(*self.df_lists):
            if isinstance(dps[0], dict):
                joined = {}
                for dp in dps:
                    joined.update(dp)
                yield joined
            else:
                yield list(itertools.chain(*dps))


def SelectComponent(ds, idxs):
    """Keep (and reorder) some components: ``SelectComponent(ds, [2, 0])`` maps
    ``[c0, c1, c2]`` to ``[c2, c0]``.

    Args:
        ds (DataFlow):
        idxs (list[int] or list[str]): indices or dict keys.

    Returns:
        DataFlow
    """
    idxs = list(idxs)
    return MapData(ds, lambda dp: [dp[i] for i in idxs])


class RandomChooseData(RNGDataFlow):
    """Each datapoint comes from a randomly chosen DataFlow; stops when the chosen one is
    exhausted."""

    def __init__(self, df_lists):
        """
        Args:
            df_lists (list): DataFlows (equally likely), or ``(DataFlow, probability)`` pairs
                whose probabilities sum to 1.

        Raises:
            ValueError: if the probabilities do not sum to 1.
        """
        super().__init__()
        if isinstance(df_lists[0], (tuple, list)):
            total = sum(p for _, p in df_lists)
            if not np.isclose(total, 1.0):
                raise ValueError("RandomChooseData: probabilities sum to {}, not 1.".format(total))
            self.df_lists = [(d, p) for d, p in df_lists]
        else:
            self.df_lists = [(d, 1.0 / len(df_lists)) for d in df_lists]

    def reset_state(self):
        super().reset_state()
        for d, _ in self.df_lists:
            d.reset_state()

    def __iter__(self):
        itrs = [iter(d) for d, _ in self.df_lists]
        probs = np.array([p for _, p in self.df_lists])
        while True:
            try:
                yield next(itrs[self.rng.choice(len(itrs), p=probs)])
            except StopIteration:
                return


class RandomMixData(RNGDataFlow):
    """All datapoints of several DataFlows, interleaved in random order (uses their lengths)."""

    def __init__(self, df_lists):
        """
        Args:
            df_lists (list[DataFlow]): DataFlows with accurate lengths.
        """
        super().__init__()
        self.df_lists = list(df_lists)
        self.sizes = [len(d) for d in self.df_lists]

    def reset_state(self):
        super().reset_state()
        for d in self.df_lists:
            d.reset_state()

    def __len__(self):
        return sum(self.sizes)

    def __iter__(self):
        order = np.repeat(np.arange(len(self.df_lists)), self.sizes)
        self.rng.shuffle(order)
        itrs = [iter(d) for d in self.df_lists]
        for k in order:
            yield next(itrs[k])


class LocallyShuffleData(ProxyDataFlow, RNGDataFlow):
    """Shuffle within a sliding buffer, for sources too large (or too sequential) to shuffle
    whole. Runs forever: passes over ``ds`` blend into each other.
    """

    def __init__(self, ds, buffer_size, num_reuse=1, shuffle_interval=None):
        """
        Args:
            ds (DataFlow): the source.
            buffer_size (int): datapoints held in the buffer.
            num_reuse (int): put each datapoint into the buffer this many times.
            shuffle_interval (int): shuffle the buffer after this many new datapoints;
                defaults to ``buffer_size // 3``.
        """
        ProxyDataFlow.__init__(self, ds)
        self.q = collections.deque(maxlen=int(buffer_size))
        self.shuffle_interval = max(1, int(shuffle_interval or buffer_size // 3))
        self.num_reuse = int(num_reuse)
        self._inf_ds = RepeatedData(ds, -1)
        self._guard = DataFlowReentrantGuard()
        self._inf_iter = None

    def reset_state(self):
        ProxyDataFlow.reset_state(self)
        RNGDataFlow.reset_state(self)
        self._count = 0
        self._inf_iter = iter(self._inf_ds)

    def __len__(self):
        return len(self.ds) * self.num_reuse

    def __iter__(self):
        if self._inf_iter is None:
            raise RuntimeError("LocallyShuffleData: call reset_state() before iterating.")
        with self._guard:
            for dp in self._inf_iter:
                self._count = (self._count + 1) % self.shuffle_interval
                if self._count == 0:
                    self.rng.shuffle(self.q)
                for _ in range(self.num_reuse):
                    if len(self.q) == self.q.maxlen:
                        yield self.q.popleft()
                    self.q.append(dp)


class CacheData(ProxyDataFlow):
    """Keep the first full pass of ``ds`` in memory and replay it afterwards.

    Let the first pass run to its end, or the cache stays incomplete and is not used.
    """

    def __init__(self, ds, shuffle=False):
        """
        Args:
            ds (DataFlow): the source.
            shuffle (bool): shuffle the cached datapoints before each replay.
        """
        super().__init__(ds)
        self.shuffle = shuffle
        self.buffer = []
        self._complete = False
        self._guard = DataFlowReentrantGuard()
        self.rng = None

    def reset_state(self):
        super().reset_state()
        if self.shuffle:
            self.rng = get_rng(self)
        self.buffer = []
        self._complete = False

    def __iter__(self):
        with self._guard:
            if self._complete:
                if self.shuffle:
                    self.rng.shuffle(self.buffer)
                yield from self.buffer
                return
            self.buffer = []
            for dp in self.ds:
                self.buffer.append(dp)
                yield dp
            self._complete = True


class RepeatedDataPoint(ProxyDataFlow):
    """Yield each datapoint ``num`` times in a row: ``dp1, dp1, dp2, dp2, ...``."""

    def __init__(self, ds, num):
        """
        Args:
            ds (DataFlow): the source.
            num (int): repetitions, at least 1.

        Raises:
            ValueError: if ``num`` < 1.
        """
        super().__init__(ds)
        self.num = int(num)
        if self.num < 1:
            raise ValueError("RepeatedDataPoint: num must be >= 1, got {}.".format(num))

    def __len__(self):
        return len(self.ds) * self.num

    def __iter__(self):
        for dp in self.ds:
            for _ in range(self.num):
                yield dp
