"""The combining DataFlows: concat, join, select, random mixes, local shuffle, cache, fake."""
import numpy as np
import pytest

from tensorpack.dataflow import (CacheData, ConcatData, DataFromList, FakeData, JoinData,
                                 LocallyShuffleData, RandomChooseData, RandomMixData,
                                 RepeatedDataPoint, SelectComponent)


def _ints(values):
    return DataFromList([[v] for v in values], shuffle=False)


def _take(ds, n):
    it = iter(ds)
    return [next(it) for _ in range(n)]


def test_concat_and_join():
    c = ConcatData([_ints([1, 2]), _ints([3])])
    c.reset_state()
    assert len(c) == 3 and [dp[0] for dp in c] == [1, 2, 3]
    j = JoinData([_ints([1, 2, 3]), _ints([4, 5])])
    assert len(j) == 2 and [dp for dp in j] == [[1, 4], [2, 5]]
    d = JoinData([DataFromList([{"a": 1}], shuffle=False), DataFromList([{"b": 2}], shuffle=False)])
    assert [dp for dp in d] == [{"a": 1, "b": 2}]


def test_select_component_reorders():
    ds = SelectComponent(DataFromList([[0, 1, 2]], shuffle=False), [2, 0])
    assert [dp for dp in ds] == [[2, 0]]


def test_random_choose_and_mix():
    a, b = _ints(range(0, 100)), _ints(range(100, 200))
    ch = RandomChooseData([a, b])
    ch.reset_state()
    got = [dp[0] for dp in ch]
    assert got and any(v < 100 for v in got) and any(v >= 100 for v in got)
    with pytest.raises(ValueError, match="sum"):
        RandomChooseData([(a, 0.5), (b, 0.6)])
    mix = RandomMixData([_ints(range(5)), _ints(range(5, 8))])
    mix.reset_state()
    vals = [dp[0] for dp in mix]
    assert sorted(vals) == list(range(8)) and len(mix) == 8
    # each source keeps its own order inside the mix
    assert [v for v in vals if v < 5] == list(range(5))


def test_locally_shuffle_yields_every_datapoint_and_runs_on():
    ds = LocallyShuffleData(_ints(range(20)), buffer_size=5)
    with pytest.raises(RuntimeError, match="reset_state"):
        next(iter(ds))
    ds.reset_state()
    first = [dp[0] for dp in _take(ds, 40)]
    assert set(first) == set(range(20))
    assert first[:20] != list(range(20))


def test_cache_data_replays_a_complete_first_pass():
    calls = []

    def gen():
        calls.append(1)
        return iter([[1], [2], [3]])
    from tensorpack.dataflow import DataFromGenerator
    ds = CacheData(DataFromGenerator(gen))
    ds.reset_state()
    assert [dp[0] for dp in ds] == [1, 2, 3]
    assert [dp[0] for dp in ds] == [1, 2, 3]
    assert len(calls) == 1
    shuffled = CacheData(_ints(range(30)), shuffle=True)
    shuffled.reset_state()
    [dp for dp in shuffled]
    second = [dp[0] for dp in shuffled]
    assert sorted(second) == list(range(30)) and second != list(range(30))


def test_repeated_datapoint():
    ds = RepeatedDataPoint(_ints([1, 2]), 2)
    assert len(ds) == 4 and [dp[0] for dp in ds] == [1, 1, 2, 2]
    with pytest.raises(ValueError, match=">= 1"):
        RepeatedDataPoint(_ints([1]), 0)


def test_fake_data():
    ds = FakeData([[2, 3], [4]], size=5, dtype=["float32", "int32"], domain=[(0, 1), (0, 10)])
    ds.reset_state()
    dps = [dp for dp in ds]
    assert len(dps) == 5 and dps[0][0].shape == (2, 3) and dps[0][1].dtype == np.int32
    assert all(0 <= dp[0].min() and dp[0].max() < 1 for dp in dps)
    fixed = FakeData([[2]], size=3, random=False)
    vals = [dp[0] for dp in fixed]
    assert all((v == vals[0]).all() for v in vals)
    with pytest.raises(ValueError, match="dtypes"):
        FakeData([[1], [2]], dtype=["float32"])
