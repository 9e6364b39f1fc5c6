"""TensorFlow DataType numbers and their NumPy counterparts.

Names follow :class:`tensorpack.checkpoint.source.TensorInfo`: NumPy dtype names, plus
``"bfloat16"`` and ``"string"``. NumPy has no bfloat16; when ``ml_dtypes`` is installed its
``bfloat16`` type is used, otherwise bfloat16 data is handled as raw uint16 bits.
"""
import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = ["DT_STRING", "DT_BFLOAT16", "name_of", "enum_of", "numpy_dtype", "storage_dtype",
           "bfloat16_type", "bfloat16_to_float32", "float32_to_bfloat16_bits"]

DT_STRING = 7
DT_BFLOAT16 = 14

# DataType enum -> our dtype name (types.proto).
_ENUM_TO_NAME = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
    8: "complex64", 9: "int64", 10: "bool", 14: "bfloat16", 17: "uint16", 18: "complex128",
    19: "float16", 22: "uint32", 23: "uint64",
}
_NAME_TO_ENUM = {v: k for k, v in _ENUM_TO_NAME.items()}
# Types a bundle may hold that we can list but not convert to a NumPy array.
_UNSUPPORTED = {11: "qint8", 12: "quint8", 13: "qint32", 15: "qint16", 16: "quint16",
                20: "resource", 21: "variant", 24: "float8_e5m2", 25: "float8_e4m3fn",
                29: "int4", 30: "uint4"}

_bf16 = False


def bfloat16_type() -> np.dtype | None:
    """Returns: the ``ml_dtypes.bfloat16`` NumPy type, or None if ml_dtypes is missing."""
    global _bf16
    if _bf16 is False:
        try:
            import ml_dtypes
            _bf16 = np.dtype(ml_dtypes.bfloat16)
        except ImportError:
            _bf16 = None
    return _bf16


def name_of(enum: int) -> str:
    """Our dtype name for a DataType number.

    Raises:
        ValueError: for an unknown number.
    """
    try:
        return _ENUM_TO_NAME[enum]
    except KeyError:
        pass
    if enum in _UNSUPPORTED:
        return _UNSUPPORTED[enum]
    raise ValueError("unknown TensorFlow DataType number {}".format(enum))


def is_supported(enum: int) -> bool:
    """Whether tensors of this DataType can be read as NumPy arrays."""
    return enum in _ENUM_TO_NAME


def enum_of(dtype: DTypeLike) -> int:
    """The DataType number of a NumPy dtype or dtype name.

    Args:
        dtype: a NumPy dtype (ml_dtypes' bfloat16 included), a name such as ``"float32"``,
            ``"bfloat16"`` or ``"string"``, or an object/bytes/str dtype (meaning string).

    Raises:
        ValueError: for a dtype that TensorFlow checkpoints cannot hold.
    """
    if isinstance(dtype, str) and dtype in _NAME_TO_ENUM:
        return _NAME_TO_ENUM[dtype]
    dt = np.dtype(dtype)
    if dt.kind in "OSU":
        return DT_STRING
    if dt.name == "bfloat16":
        return DT_BFLOAT16
    try:
        return _NAME_TO_ENUM[dt.newbyteorder("=").name]
    except KeyError:
        raise ValueError("dtype {} cannot be stored in a TensorFlow checkpoint".format(
            dt)) from None


def storage_dtype(enum: int) -> np.dtype:
    """The little-endian NumPy dtype of the stored bytes (uint16 for bfloat16).

    Raises:
        ValueError: for strings or a type NumPy cannot represent.
    """
    if enum == DT_BFLOAT16:
        return np.dtype("<u2")
    name = _ENUM_TO_NAME.get(enum)
    if name is None or name == "string":
        raise ValueError("DataType {} has no fixed-size NumPy storage".format(
            name_of(enum) if enum in _UNSUPPORTED else enum))
    return np.dtype(name).newbyteorder("<")


def numpy_dtype(name: str) -> np.dtype:
    """The NumPy dtype we return for a dtype name (bfloat16: ml_dtypes' or float32)."""
    if name == "bfloat16":
        return bfloat16_type() or np.dtype("float32")
    if name == "string":
        return np.dtype(object)
    return np.dtype(name)


def bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    """Exactly widen raw bfloat16 bits (uint16 array) to float32."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def float32_to_bfloat16_bits(x: ArrayLike) -> np.ndarray:
    """Round float32 values to bfloat16 bits (nearest, ties to even; NaN stays NaN)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    if nan.any():
        rounded[nan] = ((u[nan] >> 16) | 0x0040).astype(np.uint16)
    return rounded
