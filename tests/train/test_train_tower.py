"""Tower contexts, tower functions and session creators."""
import pytest
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.tfutils.sesscreate import (NewSessionCreator, ReuseSessionCreator,
                                           SessionCreatorAdapter)
from tensorpack.tfutils.tower import (TowerContext, TowerFunc, TowerFuncWrapper,
                                      get_current_tower_context)

SIG = [tf.TensorSpec((None, 2), tf.float32, "a"), tf.TensorSpec((None,), tf.int32, "b")]


def test_tower_context_flags_and_nesting(fresh_graph):
    assert get_current_tower_context() is None
    with TowerContext("", is_training=True) as ctx:
        assert get_current_tower_context() is ctx
        assert ctx.is_training and ctx.is_main_training_tower and ctx.has_own_variables
        with pytest.raises(RuntimeError, match="nested"):
            with TowerContext("inner", is_training=False):
                pass
    assert get_current_tower_context() is None
    with TowerContext("pred", is_training=False) as ctx:
        assert not ctx.is_training and not ctx.is_main_training_tower
        x = tf.constant(1.0, name="c")
    assert x.name == "pred/c:0"


def test_predict_tower_does_not_add_summaries_or_update_ops(fresh_graph):
    with TowerContext("", is_training=True):
        tfv1.summary.scalar("s", tf.constant(1.0))
        tfv1.add_to_collection(tfv1.GraphKeys.UPDATE_OPS, tf.no_op())
    with TowerContext("pred", is_training=False) as ctx:
        tfv1.summary.scalar("s2", tf.constant(1.0))
        tfv1.add_to_collection(tfv1.GraphKeys.UPDATE_OPS, tf.no_op())
        tfv1.add_to_collection("mine", 1)
    assert len(tfv1.get_collection(tfv1.GraphKeys.SUMMARIES)) == 1
    assert len(tfv1.get_collection(tfv1.GraphKeys.UPDATE_OPS)) == 1
    assert ctx.get_collection_in_tower("mine") == [1]


def test_tower_func_records_towers_and_resolves_names(fresh_graph):
    def fn(a, b):
        v = tfv1.get_variable("w", [2, 3])
        return tf.identity(tf.matmul(a, v), name="out")
    func = TowerFunc(fn, SIG)
    assert TowerFunc(func, SIG) is func and TowerFuncWrapper is TowerFunc
    a = tfv1.placeholder(tf.float32, [None, 2], name="a")
    b = tfv1.placeholder(tf.int32, [None], name="b")
    with pytest.raises(RuntimeError, match="TowerContext"):
        func(a, b)
    with TowerContext("", is_training=True):
        func(a, b)
    with tfv1.variable_scope(tfv1.get_variable_scope(), reuse=True), \
            TowerContext("pred", is_training=False):
        func(a, b)
    towers = func.towers
    assert len(towers) == 2 and len(towers.training()) == 1 and len(towers.inference()) == 1
    pred = towers["pred"]
    assert pred.get_tensor("out").name == "pred/out:0"
    assert pred.get_tensor("a") is a  # an input name gives the tensor the tower was built from
    assert towers[0]["out"].name == "out:0"
    assert pred.get_variable("w").name.startswith("w")
    with pytest.raises(KeyError):
        pred.get_tensor("nope")


@pytest.mark.parametrize("sig, match", [
    ([tf.TensorSpec((1,), tf.float32, "a"), tf.TensorSpec((1,), tf.float32, "a")], "Duplicate"),
    ([tf.TensorSpec((1,), tf.float32, "a/b")], "Invalid input name"),
])
def test_tower_func_rejects_bad_signatures(sig, match):
    with pytest.raises(ValueError, match=match):
        TowerFunc(lambda *x: None, sig)


def test_session_creators(fresh_graph):
    v = tfv1.get_variable("v", [], initializer=tfv1.constant_initializer(3.0))
    local = tfv1.get_variable("l", [], initializer=tfv1.constant_initializer(2.0),
                              collections=[tfv1.GraphKeys.LOCAL_VARIABLES])
    creator = NewSessionCreator()
    assert not creator.user_provided_config and creator.config.allow_soft_placement
    sess = creator.create_session()
    assert sess.run([v, local]) == [3.0, 2.0]  # global and local initializers ran
    assert not tfv1.get_default_graph().finalized
    assert ReuseSessionCreator(sess).create_session() is sess
    wrapped = SessionCreatorAdapter(ReuseSessionCreator(sess), lambda s: ("wrapped", s))
    assert wrapped.create_session() == ("wrapped", sess)
    conf = tfv1.ConfigProto(inter_op_parallelism_threads=1)
    assert NewSessionCreator(config=conf).config is conf
    sess.close()
