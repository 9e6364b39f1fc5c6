"""Transfer learning as users do it: train, save, rename (or ignore) a layer, restore the rest."""
import logging

import numpy as np
import pytest

from tensorpack.compat import tfv1
from tensorpack.tfutils.sessinit import SaverRestore, SmartInit


@pytest.fixture
def logs(caplog):
    log = logging.getLogger("tensorpack")
    old = log.propagate
    log.propagate = True
    caplog.set_level(logging.INFO, logger="tensorpack")
    yield caplog
    log.propagate = old


def build(head="head", classes=3):
    """A two-layer classifier trained with Momentum (so the checkpoint has slots)."""
    x = tfv1.constant(np.random.RandomState(0).rand(4, 5).astype(np.float32))
    y = tfv1.constant([0, 1, 2, 0][:4], dtype=tfv1.int64) % classes
    with tfv1.variable_scope("body"):
        h = tfv1.nn.relu(tfv1.matmul(x, tfv1.get_variable("W", [5, 8])) +
                         tfv1.get_variable("b", [8], initializer=tfv1.zeros_initializer()))
    with tfv1.variable_scope(head):
        logits = tfv1.matmul(h, tfv1.get_variable("W", [8, classes])) + \
            tfv1.get_variable("b", [classes], initializer=tfv1.zeros_initializer())
    loss = tfv1.reduce_mean(tfv1.nn.sparse_softmax_cross_entropy_with_logits(
        labels=y, logits=logits))
    gs = tfv1.train.get_or_create_global_step()
    train = tfv1.train.MomentumOptimizer(0.1, 0.9).minimize(loss, global_step=gs)
    return train


@pytest.fixture
def trained(tmp_path):
    """Train a few steps and save everything (weights, slots, global step)."""
    graph = tfv1.Graph()
    with graph.as_default():
        train = build()
        with tfv1.Session() as sess:
            sess.run(tfv1.global_variables_initializer())
            for _ in range(3):
                sess.run(train)
            values = {v.op.name: sess.run(v) for v in tfv1.global_variables()}
            prefix = tfv1.train.Saver().save(sess, str(tmp_path / "model"), global_step=3,
                                             write_meta_graph=False)
    return prefix, values


def restore_into(graph, train, session_init):
    with graph.as_default():
        session_init._setup_graph()
        sess = tfv1.Session()
        sess.run(tfv1.global_variables_initializer())
        report = session_init._run_init(sess)
    return sess, report


def test_rename_last_layer_restores_the_rest(trained, logs):
    prefix, saved = trained
    graph = tfv1.Graph()
    with graph.as_default():
        train = build(head="new_head", classes=2)
    sess, rep = restore_into(graph, train, SmartInit(prefix))
    with graph.as_default():
        got = {v.op.name: sess.run(v) for v in tfv1.global_variables()}
        sess.run(train)  # the new model trains on from there
    for name in ("body/W", "body/b", "body/W/Momentum", "global_step"):
        np.testing.assert_array_equal(got[name], saved[name])
    assert sorted(rep.graph_only) == ["new_head/W", "new_head/b"]
    assert sorted(rep.source_only) == ["head/W", "head/b"]
    assert sorted(rep.graph_only_training) == ["new_head/W/Momentum", "new_head/b/Momentum"]
    assert sorted(rep.restored) == ["body/W", "body/W/Momentum", "body/b", "body/b/Momentum",
                                    "global_step"]
    text = [r.getMessage() for r in logs.records if r.getMessage().startswith("Restored ")]
    assert len(text) == 1
    assert "new_head/W" in text[0] and "head/W" in text[0]
    assert "Momentum" not in text[0]  # slots are counted, not listed


def test_same_name_new_shape_needs_ignore(trained):
    prefix, saved = trained
    graph = tfv1.Graph()
    with graph.as_default():
        train = build(head="head", classes=2)
    with graph.as_default(), pytest.raises(ValueError, match="head/W.*\\(8, 3\\).*\\(8, 2\\)"):
        SaverRestore(prefix)._setup_graph()
    # ignoring the layer also ignores its Momentum slots (which have the old shape too)
    sess, rep = restore_into(graph, train, SaverRestore(prefix, ignore=["head/*"]))
    assert sorted(rep.ignored) == ["head/W", "head/W/Momentum", "head/b", "head/b/Momentum"]
    with graph.as_default():
        got = {v.op.name: sess.run(v) for v in tfv1.global_variables()}
    np.testing.assert_array_equal(got["body/W"], saved["body/W"])
    assert got["head/W"].shape == (8, 2)
    # or: skip what does not fit, with ignore_mismatch
    sess, rep = restore_into(graph, train, SmartInit(prefix, ignore_mismatch=True))
    assert sorted(v for v, _ in rep.skipped) == ["head/W", "head/W/Momentum", "head/b",
                                                 "head/b/Momentum"]
