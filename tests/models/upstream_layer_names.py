"""Build layers with a given tensorpack and print their variables as JSON.

Run by test_models_upstream_names.py under both upstream's interpreter and ours: each case
that builds under upstream (many of its layers need ``tf.layers``, gone with Keras 3) must
give the same variable names and shapes here.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def cases(tp, tf, tfv1):
    m = tp.models

    def x4(c=3, fmt="NHWC"):
        shape = [2, 8, 8, c] if fmt == "NHWC" else [2, c, 8, 8]
        return tfv1.placeholder(tf.float32, shape)

    return {
        "conv_split": lambda: m.Conv2D("conv", x4(4), 8, 3, split=2),
        "conv_dilated": lambda: m.Conv2D("conv", x4(), 8, 3, dilation_rate=2),
        "conv_plain": lambda: m.Conv2D("conv", x4(), 8, 3),
        "conv_nobias": lambda: m.Conv2D("conv", x4(), 8, 3, use_bias=False),
        "deconv": lambda: m.Conv2DTranspose("deconv", x4(), 5, 3, strides=2),
        "deconv_nchw": lambda: m.Conv2DTranspose("deconv", x4(fmt="NCHW"), 5, 3,
                                                 data_format="NCHW"),
        "fc": lambda: m.FullyConnected("fc", tfv1.placeholder(tf.float32, [2, 6]), 4),
        "maxpool": lambda: m.MaxPooling("pool", x4(), 2),
        "gap": lambda: m.GlobalAvgPooling("gap", x4()),
        "unpool": lambda: m.FixedUnPooling("unpool", x4(), 2),
        "bn": lambda: m.BatchNorm("bn", x4()),
        "bn_vbs": lambda: m.BatchNorm("bn", x4(), virtual_batch_size=1, training=True),
        "bn_noaffine": lambda: m.BatchNorm("bn", x4(), virtual_batch_size=1, training=True,
                                           center=False, scale=False),
        "layernorm": lambda: m.LayerNorm("ln", x4()),
        "instancenorm": lambda: m.InstanceNorm("inorm", x4()),
        "prelu": lambda: m.PReLU("prelu", x4()),
        "maxout": lambda: m.Maxout("maxout", x4(4), 2),
        "bnrelu": lambda: m.BNReLU("bnr", x4()),
    }


def main():
    sys.path.pop(0)  # this directory: keep it from shadowing anything
    import tensorflow as tf
    import tensorpack as tp
    tfv1 = tf.compat.v1
    tfv1.disable_eager_execution()
    import tensorpack.models  # noqa: F401
    from tensorpack.tfutils.tower import TowerContext
    result = {}
    for name, build in cases(tp, tf, tfv1).items():
        with tfv1.Graph().as_default():
            try:
                with TowerContext("", is_training=True):
                    out = build()
            except Exception as e:  # an upstream layer that no longer builds on TF 2
                result[name] = {"error": "{}: {}".format(type(e).__name__, e)[:200]}
                continue
            result[name] = {
                "vars": {v.op.name: v.shape.as_list() for v in tfv1.global_variables()},
                "shape": out.shape.as_list(),
            }
    with open(sys.argv[1], "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
