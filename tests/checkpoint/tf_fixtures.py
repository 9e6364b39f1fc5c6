"""Checkpoints made by real TensorFlow, for checking our TF-free reader and writer.

Each ``make_*`` function takes a directory, writes a checkpoint there with TensorFlow and
returns its prefix plus what was saved. Import this module only after
``pytest.importorskip("tensorflow")``.
"""
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

tf1 = tf.compat.v1

NUMERIC_DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
                  "uint16", "uint32", "uint64", "bool", "complex64", "complex128"]


def sample_arrays(seed=0):
    """One small array per dtype TF variables can have, plus strings, scalars, empties.

    Returns:
        dict[str, np.ndarray]: strings as object arrays of bytes; bfloat16 via ml_dtypes.
    """
    import ml_dtypes
    rng = np.random.default_rng(seed)
    out = {}
    for dt in NUMERIC_DTYPES:
        if dt == "bool":
            out["v_bool"] = rng.integers(0, 2, (3, 4)).astype(bool)
        elif dt.startswith("complex"):
            out["v_" + dt] = (rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
                              ).astype(dt)
        else:
            out["v_" + dt] = (rng.standard_normal((3, 4)) * 50).astype(dt)
    out["v_bfloat16"] = np.array([1.5, -2.25, 3.0, 1e-3], dtype=ml_dtypes.bfloat16)
    out["v_string"] = np.array([b"hello", b"", b"x" * 200, "\u00e9".encode()], dtype=object)
    out["v_string_scalar"] = np.array(b"scalar", dtype=object)
    out["v_string_empty"] = np.zeros((0,), dtype=object)
    out["v_empty"] = np.zeros((0, 3), np.float32)
    out["v_scalar"] = np.array(3.5, np.float32)
    out["scope/inner/W"] = rng.standard_normal((5, 6)).astype(np.float32)
    return out


def to_tf_constant(arr):
    """A tf constant holding ``arr`` (object arrays become tf.string)."""
    if arr.dtype == object:
        return tf.constant(list(arr.reshape(-1)), dtype=tf.string, shape=arr.shape)
    if arr.dtype.name == "bfloat16":
        return tf.cast(tf.constant(arr.astype(np.float32)), tf.bfloat16)
    return tf.constant(arr)


def make_saver_checkpoint(directory, arrays):
    """Variables for ``arrays`` in a graph, saved by tf.compat.v1.train.Saver (V2)."""
    os.makedirs(directory, exist_ok=True)
    g = tf.Graph()
    with g.as_default():
        for name, arr in arrays.items():
            tf1.Variable(to_tf_constant(arr), name=name)
        saver = tf1.train.Saver()
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            return saver.save(sess, os.path.join(directory, "model"), global_step=7,
                              write_meta_graph=False)


def make_partitioned_checkpoint(directory):
    """A variable split in 3 by a fixed_size_partitioner plus a plain one, Saver-saved."""
    os.makedirs(directory, exist_ok=True)
    g = tf.Graph()
    with g.as_default():
        tf1.get_variable("part", shape=[10, 4], initializer=tf1.random_normal_initializer(),
                         partitioner=tf1.fixed_size_partitioner(3))
        tf1.get_variable("plain", shape=[2], initializer=tf1.ones_initializer())
        saver = tf1.train.Saver()
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            return saver.save(sess, os.path.join(directory, "part"), write_meta_graph=False)


def make_sharded_checkpoint(directory):
    """Variables on two CPU devices saved with Saver(sharded=True): two data shards."""
    os.makedirs(directory, exist_ok=True)
    g = tf.Graph()
    with g.as_default():
        for i in range(4):
            with tf.device("/cpu:{}".format(i % 2)):
                tf1.Variable(np.arange(6, dtype=np.float32).reshape(2, 3) + i, name="s{}".format(i))
        saver = tf1.train.Saver(sharded=True)
        config = tf1.ConfigProto(device_count={"CPU": 2})
        with tf1.Session(graph=g, config=config) as sess:
            sess.run(tf1.global_variables_initializer())
            return saver.save(sess, os.path.join(directory, "sharded"), write_meta_graph=False)


class _Net(tf.Module):
    def __init__(self):
        super().__init__(name="net")
        self.w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2), name="dense/kernel")
        self.b = tf.Variable(np.zeros((2,), np.float32), name="dense/bias")
        self.layers = [tf.Variable(np.full((2,), 2.0, np.float64), name="extra")]


class _Opt(tf.Module):
    def __init__(self):
        super().__init__(name="opt")
        self.iterations = tf.Variable(np.int64(5), name="iter")


def make_tf2_checkpoint(directory):
    """An object-based checkpoint written by tf.train.CheckpointManager.

    Built in a graph (works whether or not eager execution is on), through
    ``tf.compat.v1.train.Checkpoint``, which writes the same format as TF2's.

    Returns:
        str: the prefix (``directory/ckpt-1``).
    """
    g = tf.Graph()
    with g.as_default():
        ckpt = tf1.train.Checkpoint(model=_Net(), optimizer=_Opt())
        with tf1.Session(graph=g) as sess:
            sess.run(tf1.global_variables_initializer())
            manager = tf.train.CheckpointManager(ckpt, directory, max_to_keep=2)
            return manager.save()
