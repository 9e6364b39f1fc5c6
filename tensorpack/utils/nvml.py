"""A small ctypes binding of NVIDIA's management library (NVML): GPU names, memory and
utilization, without extra packages. Needs the NVIDIA driver (``libnvidia-ml.so.1``)."""
import ctypes
import ctypes.util
import threading

__all__ = ["NVMLContext"]


class NvmlException(Exception):
    """An NVML call failed; ``error_code`` is NVML's return code."""

    def __init__(self, error_code, function):
        super().__init__("NVML call {} failed with error code {}.".format(function, error_code))
        self.error_code = error_code


class _Memory(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong),
                ("used", ctypes.c_ulonglong)]


class _Utilization(ctypes.Structure):
    _fields_ = [("gpu", ctypes.c_uint), ("memory", ctypes.c_uint)]


_LIB = None
_LIB_LOCK = threading.Lock()


def _library():
    global _LIB
    with _LIB_LOCK:
        if _LIB is None:
            names = ["libnvidia-ml.so.1", ctypes.util.find_library("nvidia-ml")]
            for name in [n for n in names if n]:
                try:
                    _LIB = ctypes.CDLL(name)
                    break
                except OSError:
                    continue
            else:
                raise OSError("NVML (libnvidia-ml.so.1) was not found: it comes with the NVIDIA "
                              "driver, which this machine does not seem to have.")
    return _LIB


def _call(function, *args):
    ret = getattr(_library(), function)(*args)
    if ret != 0:
        raise NvmlException(ret, function)


class NvidiaDevice:
    """One GPU, as NVML sees it."""

    def __init__(self, handle):
        self._handle = handle

    def memory(self):
        """Returns: dict: ``total``, ``free``, ``used`` bytes."""
        info = _Memory()
        _call("nvmlDeviceGetMemoryInfo", self._handle, ctypes.byref(info))
        return {"total": info.total, "free": info.free, "used": info.used}

    def utilization(self):
        """Returns: dict: ``gpu`` and ``memory`` utilization, in percent."""
        info = _Utilization()
        _call("nvmlDeviceGetUtilizationRates", self._handle, ctypes.byref(info))
        return {"gpu": info.gpu, "memory": info.memory}

    def name(self):
        """Returns: str: the product name."""
        buf = ctypes.create_string_buffer(96)
        _call("nvmlDeviceGetName", self._handle, buf, ctypes.c_uint(96))
        return buf.value.decode("utf-8")


class NVMLContext:
    """``with NVMLContext() as ctx:`` initializes NVML and shuts it down at exit.

    Raises:
        OSError: on entering, without the NVIDIA driver.
        NvmlException: if an NVML call fails.
    """

    def __enter__(self):
        _call("nvmlInit_v2")
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        _call("nvmlShutdown")
        return False

    def num_devices(self):
        """Returns: int: the number of GPUs."""
        count = ctypes.c_uint()
        _call("nvmlDeviceGetCount_v2", ctypes.byref(count))
        return count.value

    def devices(self):
        """Returns: list[NvidiaDevice]: every GPU."""
        return [self.device(i) for i in range(self.num_devices())]

    def device(self, idx):
        """
        Args:
            idx (int): the GPU's index (NVML order, as ``nvidia-smi``).

        Returns:
            NvidiaDevice
        """
        handle = ctypes.c_void_p()
        _call("nvmlDeviceGetHandleByIndex_v2", ctypes.c_uint(idx), ctypes.byref(handle))
        return NvidiaDevice(handle)
