"""Data-parallel trainers on several CPU devices: they train, they match one device at the
total batch size, and their ops really run on distinct devices."""
import numpy as np
import pytest
import tensorflow as tf

from tensorpack import (BatchData, ModelSaver, SimpleTrainer, SyncMultiGPUTrainerReplicated,
                        TrainConfig, launch_train_with_config)
from tensorpack.compat import tfv1
from tensorpack.dataflow import DataFromList
from tensorpack.graph_builder import with_cpu_devices
from tensorpack.graph_builder.training import resolve_replicated_mode
from tensorpack.utils import logger

from md_testlib import TRAINERS, CostRecorder, MomentumModel, reference, split_input, train
from train_testlib import TinyModel, make_points

BATCH, STEPS = 3, 4


@pytest.mark.parametrize("towers", [2, 4])
@pytest.mark.parametrize("kind", sorted(TRAINERS))
def test_n_towers_match_one_device_at_n_times_the_batch(fresh_graph, kind, towers):
    ref = reference(BATCH, towers, STEPS)
    trainer = TRAINERS[kind](towers)
    rec = train(trainer, TinyModel(summary=False), split_input(BATCH, towers), STEPS)
    assert len(rec.costs) == STEPS and rec.costs[-1] < rec.costs[0]
    assert [t.ns_name for t in trainer.towers.training()] == \
        ["tower{}".format(k) for k in range(towers)]
    if kind == "async":
        return  # towers may read a variable before or after another tower's update
    scale = towers if kind == "replicated-sum" else 1  # summed, not averaged
    if scale != 1:
        ref = reference(BATCH, towers, STEPS, TinyModel(summary=False, lr=0.1 * scale))
    for name in ("fc/W", "fc/b"):
        np.testing.assert_allclose(rec.values[name], ref.values[name], rtol=1e-4, atol=1e-5)


def test_replicated_towers_own_their_variables_and_stay_equal(fresh_graph):
    trainer = SyncMultiGPUTrainerReplicated(4)
    rec = CostRecorder(var_names=["fc/W"] + ["tower{}/fc/W".format(k) for k in (1, 2, 3)])
    inp = split_input(BATCH, 4)
    trainer.setup_graph(MomentumModel(summary=False).get_input_signature(), inp,
                        MomentumModel(summary=False).build_graph,
                        MomentumModel(summary=False).get_optimizer)
    local = {v.op.name for v in tfv1.local_variables()}
    glob = {v.op.name for v in tfv1.global_variables()}
    assert {"tower1/fc/W", "tower3/fc/b", "tower2/fc/W/Momentum"} <= local
    assert not any(n.startswith("tower") for n in glob)
    assert {"fc/W", "fc/W/Momentum", "fc/b/Momentum"} <= glob
    trainer.train_with_defaults(callbacks=[rec], monitors=[], extra_callbacks=[],
                                steps_per_epoch=STEPS, max_epoch=1)
    for k in (1, 2, 3):
        np.testing.assert_allclose(rec.values["tower{}/fc/W".format(k)], rec.values["fc/W"],
                                   rtol=1e-5, atol=1e-6)
    ctxs = [t._ctx for t in trainer.towers.training()]
    assert [c.index for c in ctxs] == [0, 1, 2, 3]
    assert [c.is_main_training_tower for c in ctxs] == [True, False, False, False]
    assert [t.vs_name for t in trainer.towers.training()] == ["", "tower1", "tower2", "tower3"]


class _Placement(CostRecorder):
    """Runs the towers' costs once with partition graphs: where did each node run?"""

    def _before_train(self):
        towers = self.trainer.towers.training()
        meta = tfv1.RunMetadata()
        self.trainer.sess.run([t.get_tensor("cost") for t in towers],
                              options=tfv1.RunOptions(output_partition_graphs=True),
                              run_metadata=meta)
        self.node_device = {n.name: n.device for g in meta.partition_graphs for n in g.node}
        self.session_devices = [d.name for d in self.trainer.sess.list_devices()]


@pytest.mark.parametrize("kind,towers", [("replicated", 4), ("ps-gpu", 2),
                                         ("replicated-collective", 2)])
def test_towers_run_on_distinct_cpu_devices(fresh_graph, kind, towers):
    trainer = TRAINERS[kind](towers)
    assert trainer.tower_devices == ["/cpu:{}".format(k) for k in range(towers)]
    probe = _Placement()
    train(trainer, TinyModel(summary=False), split_input(BATCH, towers), 1, callbacks=[probe])
    assert len(probe.session_devices) == towers
    for k in range(towers):
        assert probe.node_device["tower{}/cost".format(k)].endswith("/device:CPU:{}".format(k))


def test_session_config_and_mode_fallback(caplog):
    cfg = with_cpu_devices(3)
    assert cfg.device_count["CPU"] == 3 and cfg.allow_soft_placement
    base = tfv1.ConfigProto(device_count={"CPU": 8})
    assert with_cpu_devices(2, base).device_count["CPU"] == 8
    assert base.device_count["CPU"] == 8  # a copy, not changed in place
    devices = ["/cpu:0", "/cpu:1"]
    assert resolve_replicated_mode(None, devices) == "gpu"
    assert resolve_replicated_mode("collective", devices) == "collective"
    assert resolve_replicated_mode("CPU", devices) == "cpu"
    with caplog.at_level("WARNING", logger="tensorpack"):
        assert resolve_replicated_mode("nccl", devices) == "gpu"
        assert resolve_replicated_mode("hierarchical", devices) == "gpu"
    lines = [r.getMessage() for r in caplog.records if "cannot run here" in r.getMessage()]
    assert len(lines) == 2 and "NCCL needs GPUs" in lines[0] and "8 towers" in lines[1]
    with pytest.raises(ValueError, match="Unknown all-reduce mode"):
        resolve_replicated_mode("ring", devices)


def test_feeding_input_with_several_towers_is_a_clear_error(fresh_graph):
    from tensorpack.input_source import FeedInput
    df = BatchData(DataFromList(make_points(12)), 3)
    trainer = SyncMultiGPUTrainerReplicated(2)
    model = TinyModel(summary=False)
    with pytest.raises(ValueError, match="QueueInput"):
        trainer.setup_graph(model.get_input_signature(), FeedInput(df), model.build_graph,
                            model.get_optimizer)


@pytest.mark.parametrize("kind", ["replicated", "ps-cpu", "async"])
def test_launch_with_a_dataflow_trains_and_saves_one_device_names(logdir, kind):
    """The upstream way: a DataFlow (wrapped in a QueueInput), summaries, ModelSaver."""
    df = BatchData(DataFromList(make_points(48), shuffle=False), 4)
    rec = CostRecorder()
    config = TrainConfig(model=MomentumModel(), dataflow=df, callbacks=[rec, ModelSaver()],
                         steps_per_epoch=6, max_epoch=2)
    launch_train_with_config(config, TRAINERS[kind](2))
    assert np.mean(rec.costs[-3:]) < np.mean(rec.costs[:3])
    multi = dict(tf.train.list_variables(logdir))
    tfv1.reset_default_graph()
    logger.set_logger_dir(logdir + "-one", action="d")
    config = TrainConfig(model=MomentumModel(), dataflow=df, callbacks=[ModelSaver()],
                         steps_per_epoch=1, max_epoch=1)
    launch_train_with_config(config, SimpleTrainer())
    single = dict(tf.train.list_variables(logdir + "-one"))
    assert multi == single
    assert "fc/W/Momentum" in multi and not any(n.startswith("tower") for n in multi)


def test_hierarchical_all_reduce_on_8_cpu_towers_matches_one_device(fresh_graph):
    ref = reference(1, 8, 2)
    trainer = SyncMultiGPUTrainerReplicated(8, mode="hierarchical")
    assert trainer.mode == "hierarchical"
    rec = train(trainer, TinyModel(summary=False), split_input(1, 8), 2)
    np.testing.assert_allclose(rec.values["fc/W"], ref.values["fc/W"], rtol=1e-4, atol=1e-5)
