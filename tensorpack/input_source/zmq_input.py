"""ZMQInput: the model's inputs arrive over a ZeroMQ PULL socket.

Each message is one datapoint: a list of arrays serialized with msgpack in the layout of
``msgpack_numpy`` (what upstream's ``MsgpackSerializer.dumps`` writes), which is decoded here
without pickle and without the ``msgpack_numpy`` package. Upstream needed a compiled op and
its own wire format (``zmq_ops``); here a ``tf.numpy_function`` receives the messages.
"""
import threading
import weakref

import numpy as np
import tensorflow as tf

from tensorpack.compat import tfv1
from tensorpack.input_source.tensor_sources import TensorInput

__all__ = ["ZMQInput"]


def _decode_array(obj):
    """msgpack object hook: msgpack_numpy's ``{b'nd': ..., b'type': ..., b'data': ...}``
    maps become numpy arrays (or numpy scalars); other maps pass through."""
    if b"nd" not in obj:
        return obj
    descr = obj[b"type"]
    if obj.get(b"kind") == b"V":  # a structured dtype: a list of (name, format) pairs
        descr = [tuple(f) for f in descr]
    dtype = np.dtype(descr)
    if dtype.hasobject:
        raise ValueError("ZMQInput: refusing an object array (it would need pickle).")
    if obj[b"nd"]:
        return np.frombuffer(obj[b"data"], dtype=dtype).reshape(obj[b"shape"])
    return np.frombuffer(obj[b"data"], dtype=dtype)[0]


def decode_datapoint(msg):
    """Decode one message into a list of numpy values.

    Args:
        msg (bytes): a msgpack message (msgpack_numpy layout for arrays).

    Returns:
        list

    Raises:
        ValueError: if the message is not a list.
    """
    import msgpack
    dp = msgpack.unpackb(msg, object_hook=_decode_array, raw=False, strict_map_key=False)
    if not isinstance(dp, (list, tuple)):
        raise ValueError("ZMQInput: a message must hold a list (one datapoint), got {}.".format(
            type(dp).__name__))
    return list(dp)


class _PullSocket:
    """A lazily bound / connected PULL socket. Receiving polls, so that :meth:`close` (from
    another thread) ends a pending receive instead of hanging. The socket belongs to the
    process-wide ZeroMQ context and is closed when this object is closed, collected, or at
    interpreter exit."""

    _POLL_MS = 100

    def __init__(self, end_point, hwm, bind):
        self._end_point = end_point
        self._hwm = hwm
        self._bind = bind
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._sock = None
        self._finalizer = None

    def _open(self):
        if self._sock is None:
            import zmq
            sock = zmq.Context.instance().socket(zmq.PULL)
            sock.setsockopt(zmq.LINGER, 0)
            sock.set_hwm(self._hwm)
            if self._bind:
                sock.bind(self._end_point)
            else:
                sock.connect(self._end_point)
            self._sock = sock
            self._finalizer = weakref.finalize(self, sock.close)
        return self._sock

    def recv(self):
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("ZMQInput: the socket on {} is closed.".format(self._end_point))
            sock = self._open()
            while not self._closed.is_set():
                if sock.poll(self._POLL_MS):
                    return sock.recv()
        raise RuntimeError("ZMQInput: the socket on {} was closed while receiving.".format(
            self._end_point))

    def close(self):
        self._closed.set()
        with self._lock:  # a pending recv() sees the flag within one poll interval
            if self._finalizer is not None:
                self._finalizer()


def _require_zmq():
    try:
        import msgpack  # noqa: F401
        import zmq  # noqa: F401
    except ImportError as e:
        raise ImportError("ZMQInput needs pyzmq and msgpack: pip install pyzmq msgpack") from e


def _pull_tensors(socket, input_signature):
    """Tensors receiving one datapoint from ``socket`` each time they are evaluated."""
    dtypes = [s.dtype for s in input_signature]

    def receive():
        dp = decode_datapoint(socket.recv())
        if len(dp) != len(dtypes):
            raise ValueError("ZMQInput: received a datapoint of {} components for {} inputs "
                             "{}.".format(len(dp), len(dtypes), [s.name for s in input_signature]))
        return [np.asarray(v, dtype=d.as_numpy_dtype) for v, d in zip(dp, dtypes)]

    ret = tfv1.numpy_function(receive, [], dtypes, stateful=True, name="zmq_pull")
    for t, spec in zip(ret, input_signature):
        t.set_shape(spec.shape)
    return list(ret)


class ZMQInput(TensorInput):
    """Receive datapoints from a ZeroMQ endpoint (e.g. sent by ``send_dataflow_zmq``).

    Each message is one datapoint (a msgpack list of arrays); its components must match the
    model's inputs in order and dtype.
    """

    def __init__(self, end_point, hwm, bind=True):
        """
        Args:
            end_point (str): the ZeroMQ endpoint, e.g. ``'ipc://pipe'`` or ``'tcp://0.0.0.0:1234'``.
            hwm (int): the socket's high-water mark (messages buffered).
            bind (bool): bind the endpoint (else connect to it).

        Raises:
            ImportError: without pyzmq or msgpack.
        """
        _require_zmq()
        self._end_point = end_point
        self._hwm = int(hwm)
        self._bind = bind
        self._socket = _PullSocket(end_point, self._hwm, bind)
        super().__init__(lambda: _pull_tensors(self._socket, self._spec))

    def _setup(self, input_signature):
        if not input_signature:
            raise ValueError("ZMQInput needs a model with at least one input.")
        super()._setup(input_signature)

    def _get_callbacks(self):
        from tensorpack.callbacks.base import Callback

        socket = self._socket

        class _CloseSocket(Callback):
            _chief_only = False

            def _after_train(self):
                socket.close()
        return [_CloseSocket()]

    def to_dataset(self, input_signature):
        """A ``tf.data.Dataset`` of the received datapoints (endless). Each element is
        received when it is asked for: add ``.prefetch()`` only if the sender never stops
        before the session closes.

        Args:
            input_signature (list[tf.TensorSpec]): the components of a datapoint.

        Returns:
            tf.data.Dataset
        """
        socket = _PullSocket(self._end_point, self._hwm, self._bind)
        ds = tf.data.Dataset.from_tensors(0).repeat().map(
            lambda _: tuple(_pull_tensors(socket, input_signature)))
        # No prefetch injected by tf.data: a receive running ahead would block (and keep the
        # session from closing) once the sender stops.
        opts = tf.data.Options()
        opts.experimental_optimization.inject_prefetch = False
        opts.autotune.enabled = False
        return ds.with_options(opts)
