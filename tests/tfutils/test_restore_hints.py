"""Slot names of every tf.compat.v1 optimizer, in ``ignore`` and in the report; errors and
warnings that point at the fix (closest keys, misspelled ignore patterns)."""
import logging

import numpy as np
import pytest
import tensorflow as tf

from tensorpack.checkpoint.names import is_training_name
from tensorpack.checkpoint.plan import VarSpec, make_plan
from tensorpack.checkpoint.source import TensorInfo
from tensorpack.compat import tfv1
from tensorpack.tfutils.sessinit import DictRestore, SaverRestore

OPTIMIZERS = {
    "Momentum": lambda: tfv1.train.MomentumOptimizer(0.1, 0.9),
    "Adam": lambda: tfv1.train.AdamOptimizer(),
    "Adagrad": lambda: tfv1.train.AdagradOptimizer(0.1),
    "RMSProp": lambda: tfv1.train.RMSPropOptimizer(0.1, momentum=0.9, centered=True),
    "Ftrl": lambda: tfv1.train.FtrlOptimizer(0.1),
    "Adadelta": lambda: tfv1.train.AdadeltaOptimizer(),
    "ProximalAdagrad": lambda: tfv1.train.ProximalAdagradOptimizer(0.1),
    "AdagradDA": lambda: tfv1.train.AdagradDAOptimizer(
        0.1, tfv1.train.get_or_create_global_step()),
}


@pytest.fixture(scope="module", params=sorted(OPTIMIZERS))
def trained(request, tmp_path_factory):
    """A checkpoint of fc/W, head/W and the optimizer's slots."""
    d = tmp_path_factory.mktemp(request.param)
    g = tf.Graph()
    with g.as_default():
        ws = [tfv1.get_variable(n, [3], initializer=tfv1.ones_initializer())
              for n in ("fc/W", "head/W")]
        OPTIMIZERS[request.param]().minimize(tf.add_n([tf.reduce_sum(w * w) for w in ws]))
        names = [v.op.name for v in tfv1.global_variables()]
        with tfv1.Session() as sess:
            sess.run(tfv1.global_variables_initializer())
            prefix = tfv1.train.Saver().save(sess, str(d / "model"))
    return prefix, names


def _restore(init, names=("fc/W", "head/W")):
    with tf.Graph().as_default():
        for n in names:
            tfv1.get_variable(n, [3], initializer=tfv1.zeros_initializer())
        with tfv1.Session() as sess:
            return init.init(sess)


def test_every_slot_is_training_only_in_the_report(trained):
    prefix, names = trained
    slots = [n for n in names if n not in ("fc/W", "head/W", "global_step")]
    assert slots and all(is_training_name(n) for n in slots), slots
    report = _restore(SaverRestore(prefix))
    assert sorted(report.restored) == ["fc/W", "head/W"]
    state = slots + [n for n in names if n == "global_step"]  # AdagradDA makes one
    assert report.source_only == [] and sorted(report.source_only_training) == sorted(state)


def test_ignoring_a_variable_ignores_its_slots(trained):
    prefix, names = trained
    report = _restore(SaverRestore(prefix, ignore=["head/*"]))
    assert report.restored == ["fc/W"] and report.ignored == ["head/W"]
    head_slots = [n for n in names if n.startswith("head/W/")]  # head/W itself: "ignored"
    assert sorted(report.source_ignored) == sorted(head_slots)
    assert not any(k.startswith("head/") for k in report.source_only_training)


def test_strict_failure_names_the_closest_keys():
    infos = {k: TensorInfo(k, (3,), "float32") for k in ("fc0/w", "fc1/W", "conv/kernel")}
    variables = [VarSpec("fc0/W:0", (3,), "float32"), VarSpec("fc1/W:0", (3,), "float32")]
    with pytest.raises(ValueError) as e:
        make_plan(variables, infos, strict=True, source_name="'m.npz'")
    msg = str(e.value)
    assert "'fc0/W' (closest keys: fc0/w" in msg and "'m.npz'" in msg


def test_unmatched_ignore_pattern_is_a_warning(caplog):
    from tensorpack.utils import logger  # noqa: F401  (the 'tensorpack' logger)
    records = []

    class Grab(logging.Handler):
        def emit(self, record):
            records.append(record)
    log = logging.getLogger("tensorpack")
    h = Grab(logging.WARNING)
    log.addHandler(h)
    try:
        report = _restore(DictRestore({"fc/W": np.ones(3, np.float32),
                                       "head/W": np.ones(3, np.float32)},
                                      ignore=["haed/*", "fc/W"]))
    finally:
        log.removeHandler(h)
    assert report.unmatched_ignores == ["haed/*"]
    assert any("haed/*" in r.getMessage() and "misspelled" in r.getMessage() for r in records)
    assert "ignore unmatched" in report.format()


def test_problems_known_at_construction_raise_there(tmp_path):
    from tensorpack.tfutils.sessinit import SmartInit
    bad = tmp_path / "objects.npz"
    np.savez(str(bad), W=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"objects\.npz.*pickled object array"):
        SmartInit(str(bad))  # not only when the session is initialized
    index = tmp_path / "model-1.index"
    index.write_bytes(b"\0" * 100)
    (tmp_path / "model-1.data-00000-of-00001").write_bytes(b"")
    with pytest.raises(ValueError, match=r"model-1\.index"):
        SmartInit(str(tmp_path / "model-1"))
