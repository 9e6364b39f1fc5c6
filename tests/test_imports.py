"""``import tensorpack`` and the checkpoint core must not import TensorFlow."""
import subprocess
import sys

import pytest


def _modules_after(code):
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\n"
                          "print(' '.join(sorted(sys.modules)))"],
                         check=True, capture_output=True, text=True).stdout
    return set(out.split())


@pytest.mark.parametrize("stmt", [
    "import tensorpack",
    "import tensorpack.checkpoint",
    "import tensorpack.utils.logger",
    "from tensorpack import logger",
    "import tensorpack.tools.ls_checkpoint, tensorpack.tools.checkpoint_diff",
    "import tensorpack.checkpoint.verify, tensorpack.checkpoint.diff",
    "import tensorpack.checkpoint.published",
])
def test_no_tensorflow_import(stmt):
    mods = _modules_after(stmt)
    assert "tensorflow" not in mods, stmt + " imported TensorFlow"


def test_lazy_name_resolves_tensorflow_backed():
    mods = _modules_after("import tensorpack\n"
                          "assert callable(tensorpack.get_global_step_var)")
    assert "tensorflow" in mods


@pytest.mark.parametrize("stmt", [
    "import tensorpack.utils.argtools",
    "from tensorpack.utils.argtools import graph_memoized, memoized, shape2d\n"
    "@graph_memoized\ndef f(x):\n    return x",
    "import tensorpack\nassert 'tfv1' in dir(tensorpack)",
])
def test_tf_free_until_used(stmt):
    assert "tensorflow" not in _modules_after(stmt), stmt


def test_tfv1_is_tf_compat_v1_and_imports_tensorflow_on_use():
    mods = _modules_after("from tensorpack import tfv1\n"
                          "import tensorflow as tf\n"
                          "assert tfv1 is tf.compat.v1\n"
                          "import tensorpack\n"
                          "assert tensorpack.tfv1 is tf.compat.v1")
    assert "tensorflow" in mods


def test_star_import_binds_upstream_subpackages():
    code = ("ns = {}\nexec('from tensorpack import *', ns)\nimport types\n"
            "print(sorted(k for k, v in ns.items() if isinstance(v, types.ModuleType)))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    for name in ("dataflow", "models", "callbacks", "tfutils", "train", "predict",
                 "input_source", "utils", "libinfo", "tfv1", "compat"):
        assert "'{}'".format(name) in out, name


def test_optional_subpackage_lookup_never_raises_import_errors(monkeypatch):
    import tensorpack
    monkeypatch.setattr(tensorpack, "_SUBPACKAGES", tensorpack._SUBPACKAGES | {"no_such_pkg"})
    assert not hasattr(tensorpack, "no_such_pkg")  # an AttributeError, not an ImportError
    assert isinstance(hasattr(tensorpack, "graph_builder"), bool)
