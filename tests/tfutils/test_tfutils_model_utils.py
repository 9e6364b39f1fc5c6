"""model_utils: the trainable-variable table and shape strings for logs."""
import logging

import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.tfutils.model_utils import describe_trainable_vars, get_shape_str


def test_get_shape_str():
    with tfv1.Graph().as_default():
        a = tfv1.placeholder(tf.float32, [None, 3])
        b = tfv1.placeholder(tf.float32)
        assert get_shape_str(a) == "[None, 3]"
        assert get_shape_str([a, a]) == "[None, 3],[None, 3]"
        assert get_shape_str(b) == "<unknown>"


def test_describe_trainable_vars_skips_tower_replicas(caplog):
    with tfv1.Graph().as_default():
        tfv1.get_variable("fc/W", [3, 4])
        tfv1.get_variable("tower1/fc/W", [3, 4])
        tfv1.get_variable("steps", [], trainable=False)
        with caplog.at_level(logging.INFO, logger="tensorpack"):
            describe_trainable_vars()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "fc/W" in text and "tower1" not in text and "steps" not in text
    assert "Number of parameters (elements): 12" in text
