"""How many GPUs this process may use (no TensorFlow import unless it is already loaded)."""
import os
import shutil
import subprocess
import sys

__all__ = ["change_gpu", "get_num_gpu", "get_nr_gpu"]


def change_gpu(val):
    """A context manager that sets ``CUDA_VISIBLE_DEVICES`` (e.g. ``change_gpu(0)``).

    Args:
        val (int or str): device ids; ``-1`` hides every GPU.
    """
    from tensorpack.utils.utils import change_env
    val = str(val)
    return change_env("CUDA_VISIBLE_DEVICES", "" if val == "-1" else val)


def get_num_gpu():
    """The number of GPUs available to this process.

    ``CUDA_VISIBLE_DEVICES`` decides when set; otherwise ``nvidia-smi -L`` is asked; failing
    that, TensorFlow is asked only if it is already imported. No GPU found gives 0.

    Returns:
        int
    """
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return len([d for d in env.split(",") if d.strip() and d.strip() != "-1"])
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0:
                return len([ln for ln in out.stdout.splitlines() if ln.startswith("GPU ")])
        except (OSError, subprocess.SubprocessError):
            pass
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        return len(tf.config.list_physical_devices("GPU"))
    return 0


get_nr_gpu = get_num_gpu
