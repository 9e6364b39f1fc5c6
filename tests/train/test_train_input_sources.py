"""Feed-free input sources: TensorInput, DummyConstantInput, TFDatasetInput, StagingInput."""
import numpy as np
import pytest
import tensorflow as tf

from tensorpack import (BatchData, DataFromList, DummyConstantInput, QueueInput, RepeatedData,
                        StagingInput, TensorInput, TFDatasetInput)
from tensorpack.compat import tfv1
from train_testlib import make_points, train_tiny


def test_tensor_input_and_dummy_constant_input(fresh_graph):
    def fn():
        return [tf.ones([2, 4]), tf.zeros([2], tf.int32)]
    trainer, grab = train_tiny(TensorInput(fn, size=5))
    assert trainer.global_step == 3 and (grab.xs[0] == 1).all()
    tfv1.reset_default_graph()
    trainer, grab = train_tiny(DummyConstantInput([[3, 4], [3]]))
    assert grab.xs[0].shape == (3, 4) and (grab.xs[0] == 0).all()
    with pytest.raises(ValueError, match="function"):
        TensorInput([1, 2])
    with pytest.raises(NotImplementedError):
        TensorInput(fn).size()


def test_tfdataset_input_from_a_dataflow_and_a_dataset(fresh_graph):
    points = make_points(12)
    df = RepeatedData(BatchData(DataFromList(points, shuffle=False), 4), -1)
    trainer, grab = train_tiny(TFDatasetInput(df), steps=4)
    assert trainer.global_step == 4
    np.testing.assert_array_equal(grab.xs[0], np.stack([p[0] for p in points[:4]]))
    np.testing.assert_array_equal(grab.xs[3], grab.xs[0])  # the repeat started over
    tfv1.reset_default_graph()
    ds = tf.data.Dataset.from_tensor_slices((np.ones((8, 4), "float32"),
                                             np.zeros(8, "int32"))).batch(2).repeat()
    trainer, grab = train_tiny(TFDatasetInput(ds))
    assert grab.xs[0].shape == (2, 4)
    tfv1.reset_default_graph()
    bad = tf.data.Dataset.from_tensor_slices((np.ones((8, 4), "float64"),
                                              np.zeros(8, "int32"))).batch(2)
    with pytest.raises(ValueError, match="float64"):
        train_tiny(TFDatasetInput(bad))


def test_staging_input_passes_through(fresh_graph):
    df = BatchData(DataFromList(make_points(12), shuffle=False), 4)
    trainer, grab = train_tiny(StagingInput(QueueInput(df)))
    assert trainer.global_step == 3 and grab.xs[0].shape == (4, 4)
    with pytest.raises(ValueError, match="InputSource"):
        StagingInput(df)
