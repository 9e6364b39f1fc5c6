"""Send a DataFlow's datapoints to another process or machine over ZeroMQ, and receive them.

The wire format is :mod:`tensorpack.utils.serialize` (msgpack): the receiver never
unpickles what arrives on its socket.
"""
import time
from collections import deque

from tensorpack.dataflow.base import DataFlow, DataFlowReentrantGuard
from tensorpack.dataflow.parallel import import_zmq
from tensorpack.utils import logger
from tensorpack.utils.serialize import dumps, loads
from tensorpack.utils.utils import get_tqdm

__all__ = ["send_dataflow_zmq", "RemoteDataZMQ"]


def send_dataflow_zmq(df, addr, hwm=50, format=None, bind=False):
    """Iterate ``df`` forever and push each datapoint to a ZeroMQ endpoint. Never returns.

    Args:
        df (DataFlow): the DataFlow to serve (reset here, then repeated).
        addr (str): a ZeroMQ endpoint, e.g. ``tcp://127.0.0.1:8877`` or ``ipc:///tmp/pipe``.
        hwm (int): ZeroMQ high-water mark (send queue length).
        format (str): None for :mod:`tensorpack.utils.serialize` (what :class:`RemoteDataZMQ`
            reads), or ``'zmq_ops'`` for the ``zmq_ops`` package's array format.
        bind (bool): bind ``addr`` instead of connecting to it.
    """
    if format not in (None, "zmq_op", "zmq_ops"):
        raise ValueError("send_dataflow_zmq: unknown format {!r}; use None or 'zmq_ops'.".format(
            format))
    if format is None:
        dump = dumps
    else:
        try:
            from zmq_ops import dump_arrays as dump
        except ImportError as e:
            raise ImportError("format='zmq_ops' needs the zmq_ops package "
                              "(https://github.com/tensorpack/zmq_ops).") from e
    zmq = import_zmq()
    context = zmq.Context()
    sock = context.socket(zmq.PUSH)
    sock.set_hwm(hwm)
    if bind:
        sock.bind(addr)
    else:
        sock.connect(addr)
    try:
        df.reset_state()
        logger.info("Serving data to {} ...".format(addr))
        try:
            total = len(df)
        except NotImplementedError:
            total = None
        latency = deque(maxlen=200)
        while True:
            with get_tqdm(total=total, leave=True, smoothing=0.8) as bar:
                for dp in df:
                    start = time.perf_counter()
                    sock.send(dump(dp), copy=False)
                    latency.append(time.perf_counter() - start)
                    bar.update()
                    if bar.n % 200 == 0:
                        bar.set_postfix(AvgSendLat="{:.3f}".format(sum(latency) / len(latency)))
    finally:
        logger.info("Exiting send_dataflow_zmq ...")
        sock.close(linger=0)
        context.term()


class RemoteDataZMQ(DataFlow):
    """Yield the datapoints arriving on one or two ZeroMQ PULL endpoints, forever.

    The counterpart of :func:`send_dataflow_zmq`.

    Attributes:
        cnt1, cnt2 (int): datapoints received from ``addr1`` and ``addr2``.
    """

    def __init__(self, addr1, addr2=None, hwm=50, bind=True):
        """
        Args:
            addr1, addr2 (str): endpoints (the second is optional, e.g. ipc and tcp together).
            hwm (int): ZeroMQ high-water mark (receive queue length).
            bind (bool): bind the endpoints (default) instead of connecting to them.
        """
        if not addr1:
            raise ValueError("RemoteDataZMQ needs an endpoint address, e.g. tcp://0.0.0.0:8877.")
        self._addrs = [a for a in (addr1, addr2) if a]
        self._hwm = int(hwm)
        self._bind = bind
        self._guard = DataFlowReentrantGuard()
        self.cnt1 = self.cnt2 = 0

    def reset_state(self):
        self.cnt1 = self.cnt2 = 0

    def bind_or_connect(self, socket, addr):
        if self._bind:
            socket.bind(addr)
        else:
            socket.connect(addr)

    def __iter__(self):
        zmq = import_zmq()
        with self._guard:
            context = zmq.Context()
            sockets = []
            try:
                poller = zmq.Poller()
                for addr in self._addrs:
                    sock = context.socket(zmq.PULL)
                    sock.set_hwm(self._hwm)
                    self.bind_or_connect(sock, addr)
                    poller.register(sock, zmq.POLLIN)
                    sockets.append(sock)
                while True:
                    for sock, _ in poller.poll():
                        dp = loads(sock.recv(copy=False))
                        yield dp
                        if sock is sockets[0]:
                            self.cnt1 += 1
                        else:
                            self.cnt2 += 1
            finally:
                for sock in sockets:
                    sock.close(linger=0)
                context.term()
