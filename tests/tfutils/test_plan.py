"""The restore plan and report: pure Python, no TensorFlow."""
import os
import subprocess
import sys

import pytest

from tensorpack.checkpoint.plan import IgnoreRule, VarSpec, can_cast, make_plan, shapes_agree
from tensorpack.checkpoint.report import RestoreReport
from tensorpack.checkpoint.source import TensorInfo

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def infos(*items):
    """``infos(("a/W", (2, 3)), ("b", (1,), "int32"))`` -> {name: TensorInfo}."""
    out = {}
    for it in items:
        name, shape = it[0], it[1]
        dtype = it[2] if len(it) > 2 else "float32"
        out[name] = TensorInfo(name, tuple(shape), dtype)
    return out


def var(name, shape, dtype="float32"):
    return VarSpec(name, None if shape is None else tuple(shape), dtype)


def test_plan_module_does_not_import_tensorflow():
    code = ("import sys; import tensorpack.checkpoint.plan, tensorpack.checkpoint.report; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True, env=dict(os.environ, PYTHONPATH=REPO))
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("gname,key", [("a/W:0", "a/W"), ("a/W", "a/W:0"), ("a/W:0", "a/W:0"),
                                       ("a/W", "a/W")])
def test_colon_zero_on_either_side(gname, key):
    plan = make_plan([var(gname, (2,))], infos((key, (2,))))
    assert [(e.var, e.key, e.action) for e in plan.entries] == [("a/W", key, "load")]
    assert not plan.graph_only and not plan.source_only


def test_bare_key_preferred_and_duplicate_not_reported():
    plan = make_plan([var("x:0", (1,))], infos(("x", (1,)), ("x:0", (1,))))
    assert plan.entries[0].key == "x"
    assert plan.source_only == []


def test_graph_only_and_source_only_exclude_training_names():
    plan = make_plan([var("a", (1,)), var("new", (1,)), var("new/Momentum", (1,))],
                     infos(("a", (1,)), ("old", (1,)), ("a/Adam", (1,)), ("EMA/cost", ())))
    assert plan.graph_only == ["new"]
    assert plan.graph_only_training == ["new/Momentum"]
    assert plan.source_only == ["old"]
    assert sorted(plan.source_only_training) == ["EMA/cost", "a/Adam"]


def test_prefix_restores_key_into_prefixed_variable():
    # upstream: prefix='tower0' puts the checkpoint's 'x' into the graph's 'tower0/x'
    plan = make_plan([var("tower0/x:0", (1,)), var("y", (1,)), var("tower0x/z", (1,))],
                     infos(("x", (1,)), ("y", (1,)), ("z", (1,))), prefix="tower0")
    assert {e.var: e.key for e in plan.entries} == {"tower0/x": "x", "y": "y"}
    assert plan.graph_only == ["tower0x/z"]  # no '/' after the prefix: not stripped
    assert make_plan([var("tower0/x", (1,))], infos(("x", (1,))),
                     prefix="tower0/").entries[0].key == "x"


def test_prefix_conflict_raises_naming_both():
    with pytest.raises(ValueError, match="'tower0/x' and 'x'|'x' and 'tower0/x'"):
        make_plan([var("tower0/x", (1,)), var("x", (1,))], infos(("x", (1,))),
                  prefix="tower0")


def test_ignore_names_with_or_without_colon_zero():
    plan = make_plan([var("a", (1,)), var("b", (1,))], infos(("a", (1,)), ("b", (1,))),
                     ignore=["a:0"])
    assert [e.var for e in plan.entries] == ["b"]
    assert plan.ignored == ["a"]
    assert plan.source_only == []  # an ignored key is not noise either
    plan = make_plan([var("a", (1,))], infos(("a", (1,))), ignore=("a",))
    assert plan.entries == [] and plan.ignored == ["a"]


def test_ignore_glob_and_slots():
    graph = [var("fc/W", (2,)), var("fc/b", (2,)), var("fc/W/Momentum", (2,)),
             var("conv/W", (2,)), var("conv/W/Adam_1", (2,))]
    src = infos(*[(v.name, (2,)) for v in graph], ("EMA/fc/W", (2,)),
                ("fc/W/ExponentialMovingAverage", (2,)))
    plan = make_plan(graph, src, ignore=["fc/*"])
    assert [e.var for e in plan.entries] == ["conv/W", "conv/W/Adam_1"]
    assert sorted(plan.ignored) == ["fc/W", "fc/W/Momentum", "fc/b"]
    # ignoring a variable by name also ignores its slots and EMA shadows
    plan = make_plan(graph, src, ignore=["conv/W"])
    assert sorted(plan.ignored) == ["conv/W", "conv/W/Adam_1"]
    plan = make_plan([var("fc/W", (2,))], src, ignore=["fc/W"])
    assert sorted(plan.source_ignored) == ["EMA/fc/W", "fc/W/ExponentialMovingAverage",
                                           "fc/W/Momentum"]
    assert sorted(plan.source_only) == ["conv/W", "fc/b"]
    assert plan.source_only_training == ["conv/W/Adam_1"]


def test_ignore_rule_matching():
    rule = IgnoreRule(["head/*", "x:0"])
    assert rule.matches("head/W:0") and rule.matches("x") and rule.matches("x/Momentum")
    assert rule.matches("EMA/x") and rule.matches("head/W/Adam")
    assert not rule.matches("body/W") and not rule.matches("xx")
    assert not IgnoreRule(())
    with pytest.raises(ValueError, match="ignore="):
        IgnoreRule([3])


def test_shape_mismatch_raises_naming_variable_and_both_shapes():
    with pytest.raises(ValueError) as e:
        make_plan([var("fc/W", (3, 4))], infos(("fc/W", (4, 3))), source_name="'m.npz'")
    msg = str(e.value)
    assert "fc/W" in msg and "(4, 3)" in msg and "(3, 4)" in msg and "m.npz" in msg


def test_relaxed_reshape_when_counts_match_else_skip_or_raise():
    src = infos(("a", (2, 3)), ("b", (5,)))
    plan = make_plan([var("a", (3, 2)), var("b", (4,))], src, relaxed=True,
                     ignore_mismatch=True)
    assert [(e.var, e.action) for e in plan.entries] == [("a", "reshape")]
    assert plan.skipped[0][:2] == ("b", "b") and "(5,)" in plan.skipped[0][2]
    with pytest.raises(ValueError, match="'b'"):
        make_plan([var("a", (3, 2)), var("b", (4,))], src, relaxed=True)


def test_relaxed_casts():
    assert can_cast("float64", "float32") and can_cast("float16", "bfloat16")
    assert can_cast("int32", "int64") and can_cast("uint8", "int16")
    assert not can_cast("int64", "int32") and not can_cast("int8", "uint64")
    assert not can_cast("float32", "int32") and not can_cast("int32", "float32")
    assert not can_cast("bool", "int32") and not can_cast("string", "float32")
    plan = make_plan([var("a", (1,), "float32"), var("i", (1,), "int64")],
                     infos(("a", (1,), "float64"), ("i", (1,), "int32")), relaxed=True)
    assert [e.action for e in plan.entries] == ["cast", "cast"]
    with pytest.raises(ValueError, match="dtype int64 .* int32"):
        make_plan([var("i", (1,), "int32")], infos(("i", (1,), "int64")), relaxed=True)


def test_exact_mode_rejects_casts_and_reshapes():
    with pytest.raises(ValueError, match="dtype float64"):
        make_plan([var("a", (1,), "float32")], infos(("a", (1,), "float64")))
    with pytest.raises(ValueError, match="shape"):
        make_plan([var("a", (1, 2))], infos(("a", (2,))))


def test_unknown_dims_accept_any_size():
    plan = make_plan([var("a", (None, 3)), var("b", None)], infos(("a", (7, 3)), ("b", (2, 2))))
    assert [e.action for e in plan.entries] == ["load", "load"]
    assert shapes_agree((None, 3), (7, 3), relaxed=False)
    assert not shapes_agree((None, 3), (21,), relaxed=True)


def test_strict_raises_on_missing_non_training_vars_only():
    src = infos(("a", (1,)))
    # slots and the step counter are fine
    make_plan([var("a", (1,)), var("a/Adam", (1,)), var("global_step", ())], src, strict=True)
    with pytest.raises(ValueError, match="strict=True.*'?new_head/W"):
        make_plan([var("a", (1,)), var("new_head/W", (1,))], src, strict=True,
                  source_name="ckpt")
    # an ignored variable is not "missing"
    make_plan([var("a", (1,)), var("new_head/W", (1,))], src, strict=True,
              ignore=["new_head/*"])


def test_chunks_respect_budget_and_order():
    src = infos(*[("v%d" % i, (256,)) for i in range(10)])  # 1 KiB each
    plan = make_plan([var("v%d" % i, (256,)) for i in range(10)], src)
    assert plan.total_bytes == 10 * 1024
    chunks = plan.chunks(3 * 1024)
    assert [len(c) for c in chunks] == [3, 3, 3, 1]
    assert [e.var for c in chunks for e in c] == ["v%d" % i for i in range(10)]
    assert [len(c) for c in plan.chunks(100)] == [1] * 10  # oversize values get their own


def test_report_from_plan_and_table():
    plan = make_plan([var("a", (3, 2)), var("c", (1,), "float32"), var("new", (1,)),
                      var("new/Momentum", (1,)), var("bad", (5,)), var("ig", (1,))],
                     infos(("a", (2, 3)), ("c", (1,), "float64"), ("old", (1,)),
                           ("old/Adam", (1,)), ("bad", (4,)), ("ig", (1,))),
                     relaxed=True, ignore_mismatch=True, ignore=["ig"])
    rep = RestoreReport.from_plan(plan, source="m.npz")
    assert rep.restored == ["a", "c"]
    assert rep.cast == [("c", "float64", "float32")]
    assert rep.reshaped == [("a", (2, 3), (3, 2))]
    assert [v for v, _ in rep.skipped] == ["bad"]
    assert rep.ignored == ["ig"] and rep.graph_only == ["new"] and rep.source_only == ["old"]
    assert not rep.clean
    text = rep.format()
    for word in ("m.npz", "restored", "cast", "reshaped", "skipped", "ignored", "graph-only",
                 "source-only", "new", "old", "(2,3)->(3,2)", "float64->float32"):
        assert word in text
    assert "new/Momentum" not in text and "old/Adam" not in text  # training-only: counted
    assert "1 training-only graph variable" in text


def test_report_merge_for_chains():
    a = RestoreReport(source="a", restored=["x"], graph_only=["y", "z"])
    b = RestoreReport(source="b", restored=["y"], graph_only=["x", "z"], source_only=["q"])
    m = RestoreReport.merge([a, b])
    assert m.restored == ["x", "y"] and m.graph_only == ["z"] and m.source_only == ["q"]
    assert m.source == "a + b"


def test_global_step_is_state_not_a_mismatch():
    # Predicting from a training checkpoint: the step counter is in the source only.
    plan = make_plan([var("fc/W", (2,))], infos(("fc/W", (2,)), ("global_step", (), "int64")))
    assert plan.source_only == [] and plan.source_only_training == ["global_step"]
    # Training from a weights file: the step counter is in the graph only.
    plan = make_plan([var("fc/W", (2,)), var("global_step", (), "int64")], infos(("fc/W", (2,))))
    assert plan.graph_only == [] and plan.graph_only_training == ["global_step"]
