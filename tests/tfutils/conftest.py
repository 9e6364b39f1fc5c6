"""Fixtures shared by the restore tests of this folder."""
import pytest
import tensorflow as tf

from tensorpack.compat import tfv1


@pytest.fixture
def variable_graph():
    """``build(names, shape, devices=None, use_resource=True) -> (graph, {name: variable})``:
    a new graph with a zero-initialized float32 variable of ``shape`` per name (sorted), the
    i-th on ``devices[i % len(devices)]`` (no device if None)."""
    def build(names, shape, devices=None, use_resource=True):
        g = tf.Graph()
        vs = {}
        with g.as_default():
            for i, name in enumerate(sorted(names)):
                with tf.device(devices[i % len(devices)] if devices else None):
                    vs[name] = tfv1.get_variable(name, shape,
                                                 initializer=tfv1.zeros_initializer(),
                                                 use_resource=use_resource)
        return g, vs
    return build
