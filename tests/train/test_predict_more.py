"""FeedfreePredictor, MultiThreadAsyncPredictor, MultiProcessDatasetPredictor."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tensorpack import (BatchData, DataFromList, DictRestore, OfflinePredictor, PredictConfig, QueueInput,
                        TensorInput)
from tensorpack.compat import tfv1
from tensorpack.predict import (FeedfreePredictor, MultiProcessDatasetPredictor,
                                MultiThreadAsyncPredictor)
from tensorpack.predict import dataset as predict_dataset
from train_testlib import TinyModel, make_points

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


_RNG = np.random.RandomState(5)
WEIGHTS = {"fc/W": _RNG.randn(4, 3).astype("float32"), "fc/b": _RNG.randn(3).astype("float32")}


def _config(**kw):
    return PredictConfig(model=TinyModel(summary=False), output_names=["prob"],
                         session_init=DictRestore(WEIGHTS), **kw)


def test_feedfree_predictor_queue_input(fresh_graph):
    points = make_points(8)
    ds = BatchData(DataFromList(points, shuffle=False), 4)
    pred = FeedfreePredictor(_config(), QueueInput(ds))
    first, = pred()
    second, = pred()
    pred.close()
    offline = OfflinePredictor(_config(input_names=["x"]))
    xs = np.stack([p[0] for p in points])
    expected, = offline(xs)
    np.testing.assert_allclose(first, expected[:4], rtol=1e-6)
    np.testing.assert_allclose(second, expected[4:], rtol=1e-6)
    with pytest.raises(TypeError):  # takes no inputs, as upstream
        pred(xs)


def test_feedfree_predictor_rejects_return_input(fresh_graph):
    with pytest.raises(ValueError, match="return_input"):
        FeedfreePredictor(_config(return_input=True),
                          TensorInput(lambda: [tf.zeros([1, 4]), tf.zeros([1], tf.int32)]))


def test_multithread_async_predictor(fresh_graph):
    preds = [OfflinePredictor(_config(input_names=["x"])) for _ in range(2)]
    xs = np.random.RandomState(0).randn(12, 4).astype("float32")
    expected, = preds[0](xs)
    async_pred = MultiThreadAsyncPredictor(preds, batch_size=4)
    async_pred.start()
    done = []
    futures = [async_pred.put_task([x], callback=done.append) for x in xs]
    results = [f.result(timeout=30) for f in futures]
    np.testing.assert_allclose(np.stack([r[0] for r in results]), expected, rtol=1e-5)
    assert len(done) == 12
    single, = async_pred(xs[0])  # a plain call waits for the result
    np.testing.assert_allclose(single, expected[0], rtol=1e-5)
    async_pred.stop()
    assert not any(t.is_alive() for t in async_pred.threads)


def test_multithread_async_predictor_argument_checks():
    with pytest.raises(ValueError):
        MultiThreadAsyncPredictor([])
    with pytest.raises(ValueError, match="OnlinePredictor"):
        MultiThreadAsyncPredictor([lambda x: x])


def test_multiprocess_predictor_needs_gpus(monkeypatch, fresh_graph):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    ds = DataFromList([[np.zeros((1, 4), "float32")]])
    assert predict_dataset.MultiProcessDatasetPredictor is MultiProcessDatasetPredictor
    with pytest.raises(ValueError, match="GPU"):
        MultiProcessDatasetPredictor(_config(input_names=["x"]), ds, nr_proc=2)
    with pytest.raises(ValueError, match="nr_proc"):
        MultiProcessDatasetPredictor(_config(input_names=["x"]), ds, nr_proc=0, use_gpu=False)


SCRIPT = """
import numpy as np
import tensorflow as tf
from tensorpack import DataFromList, PredictConfig
from tensorpack.compat import tfv1
from tensorpack.predict import MultiProcessDatasetPredictor

def tower(x):
    w = tfv1.get_variable('w', initializer=np.arange(8, dtype='float32').reshape(4, 2))
    tf.matmul(x, w, name='out')

cfg = PredictConfig(tower_func=tower, input_signature=[tf.TensorSpec((None, 4), tf.float32, 'x')],
                    output_names=['out'])
xs = [np.random.RandomState(i).randn(3, 4).astype('float32') for i in range(7)]
pred = MultiProcessDatasetPredictor(cfg, DataFromList([[x] for x in xs], shuffle=False),
                                    nr_proc=2, use_gpu=False)
res = pred.get_all_result()
w = np.arange(8, dtype='float32').reshape(4, 2)
assert len(res) == 7, len(res)
for x, r in zip(xs, res):
    np.testing.assert_allclose(r[0], x @ w, rtol=1e-5)
assert not any(p.is_alive() for p in pred.workers)

def bad_tower(x):
    raise ValueError('broken model')
bad = PredictConfig(tower_func=bad_tower, input_signature=cfg.input_signature,
                    output_names=['out'])
pred = MultiProcessDatasetPredictor(bad, DataFromList([[x] for x in xs], shuffle=False),
                                    nr_proc=1, use_gpu=False, ordered=False)
try:
    pred.get_all_result()
except RuntimeError as e:
    assert 'broken model' in str(e), e
else:
    raise AssertionError('no error')
print('OK')
"""


def test_multiprocess_dataset_predictor_in_fresh_process():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT)], capture_output=True,
                         text=True, timeout=180, env=env)
    assert res.returncode == 0 and res.stdout.strip().endswith("OK"), res.stderr[-3000:]
