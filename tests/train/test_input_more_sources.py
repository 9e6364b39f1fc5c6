"""BatchQueueInput, ZMQInput (msgpack over a loopback socket), remap_input_source, and
upstream's input_source module paths."""
import socket
import threading

import msgpack
import numpy as np
import pytest
import tensorflow as tf

from tensorpack import (BatchQueueInput, DataFromList, TensorInput, ZMQInput,
                        remap_input_source)
from tensorpack.compat import tfv1
from tensorpack.input_source import input_source as upstream_mod
from tensorpack.input_source import input_source_base as upstream_base
from tensorpack.input_source.zmq_input import decode_datapoint
from train_testlib import make_points, train_tiny


def test_upstream_module_paths():
    assert upstream_mod.BatchQueueInput is BatchQueueInput
    assert upstream_mod.ZMQInput is ZMQInput
    assert upstream_base.remap_input_source is remap_input_source


def test_batch_queue_input_dequeues_batches(fresh_graph):
    points = make_points(12)
    inp = BatchQueueInput(DataFromList(points, shuffle=False), batch_size=4)
    assert inp.size() == 3
    trainer, grab = train_tiny(inp)
    assert trainer.global_step == 3
    np.testing.assert_array_equal(grab.xs[0], np.stack([p[0] for p in points[:4]]))
    np.testing.assert_array_equal(grab.ys[1], [p[1] for p in points[4:8]])
    with pytest.raises(ValueError, match="batch_size"):
        BatchQueueInput(DataFromList(points), 0)


def test_batch_queue_input_needs_known_shapes(fresh_graph):
    inp = BatchQueueInput(DataFromList(make_points(4)), 2)
    with pytest.raises(ValueError, match="must be known"):
        inp.setup([tf.TensorSpec((None, None), tf.float32, "x")])


def _pack_array(a):
    """A numpy array in msgpack_numpy's layout (what upstream's serializer sends)."""
    a = np.ascontiguousarray(a)
    return {b"nd": True, b"type": a.dtype.str, b"kind": b"", b"shape": list(a.shape),
            b"data": a.tobytes()}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# [float32 2x3 arange, np.int64(5), 'txt', uint8 [1, 2]] serialized by upstream 0.11's
# tensorpack.utils.serialize.MsgpackSerializer.dumps (msgpack + msgpack_numpy).
UPSTREAM_MSGPACK = bytes.fromhex(
    "9485c4026e64c3c40474797065a33c6634c4046b696e64c400c4057368617065920203c404646174"
    "61c418000000000000803f0000004000004040000080400000a04083c4026e64c2c40474797065a3"
    "3c6938c40464617461c4080500000000000000a374787485c4026e64c3c40474797065a37c7531c4"
    "046b696e64c400c40573686170659102c40464617461c4020102")


def test_decode_upstream_msgpack_message():
    a, b, c, d = decode_datapoint(UPSTREAM_MSGPACK)
    np.testing.assert_array_equal(a, np.arange(6, dtype=np.float32).reshape(2, 3))
    assert a.dtype == np.float32 and b == 5 and c == "txt"
    assert d.dtype == np.uint8 and d.tolist() == [1, 2]


def test_decode_datapoint():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    msg = msgpack.packb([_pack_array(x), {b"nd": False, b"type": "<i4",
                                          b"data": np.int32(7).tobytes()}, "s"], use_bin_type=True)
    a, b, c = decode_datapoint(msg)
    np.testing.assert_array_equal(a, x)
    assert b == 7 and c == "s"
    obj = msgpack.packb([{b"nd": True, b"type": "|O", b"kind": b"", b"shape": [1],
                          b"data": b"\0" * 8}], use_bin_type=True)
    with pytest.raises(ValueError, match="pickle"):
        decode_datapoint(obj)
    with pytest.raises(ValueError, match="list"):
        decode_datapoint(msgpack.packb(3))


class _Sender(threading.Thread):
    """Pushes messages to a local endpoint (a PUSH socket blocks until the receiver binds)."""

    def __init__(self, port, messages):
        super().__init__(daemon=True)
        self.port, self.messages = port, messages

    def run(self):
        import zmq
        ctx = zmq.Context()
        sock = ctx.socket(zmq.PUSH)
        sock.setsockopt(zmq.SNDTIMEO, 20000)
        sock.setsockopt(zmq.LINGER, 5000)
        sock.connect("tcp://127.0.0.1:{}".format(self.port))
        try:
            for m in self.messages:
                sock.send(m)
        finally:
            sock.close()
            ctx.term()


def test_zmq_input_trains_on_received_batches(fresh_graph):
    port = _free_port()
    rng = np.random.RandomState(0)
    batches = [[rng.randn(3, 4).astype("float32"), np.array([0, 1, 2], "int32")]
               for _ in range(3)]
    sender = _Sender(port, [msgpack.packb([_pack_array(v) for v in b], use_bin_type=True)
                            for b in batches])
    sender.start()
    try:
        trainer, grab = train_tiny(ZMQInput("tcp://127.0.0.1:{}".format(port), hwm=10), steps=3)
    finally:
        sender.join(30)
    assert not sender.is_alive()
    assert len(grab.xs) == 3
    for got, want in zip(grab.xs, batches):
        np.testing.assert_allclose(got, want[0])


def test_zmq_input_to_dataset(fresh_graph):
    port = _free_port()
    inp = ZMQInput("tcp://127.0.0.1:{}".format(port), hwm=10)
    ds = inp.to_dataset([tf.TensorSpec((2,), tf.float32, "a")])
    el = tfv1.data.make_one_shot_iterator(ds).get_next()
    sender = _Sender(port, [msgpack.packb([_pack_array(np.full(2, i, np.float32))],
                                          use_bin_type=True) for i in range(2)])
    sender.start()
    with tfv1.Session() as sess:
        got = [sess.run(el)[0] for _ in range(2)]
    sender.join(30)
    assert not sender.is_alive()
    np.testing.assert_array_equal(got, [[0, 0], [1, 1]])


def test_remap_input_source(fresh_graph):
    sig = [tf.TensorSpec((None, 4), tf.float32, "x"), tf.TensorSpec((None,), tf.int32, "y")]
    inner = TensorInput(lambda: [tf.zeros([2], tf.int32, name="given_y")])
    remapped = remap_input_source(inner, ["y"])
    assert isinstance(remapped, TensorInput)
    remapped.setup(sig)
    x, y = remapped.get_input_tensors()
    assert x.op.type == "Placeholder" and x.op.name == "x"
    assert y.op.name.endswith("given_y")
    # order given by names, not by the model
    tfv1.reset_default_graph()
    both = remap_input_source(TensorInput(lambda: [tf.zeros([2], tf.int32, name="yy"),
                                                   tf.ones([2, 4], name="xx")]), ["y", "x"])
    both.setup(sig)
    x, y = both.get_input_tensors()
    assert x.op.name.endswith("xx") and y.op.name.endswith("yy")
    with pytest.raises(ValueError, match="not inputs"):
        remap_input_source(TensorInput(lambda: []), ["z"]).setup(sig)
