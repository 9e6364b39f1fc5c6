"""Helpers shared by the layer tests (imported by test files in this directory)."""
import numpy as np

from tensorpack.compat import tfv1


def var_shapes(graph=None):
    """{variable name: shape} of the graph's global variables."""
    graph = graph or tfv1.get_default_graph()
    return {v.op.name: v.shape.as_list()
            for v in graph.get_collection(tfv1.GraphKeys.GLOBAL_VARIABLES)}


def graph_signature(graph):
    """What two graphs built the same way share: every op's name, type, inputs and output
    shapes, and each variable's name and shape."""
    ops = []
    for op in graph.get_operations():
        ops.append((op.name, op.type, tuple(t.name for t in op.inputs),
                    tuple(str(t.shape) for t in op.outputs)))
    return ops, var_shapes(graph)


def build_twice(build_old, build_new):
    """Build two fresh graphs and return their signatures."""
    sigs = []
    for build in (build_old, build_new):
        g = tfv1.Graph()
        with g.as_default():
            build()
        sigs.append(graph_signature(g))
    return sigs


def run(fetches, feed=None, init=True):
    """Run ``fetches`` in a new session of the default graph (variables initialized)."""
    with tfv1.Session() as sess:
        if init:
            sess.run(tfv1.global_variables_initializer())
        return sess.run(fetches, feed)


def rand(*shape, seed=0):
    return np.random.RandomState(seed).rand(*shape).astype("float32")
