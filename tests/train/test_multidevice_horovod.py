"""HorovodTrainer / BytePSTrainer: a clear ImportError without the package; with a package
offering Horovod's API, the trainer all-reduces and broadcasts through it."""
import sys
import types

import numpy as np
import pytest

from tensorpack import BytePSTrainer, HorovodTrainer
from tensorpack.compat import tfv1

from md_testlib import reference, split_input, train
from train_testlib import TinyModel


@pytest.mark.parametrize("cls,package", [(HorovodTrainer, "horovod"),
                                         (BytePSTrainer, "byteps")])
def test_missing_package_is_a_clear_import_error(monkeypatch, cls, package):
    # whatever is installed, make the import fail as on a machine without the package
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(ImportError) as info:
        cls()
    msg = str(info.value)
    assert package in msg and "pip install {}".format(package) in msg
    assert "SyncMultiGPUTrainerReplicated" in msg


def test_nothing_else_imports_horovod():
    import tensorpack.train  # noqa: F401
    import tensorpack.graph_builder  # noqa: F401
    assert "horovod" not in sys.modules and "byteps" not in sys.modules


def _fake_horovod(calls):
    """One process of size 1 with Horovod's API (what the trainer uses of it)."""
    import tensorflow as tf
    hvd = types.ModuleType("horovod.tensorflow")
    hvd.init = lambda: calls.append("init")
    hvd.rank = hvd.local_rank = lambda: 0
    hvd.size = hvd.local_size = lambda: 1

    def broadcast_global_variables(root):
        calls.append("broadcast_op")
        return tf.group(*[v.read_value() for v in tfv1.global_variables()])
    hvd.broadcast_global_variables = broadcast_global_variables
    pkg = types.ModuleType("horovod")
    pkg.tensorflow = hvd
    return pkg, hvd


def test_horovod_trainer_trains_through_the_library_api(monkeypatch, fresh_graph):
    calls = []
    pkg, hvd = _fake_horovod(calls)
    monkeypatch.setitem(sys.modules, "horovod", pkg)
    monkeypatch.setitem(sys.modules, "horovod.tensorflow", hvd)
    ref = reference(6, 1, 3)
    trainer = HorovodTrainer()
    assert trainer.is_chief
    rec = train(trainer, TinyModel(summary=False), split_input(6, 1), 3)
    assert calls[:2] == ["init", "broadcast_op"]
    np.testing.assert_allclose(rec.values["fc/W"], ref.values["fc/W"], rtol=1e-5, atol=1e-6)
