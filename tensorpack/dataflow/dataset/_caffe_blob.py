"""Read a Caffe ``BlobProto`` file (e.g. ``imagenet_mean.binaryproto``) without protobuf.

Only the few fields of caffe.proto's ``BlobProto`` are decoded: ``num`` (1), ``channels``
(2), ``height`` (3), ``width`` (4), ``data`` (5, float32, packed or not) and ``shape`` (7,
a ``BlobShape`` whose ``dim`` is field 1).
"""
import struct

import numpy as np

__all__ = ["read_blob_proto"]


def _varint(buf, pos):
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf):
    """Yield ``(field_number, wire_type, value)``; length-delimited values are bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError("unsupported protobuf wire type {}".format(wire))
        if pos > len(buf):
            raise ValueError("truncated field {}".format(number))
        yield number, wire, value


def read_blob_proto(filename):
    """The array stored in a Caffe BlobProto file, shaped ``(channels, height, width)``
    (or as its ``shape`` field says).

    Raises:
        ValueError: if the file is not a readable BlobProto.
    """
    with open(filename, "rb") as f:
        buf = f.read()
    dims, legacy, chunks = [], {}, []
    try:
        for number, wire, value in _fields(buf):
            if number in (1, 2, 3, 4) and wire == 0:
                legacy[number] = value
            elif number == 5 and wire == 2:
                chunks.append(np.frombuffer(value, dtype="<f4"))
            elif number == 5 and wire == 5:
                chunks.append(np.array(struct.unpack("<f", value), dtype="f4"))
            elif number == 7 and wire == 2:
                for sub_number, sub_wire, sub_value in _fields(value):
                    if sub_number == 1 and sub_wire == 0:
                        dims.append(sub_value)
                    elif sub_number == 1 and sub_wire == 2:  # packed int64 dims
                        p = 0
                        while p < len(sub_value):
                            d, p = _varint(sub_value, p)
                            dims.append(d)
    except ValueError as e:
        raise ValueError("{} is not a valid Caffe BlobProto file: {}".format(filename, e)) \
            from None
    data = np.concatenate(chunks) if chunks else np.zeros((0,), "f4")
    if not dims and legacy:
        dims = [legacy.get(k, 1) for k in (1, 2, 3, 4)]
    if dims and int(np.prod(dims)) == data.size:
        data = data.reshape(dims)
        while data.ndim > 3 and data.shape[0] == 1:
            data = data[0]
        return data
    raise ValueError("{}: BlobProto holds {} values, which does not match its shape {}.".format(
        filename, data.size, dims))
