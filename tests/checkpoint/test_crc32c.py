"""crc32c backends agree with each other and with the standard check value."""
import os
import subprocess
import sys

import numpy as np
import pytest

from tensorpack.checkpoint import crc32c as C

LENGTHS = [0, 1, 3, 7, 8, 9, 15, 16, 17, 255, 256, 257, 271, 1000, 4096, 262144 + 15,
           8 * 65536, 8 * 65536 + 5,
           (1 << 20) + 3]


def test_check_value_every_backend():
    for fn in (C.crc32c, C.numpy_crc32c, C.python_crc32c):
        assert fn(b"123456789") == 0xE3069283


@pytest.mark.parametrize("n", LENGTHS)
def test_numpy_fallback_matches_active_backend(n):
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8)
    expected = C.crc32c(data.tobytes())
    assert C.numpy_crc32c(data) == expected
    assert C.numpy_crc32c(data.tobytes()) == expected
    if n <= 4096:
        assert C.python_crc32c(data.tobytes()) == expected


@pytest.mark.parametrize("split", [0, 1, 5, 300, 70000])
def test_extend_semantics(split):
    data = np.random.default_rng(1).integers(0, 256, 100003, dtype=np.uint8).tobytes()
    whole = C.crc32c(data)
    for fn in (C.crc32c, C.numpy_crc32c):
        assert fn(data[split:], fn(data[:split])) == whole


def test_accepts_every_buffer_kind():
    data = bytes(range(256)) * 3
    expected = C.crc32c(data)
    assert C.crc32c(bytearray(data)) == expected
    assert C.crc32c(memoryview(data)) == expected
    assert C.crc32c(np.frombuffer(data, np.uint8)) == expected
    # A non-byte array is hashed by its raw bytes.
    assert C.crc32c(np.frombuffer(data, np.uint16)) == expected


def test_mask_roundtrip():
    assert C.mask(0) == 0xA282EAD8
    for v in (0, 1, 0xFFFFFFFF, 0x12345678, C.crc32c(b"abc")):
        assert C.unmask(C.mask(v)) == v
        assert C.mask(v) != v or v == 0xA282EAD8


def test_env_var_forces_numpy_backend():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, TENSORPACK_CRC32C_BACKEND="numpy", PYTHONPATH=root)
    code = ("from tensorpack.checkpoint import crc32c as C; "
            "print(C.BACKEND, C.crc32c(b'123456789' * 100))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[0] == "numpy"
    assert int(out[1]) == C.crc32c(b"123456789" * 100)
