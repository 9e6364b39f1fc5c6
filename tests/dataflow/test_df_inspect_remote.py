"""BatchDataByShape, PrintData, TestDataSpeed, and sending a DataFlow over ZeroMQ."""
import os
import signal
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tensorpack.dataflow import (BatchDataByShape, DataFromList, PrintData, RemoteDataZMQ,
                                 TestDataSpeed)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_batch_by_shape_groups_equal_shapes():
    shapes = [(2, 2), (3, 1), (2, 2), (3, 1), (2, 2), (5, 5)]
    df = DataFromList([[np.full(s, i), i] for i, s in enumerate(shapes)], shuffle=False)
    batched = BatchDataByShape(df, 2, idx=0)
    batched.reset_state()
    got = [dp for dp in batched]
    assert [b[1].tolist() for b in got] == [[0, 2], [1, 3]]
    assert got[0][0].shape == (2, 2, 2) and got[1][0].shape == (2, 3, 1)


def test_print_data_describes_and_passes_through(capsys):
    dp = [np.arange(6, dtype=np.int32).reshape(2, 3), 1.5, [np.zeros(2), "ab", [1, 2, 3, 4]]]
    df = PrintData(DataFromList([dp, dp, dp], shuffle=False), num=2, name="mine", max_list=3)
    df.reset_state()
    out = [x for x in df]
    assert len(out) == 3 and out[0] is dp
    text = capsys.readouterr().out
    assert text.count("components consists of") == 2
    assert "ndarray:int32 of shape (2, 3) in range [0, 5]" in text
    assert "float with value 1.5" in text
    assert "list of len 3" in text and "list of len 4" in text and "..." in text


def test_data_speed_counts_and_then_yields():
    df = TestDataSpeed(DataFromList([[i] for i in range(50)], shuffle=False), size=20,
                       warmup=5)
    assert df.start() > 0
    df2 = TestDataSpeed(DataFromList([[i] for i in range(10)], shuffle=False), size=100)
    df2.reset_state()
    assert [dp[0] for dp in df2] == list(range(10))  # the test runs first, then the data


SENDER = textwrap.dedent("""
    import sys
    import numpy as np
    from tensorpack.dataflow import DataFromList, send_dataflow_zmq
    df = DataFromList([[np.full(3, i, np.int16), i] for i in range(5)], shuffle=False)
    send_dataflow_zmq(df, sys.argv[1])
""")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_send_and_receive_over_tcp_loopback():
    addr = "tcp://127.0.0.1:{}".format(free_port())
    remote = RemoteDataZMQ(addr)
    remote.reset_state()
    it = iter(remote)
    sender = subprocess.Popen([sys.executable, "-c", SENDER, addr],
                              env=dict(os.environ, PYTHONPATH=REPO),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def on_alarm(signum, frame):
        raise TimeoutError("no data from the sender within 30 s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(30)
    try:
        got = [next(it) for _ in range(12)]  # the sender repeats its DataFlow
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        sender.kill()
        sender.wait(timeout=20)
        it.close()
    assert [dp[1] for dp in got] == [i % 5 for i in range(12)]
    np.testing.assert_array_equal(got[7][0], np.full(3, 2, np.int16))
    assert remote.cnt1 == 11  # counted after each datapoint is consumed


def test_remote_rejects_bad_arguments():
    with pytest.raises(ValueError, match="endpoint"):
        RemoteDataZMQ("")


def test_import_stays_light():
    code = ("import sys, tensorpack.dataflow\n"
            "print(' '.join(m for m in ('tensorflow', 'zmq', 'msgpack', 'lmdb', 'h5py', 'psutil')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=REPO),
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip() == ""
