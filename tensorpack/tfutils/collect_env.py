"""``collect_env_info()``: a table describing the software and hardware, for bug reports."""
import os
import sys

import numpy as np
from tabulate import tabulate

__all__ = ["collect_env_info"]


def _version_of(module_name):
    try:
        module = __import__(module_name)
    except ImportError:
        return None
    return getattr(module, "__version__", None) or getattr(module, "version", None)


def _gpu_rows():
    """GPU names by id, from nvidia-smi (no NVML binding needed)."""
    from tensorpack.utils.concurrency import subproc_call
    out, ret = subproc_call("nvidia-smi --query-gpu=index,name --format=csv,noheader", timeout=20)
    if ret != 0:
        return [("GPU", "Not found with nvidia-smi")]
    by_name = {}
    for line in out.decode("utf-8", "replace").splitlines():
        if "," in line:
            idx, name = (x.strip() for x in line.split(",", 1))
            by_name.setdefault(name, []).append(idx)
    return [("GPU " + ",".join(ids), name) for name, ids in by_name.items()]


def parse_TF_build_info():  # noqa: N802  (upstream's name)
    """Returns: dict: the CUDA and cuDNN versions TensorFlow was built with (empty without
    CUDA), keyed like ``'TF built with CUDA'``."""
    import tensorflow as tf
    info = tf.sysconfig.get_build_info()
    return {"TF built with " + key.split("_")[0].upper(): info[key]
            for key in ("cuda_version", "cudnn_version") if key in info}


def collect_env_info():
    """
    Returns:
        str: a table of the platform, Python, tensorpack, NumPy, TensorFlow (version, CUDA,
        build information), GPUs, RAM, CPUs and optional dependencies.
    """
    import tensorflow as tf

    import tensorpack
    rows = [("sys.platform", sys.platform),
            ("Python", sys.version.replace("\n", "")),
            ("Tensorpack", tensorpack.__version__ + " @" + os.path.dirname(tensorpack.__file__)),
            ("Numpy", np.__version__),
            ("TensorFlow", "{}/{} @{}".format(tf.version.VERSION, tf.version.GIT_VERSION,
                                              os.path.dirname(tf.__file__))),
            ("TF Compiler Version", tf.version.COMPILER_VERSION)]
    has_cuda = tf.test.is_built_with_cuda()
    rows.append(("TF CUDA support", has_cuda))
    if has_cuda:
        rows.extend(parse_TF_build_info().items())
        rows.append(("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES",
                                                             "Unspecified")))
        rows.extend(_gpu_rows())
    try:
        import psutil
        vram = psutil.virtual_memory()
        rows.append(("Free RAM", "{:.2f}/{:.2f} GB".format(vram.available / 1024 ** 3,
                                                           vram.total / 1024 ** 3)))
        rows.append(("CPU Count", psutil.cpu_count()))
    except ImportError:
        rows.append(("CPU Count", os.cpu_count()))
    for name, module in (("cv2", "cv2"), ("msgpack", "msgpack"), ("pyzmq", "zmq"),
                         ("horovod", "horovod")):
        version = _version_of(module)
        if version is not None:
            if isinstance(version, tuple):
                version = ".".join(str(x) for x in version)
            rows.append((name, version))
    return tabulate(rows)
