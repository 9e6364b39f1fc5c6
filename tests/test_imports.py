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
