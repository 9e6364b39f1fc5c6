"""DataFlow basics: iteration, length, reset_state, batching, mapping; no TensorFlow import."""
import subprocess
import sys

import numpy as np
import pytest

from tensorpack.dataflow import (BatchData, DataFlow, DataFromGenerator, DataFromList,
                                 FixedSizeData, MapData, MapDataComponent, RepeatedData,
                                 RNGDataFlow)


def _ints(n):
    return DataFromList([[i] for i in range(n)], shuffle=False)


def test_dataflow_package_does_not_import_tensorflow():
    code = ("import sys, tensorpack.dataflow as d\n"
            "ds = d.BatchData(d.DataFromList([[1]] * 4, shuffle=False), 2)\n"
            "list(ds)\nprint('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_datafromlist_no_shuffle_keeps_order_and_len():
    ds = _ints(5)
    ds.reset_state()
    assert len(ds) == 5
    assert [dp[0] for dp in ds] == list(range(5))


def test_datafromlist_shuffle_is_a_permutation_and_needs_reset():
    ds = DataFromList([[i] for i in range(50)], shuffle=True)
    with pytest.raises(RuntimeError, match="reset_state"):
        list(ds)
    ds.reset_state()
    order = [dp[0] for dp in ds]
    assert sorted(order) == list(range(50))
    assert order != list(range(50))  # 50! orderings: identity is practically impossible


def test_rng_dataflow_reset_creates_rng():
    class R(RNGDataFlow):
        def __iter__(self):
            yield [self.rng.rand()]
    ds = R()
    assert ds.rng is None
    ds.reset_state()
    assert isinstance(ds.rng, np.random.RandomState)


def test_batchdata_stacks_and_picks_upstream_dtypes():
    ds = DataFromList([[i, float(i), np.ones(3, "float16")] for i in range(7)], shuffle=False)
    b = BatchData(ds, 3)
    assert len(b) == 2
    batches = list(b)
    assert len(batches) == 2
    ints, floats, arrs = batches[0]
    assert ints.dtype == np.int32 and floats.dtype == np.float32 and arrs.dtype == np.float16
    assert arrs.shape == (3, 3)
    np.testing.assert_array_equal(batches[1][0], [3, 4, 5])


def test_batchdata_remainder_and_use_list():
    ds = _ints(7)
    b = BatchData(ds, 3, remainder=True)
    assert len(b) == 3
    assert [len(x[0]) for x in b] == [3, 3, 1]
    lists = list(BatchData(ds, 3, use_list=True))
    assert lists[0][0] == [0, 1, 2]


def test_batchdata_dict_datapoints():
    ds = DataFromList([{"a": i, "b": np.zeros(2)} for i in range(4)], shuffle=False)
    out = list(BatchData(ds, 2))
    assert out[0]["a"].tolist() == [0, 1] and out[0]["b"].shape == (2, 2)


@pytest.mark.parametrize("kwargs, match", [({"batch_size": 0}, "positive"),
                                           ({"batch_size": 10}, "larger than")])
def test_batchdata_invalid_batch_size_is_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BatchData(_ints(5), **kwargs)


def test_batchdata_inconsistent_shapes_is_value_error():
    ds = DataFromList([[np.zeros(2)], [np.zeros(3)]], shuffle=False)
    with pytest.raises(ValueError, match="shapes"):
        list(BatchData(ds, 2))


def test_fixedsizedata_keeps_state_between_passes():
    ds = FixedSizeData(_ints(5), 3)
    ds.reset_state()
    assert len(ds) == 3
    assert [dp[0] for dp in ds] == [0, 1, 2]
    assert [dp[0] for dp in ds] == [3, 4, 0]


def test_fixedsizedata_without_state_restarts():
    ds = FixedSizeData(_ints(5), 3, keep_state=False)
    ds.reset_state()
    assert [dp[0] for dp in ds] == [0, 1, 2]
    assert [dp[0] for dp in ds] == [0, 1, 2]


def test_mapdata_maps_and_drops_without_touching_source():
    src = [[i, i] for i in range(6)]
    ds = MapData(DataFromList(src, shuffle=False),
                 lambda dp: None if dp[0] % 2 else [dp[0] * 10, dp[1]])
    assert [dp[0] for dp in ds] == [0, 20, 40]
    assert src[2] == [2, 2]


def test_mapdatacomponent_maps_one_component():
    src = [(i, i) for i in range(3)]
    ds = MapDataComponent(DataFromList(src, shuffle=False), lambda v: v + 100, index=1)
    assert list(ds) == [[0, 100], [1, 101], [2, 102]]
    assert src[0] == (0, 0)
    dropped = MapDataComponent(DataFromList(src, shuffle=False),
                               lambda v: None if v == 1 else v, index=0)
    assert [dp[0] for dp in dropped] == [0, 2]


def test_repeateddata_length_and_infinite():
    ds = RepeatedData(_ints(2), 3)
    assert len(ds) == 6 and [dp[0] for dp in ds] == [0, 1] * 3
    inf = RepeatedData(_ints(2), -1)
    with pytest.raises(NotImplementedError):
        len(inf)
    it = iter(inf)
    assert [next(it)[0] for _ in range(5)] == [0, 1, 0, 1, 0]


def test_proxy_reset_state_reaches_the_source():
    src = DataFromList([[1]], shuffle=True)
    BatchData(MapData(src, lambda dp: dp), 1).reset_state()
    assert src.rng is not None


def test_old_style_get_data_and_size_still_work():
    class Old(DataFlow):
        def get_data(self):
            yield [1]
            yield [2]

        def size(self):
            return 2
    ds = Old()
    assert len(ds) == 2 and list(ds) == [[1], [2]]


def test_len_unknown_raises_not_implemented():
    ds = DataFromGenerator(lambda: iter([[1]]))
    with pytest.raises(NotImplementedError):
        len(ds)
    assert [dp for dp in ds] == [[1]] and [dp for dp in ds] == [[1]]  # re-invoked each pass
