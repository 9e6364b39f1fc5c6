"""ModelExporter: a trained model exported both ways runs in plain TensorFlow (a subprocess
that never imports tensorpack) and gives the OfflinePredictor's outputs."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tensorpack import (BatchData, BatchNorm, DataFromList, FullyConnected, ModelDesc,
                        ModelSaver, OfflinePredictor, PredictConfig, SimpleTrainer, SmartInit,
                        TrainConfig, launch_train_with_config)
from tensorpack.compat import tfv1
from tensorpack.tfutils.export import ModelExporter
from train_testlib import make_points

X = np.random.RandomState(3).randn(5, 4).astype("float32")


class BNModel(ModelDesc):
    """FC -> BatchNorm -> relu -> FC: has EMA statistics and training-only ops to prune."""

    def inputs(self):
        return [tf.TensorSpec((None, 4), tf.float32, "x"), tf.TensorSpec((None,), tf.int32, "y")]

    def build_graph(self, x, y):
        h = FullyConnected("fc0", x, 8)
        h = tf.nn.relu(BatchNorm("bn", h))
        logits = FullyConnected("fc1", h, 3)
        tf.nn.softmax(logits, name="prob")
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=y, logits=logits), name="cost")

    def optimizer(self):
        return tfv1.train.GradientDescentOptimizer(0.1)


LOAD_COMPACT = """
import json, sys
import numpy as np
import tensorflow as tf
graph_def = tf.compat.v1.GraphDef.FromString(open(sys.argv[1], 'rb').read())
g = tf.Graph()
with g.as_default():
    tf.compat.v1.import_graph_def(graph_def, name='')
with tf.compat.v1.Session(graph=g) as sess:
    out = sess.run('prob:0', {'x:0': np.array(json.loads(sys.argv[2]), np.float32)})
assert not any(m.startswith('tensorpack') for m in sys.modules)
print(json.dumps(out.tolist()))
"""

LOAD_SERVING = """
import json, sys
import numpy as np
import tensorflow as tf
v1 = tf.compat.v1
g = tf.Graph()
with v1.Session(graph=g) as sess:
    meta = v1.saved_model.loader.load(sess, [v1.saved_model.tag_constants.SERVING], sys.argv[1])
    sig = meta.signature_def['prediction_pipeline']
    assert sig.method_name == 'tensorflow/serving/predict', sig.method_name
    assert sorted(sig.inputs) == ['x:0'] and sorted(sig.outputs) == ['prob:0'], sig
    out = sess.run(sig.outputs['prob:0'].name,
                   {sig.inputs['x:0'].name: np.array(json.loads(sys.argv[2]), np.float32)})
assert not any(m.startswith('tensorpack') for m in sys.modules)
print(json.dumps(out.tolist()))
"""


def _run_plain_tf(script, path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)  # tensorpack must not even be importable
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(script), path,
                          json.dumps(X.tolist())], capture_output=True, text=True,
                         timeout=120, env=env, cwd=os.path.dirname(path))
    assert res.returncode == 0, res.stderr[-3000:]
    return np.array(json.loads(res.stdout.strip().splitlines()[-1]), np.float32)


@pytest.fixture
def trained(logdir):
    df = BatchData(DataFromList(make_points(24), shuffle=False), 8)
    config = TrainConfig(model=BNModel(), dataflow=df, callbacks=[ModelSaver()],
                         steps_per_epoch=3, max_epoch=2, monitors=[])
    launch_train_with_config(config, SimpleTrainer())
    tfv1.reset_default_graph()
    return os.path.join(logdir, "checkpoint")


def _config(ckpt):
    return PredictConfig(model=BNModel(), session_init=SmartInit(ckpt),
                         input_names=["x"], output_names=["prob"])


def test_export_compact_and_serving_match_offline_predictor(trained, tmp_path):
    expected = OfflinePredictor(_config(trained))(X)[0]
    # the model was trained: its BN statistics left their initial values
    with tfv1.Graph().as_default():
        reader = tfv1.train.load_checkpoint(os.path.dirname(trained))
        assert not np.allclose(reader.get_tensor("bn/mean/EMA"), 0)

    pb = str(tmp_path / "compact.pb")
    ModelExporter(_config(trained)).export_compact(pb)
    np.testing.assert_allclose(_run_plain_tf(LOAD_COMPACT, pb), expected, rtol=1e-5, atol=1e-6)
    graph_def = tfv1.GraphDef.FromString(open(pb, "rb").read())
    ops = {n.op for n in graph_def.node}
    assert not ops & {"VarHandleOp", "VariableV2", "ReadVariableOp", "AssignVariableOp"}, ops
    assert "y" not in {n.name for n in graph_def.node}  # pruned: prob does not need the label
    assert not graph_def.library.function  # nor the restore's function


    pb2 = str(tmp_path / "compact_noopt.pb")
    ModelExporter(_config(trained)).export_compact(pb2, optimize=False)
    np.testing.assert_allclose(_run_plain_tf(LOAD_COMPACT, pb2), expected, rtol=1e-5, atol=1e-6)
    assert not tfv1.GraphDef.FromString(open(pb2, "rb").read()).library.function

    serving = str(tmp_path / "serving")
    ModelExporter(_config(trained)).export_serving(serving)
    assert os.path.exists(os.path.join(serving, "saved_model.pb"))
    assert os.path.exists(os.path.join(serving, "variables", "variables.index"))
    np.testing.assert_allclose(_run_plain_tf(LOAD_SERVING, serving), expected, rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(FileExistsError, match="already exists"):
        ModelExporter(_config(trained)).export_serving(serving)


def test_export_compact_argument_check(tmp_path):
    with pytest.raises(ValueError, match="optimize"):
        ModelExporter(None).export_compact(str(tmp_path / "x.pb"), optimize=False,
                                           toco_compatible=True)
