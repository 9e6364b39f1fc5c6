"""HookedSession: the trainer's light MonitoredSession; results must equal Session.run's."""
import numpy as np
import pytest
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.train.hooked_session import HookedSession


class Hook:
    def __init__(self, fetches=None, feed=None, stop_at=None):
        self.fetches, self.feed, self.stop_at = fetches, feed, stop_at
        self.results, self.calls = [], 0

    def before_run(self, ctx):
        self.calls += 1
        if self.fetches is None and self.feed is None:
            return None
        return tfv1.train.SessionRunArgs(fetches=self.fetches, feed_dict=self.feed)

    def after_run(self, ctx, values):
        self.results.append(values.results)
        if self.stop_at == self.calls:
            ctx.request_stop()


@pytest.fixture
def graph(fresh_graph):
    x = tfv1.placeholder(tf.float32, [None], name="x")
    k = tfv1.placeholder(tf.int32, [], name="k")
    v = tfv1.get_variable("v", [], initializer=tfv1.zeros_initializer())
    total = tf.reduce_sum(x, name="total")
    inc = tfv1.assign_add(v, 1.0).op
    sess = tfv1.Session()
    sess.run(tfv1.global_variables_initializer())
    yield dict(x=x, k=k, v=v, total=total, inc=inc, sess=sess,
               s=tf.constant("text"), kk=tf.identity(k * 2, name="kk"))
    sess.close()


def test_nested_fetches_match_session_run(graph):
    g = graph
    fetches = {"a": [g["total"], (g["kk"], "total:0")], "b": g["inc"], "c": [], "d": g["s"]}
    feed = {g["x"]: np.array([1.0, 2.0]), "k:0": 3}  # float64 and a Python int: cast like run
    hooked = HookedSession(g["sess"], [])
    for _ in range(3):  # the first call compiles, the next ones reuse the callable
        got = hooked.run(fetches, feed_dict=feed)
    want = g["sess"].run(fetches, feed_dict=feed)
    assert got.keys() == want.keys()
    assert got["a"][0] == want["a"][0] == 3.0
    assert isinstance(got["a"][1], tuple) and got["a"][1] == (6, 3.0)
    assert got["b"] is None and got["c"] == [] and got["d"] == b"text"
    assert type(got["a"][0]) is type(want["a"][0])
    assert g["sess"].run(g["v"]) == 4.0  # three hooked runs + one plain run


def test_hooks_get_their_results_and_feeds_merge(graph):
    g = graph
    h1 = Hook(fetches=[g["kk"]], feed={g["k"]: 5})
    h2 = Hook()  # asks for nothing
    h3 = Hook(fetches=g["v"])
    hooked = HookedSession(g["sess"], [h1, h2, h3])
    out = hooked.run(g["total"], feed_dict={g["x"]: [1.0]})
    out = hooked.run(g["total"], feed_dict={g["x"]: [2.0, 2.0]})
    assert out == 4.0
    assert h1.results == [[10], [10]] and h2.results == [None, None] and h3.results == [0.0, 0.0]


def test_conflicting_feeds_are_an_error(graph):
    g = graph
    hooked = HookedSession(g["sess"], [Hook(fetches=[], feed={g["x"]: [1.0]})])
    with pytest.raises(RuntimeError, match="x:0"):
        hooked.run(g["total"], feed_dict={g["x"]: [2.0]})


def test_request_stop_sets_should_stop(graph):
    g = graph
    hooked = HookedSession(g["sess"], [Hook(stop_at=2)])
    hooked.run(g["inc"])
    assert not hooked.should_stop()
    hooked.run(g["inc"])
    assert hooked.should_stop()


def test_run_options_and_metadata_still_work(graph):
    g = graph
    meta = tfv1.RunMetadata()
    opts = tfv1.RunOptions(trace_level=tfv1.RunOptions.FULL_TRACE)
    hooked = HookedSession(g["sess"], [Hook(fetches=[g["kk"]], feed={g["k"]: 1})])
    assert hooked.run(g["total"], feed_dict={g["x"]: [3.0]}, options=opts,
                      run_metadata=meta) == 3.0
    assert meta.step_stats.dev_stats  # the trace was collected


def test_errors_from_the_graph_propagate(graph):
    g = graph
    hooked = HookedSession(g["sess"], [])
    with pytest.raises(tf.errors.InvalidArgumentError):
        hooked.run(g["total"])  # x not fed
    queue = tfv1.FIFOQueue(1, [tf.float32])
    deq = queue.dequeue()
    g["sess"].run(queue.close())
    with pytest.raises(tf.errors.OutOfRangeError):
        HookedSession(g["sess"], []).run(deq)
