"""Build the models of upstream tensorpack's example scripts with this tensorpack.

Usage: python upstream_examples_build.py UPSTREAM_GIT_DIR OUT_JSON [CASE ...]

Each example file is read from upstream's git repository, executed as a module (not as
``__main__``, so nothing trains), and its ModelDesc's ``build_graph`` is called on
placeholders made from ``inputs()`` inside a training TowerContext. Only graph building is
checked. Names the example imports from tensorpack parts other than the layers and scope
utilities (datasets, augmentors, graph builders, optimizers, ...) are replaced by mocks
when this checkout does not have them yet, and reported. TF1-era examples that do
``import tensorflow as tf`` get ``tensorflow.compat.v1`` instead (TensorFlow's API, not
tensorpack's, is what changed for them).
"""
import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import traceback
import types
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# case name -> (example path, ModelDesc class name, constructor kwargs)
CASES = {
    "mnist-convnet": ("basics/mnist-convnet.py", "Model", {}),
    "cifar-convnet": ("basics/cifar-convnet.py", "Model", {"cifar_classnum": 10}),
    "svhn-digit-convnet": ("basics/svhn-digit-convnet.py", "Model", {}),
    "mnist-visualizations": ("basics/mnist-visualizations.py", "Model", {}),
    "cifar10-resnet": ("ResNet/cifar10-resnet.py", "Model", {"n": 3}),
    "cifar10-preact18-mixup": ("ResNet/cifar10-preact18-mixup.py", "ResNet_Cifar", {}),
    "imagenet-resnet18": ("ResNet/imagenet-resnet.py", "Model", {"depth": 18}),
    "imagenet-se-resnet50": ("ResNet/imagenet-resnet.py", "Model",
                             {"depth": 50, "mode": "se"}),
    "imagenet-preact-resnet18": ("ResNet/imagenet-resnet.py", "Model",
                                 {"depth": 18, "mode": "preact"}),
    "alexnet": ("ImageNetModels/alexnet.py", "Model", {}),
    "vgg16": ("ImageNetModels/vgg16.py", "Model", {}),
    "inception-bn": ("ImageNetModels/inception-bn.py", "Model", {}),
    "shufflenet": ("ImageNetModels/shufflenet.py", "Model", {}),
    "Image2Image": ("GAN/Image2Image.py", "Model", {}),
    "WGAN": ("GAN/WGAN.py", "Model", {"shape": 64, "batch": 4, "z_dim": 100}),
    "InfoGAN-mnist": ("GAN/InfoGAN-mnist.py", "Model", {}),
    "CycleGAN": ("GAN/CycleGAN.py", "Model", {}),
    "DiscoGAN-CelebA": ("GAN/DiscoGAN-CelebA.py", "Model", {}),
    "Improved-WGAN": ("GAN/Improved-WGAN.py", "Model", {"shape": 64, "batch": 4,
                                                        "z_dim": 100}),
    "hed": ("HED/hed.py", "Model", {}),
    "svhn-digit-dorefa": ("DoReFa-Net/svhn-digit-dorefa.py", "Model", {}),
    "mnist-addition": ("SpatialTransformer/mnist-addition.py", "Model", {}),
}
# modules the examples import from their own directory
HELPERS = ("GAN", "DCGAN", "resnet_model", "imagenet_utils", "dorefa")
# the command-line arguments some examples read as a global
EXAMPLE_ARGS = argparse.Namespace(v2=False, group=3, ratio=1.0, depth=18, mode="resnet",
                                  data_format="NCHW", batch=32, norm="bn", final_size=64,
                                  z_dim=64)
STUBBED = set()


def _git_show(git_dir, path):
    """A file of upstream's HEAD, following in-repo symlinks."""
    out = subprocess.run(["git", "--git-dir", git_dir, "show", "HEAD:" + path],
                         check=True, capture_output=True, text=True).stdout
    mode = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "HEAD", path],
                          check=True, capture_output=True, text=True).stdout.split()
    if mode and mode[0] == "120000":  # a symlink: its content is the target
        target = os.path.normpath(os.path.join(os.path.dirname(path), out.strip()))
        return _git_show(git_dir, target)
    return out


def _stub_missing(err):
    """Mock the tensorpack name an ImportError complains about; False if not ours."""
    msg = str(err)
    m = re.search(r"cannot import name '(\w+)' from '([\w.]+)'", msg)
    if m and m.group(2).startswith("tensorpack"):
        setattr(sys.modules[m.group(2)], m.group(1), mock.MagicMock(name=m.group(1)))
        STUBBED.add(m.group(2) + "." + m.group(1))
        return True
    m = re.search(r"No module named '([\w.]+)'", msg)
    if m and m.group(1).startswith("tensorpack"):
        stub = mock.MagicMock(name=m.group(1))
        stub.__spec__ = importlib.util.spec_from_loader(m.group(1), loader=None)
        sys.modules[m.group(1)] = stub
        STUBBED.add(m.group(1))
        return True
    return False


def _exec_module(path, name):
    src = open(path).read().replace("import tensorflow as tf\n",
                                    "import tensorflow.compat.v1 as tf\n")
    mod = types.ModuleType(name)
    mod.__file__ = path
    mod.args = EXAMPLE_ARGS
    sys.modules[name] = mod
    exec(compile(src, path, "exec"), mod.__dict__)
    return mod


def _load_example(root, rel):
    path = os.path.join(root, rel)
    d = os.path.dirname(path)
    for _ in range(40):
        try:
            for helper in HELPERS:
                sys.modules.pop(helper, None)
            for helper in HELPERS:
                hp = os.path.join(d, helper + ".py")
                if os.path.exists(hp) and not rel.endswith("/" + helper + ".py"):
                    _exec_module(hp, helper)
            return _exec_module(path, os.path.basename(rel)[:-3].replace("-", "_"))
        except ImportError as e:
            if not _stub_missing(e):
                raise
    raise RuntimeError("too many missing names")


def _build(mod, cls_name, kwargs):
    from tensorpack.compat import tfv1
    from tensorpack.tfutils.tower import TowerContext
    with tfv1.Graph().as_default():
        model = getattr(mod, cls_name)(**kwargs)
        phs = [tfv1.placeholder(s.dtype, s.shape, name=s.name) for s in model.inputs()]
        with TowerContext("", is_training=True):
            model.build_graph(*phs)
        return {v.op.name: v.shape.as_list() for v in tfv1.global_variables()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("git_dir")
    parser.add_argument("out")
    parser.add_argument("cases", nargs="*")
    opts = parser.parse_args()
    import logging

    import tensorflow as tf
    from tensorpack.compat import tfv1
    logging.getLogger("tensorpack").setLevel(logging.WARNING)
    # graph building only: let the GPU-only examples build; TensorBoard may be absent
    tf.test.is_gpu_available = tfv1.test.is_gpu_available = lambda *a, **k: True
    tfv1.summary.histogram = lambda name, *a, **k: tf.constant(b"", name="histogram")

    names = opts.cases or list(CASES)
    result = {}
    with tempfile.TemporaryDirectory() as root:
        for name in names:
            rel, cls_name, kwargs = CASES[name]
            d = os.path.join(root, os.path.dirname(rel))
            os.makedirs(d, exist_ok=True)
            for f in [rel] + [os.path.join(os.path.dirname(rel), h + ".py") for h in HELPERS]:
                try:
                    src = _git_show(opts.git_dir, "examples/" + f)
                except subprocess.CalledProcessError:
                    continue
                with open(os.path.join(root, f), "w") as fh:
                    fh.write(src)
            sys.path.insert(0, d)
            try:
                variables = _build(_load_example(root, rel), cls_name, kwargs)
                result[name] = {"ok": True, "num_variables": len(variables)}
            except Exception as e:
                tb = traceback.extract_tb(e.__traceback__)
                result[name] = {"ok": False, "error": "{}: {}".format(type(e).__name__, e)[:300],
                                "where": ["{}:{}".format(os.path.basename(t.filename), t.lineno)
                                          for t in tb[-4:]]}
            finally:
                sys.path.remove(d)
    result["_stubbed"] = sorted(STUBBED)
    with open(opts.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
