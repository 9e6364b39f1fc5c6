"""Read a Caffe ``BlobProto`` file (e.g. ``imagenet_mean.binaryproto``) without protobuf.

Only the few fields of caffe.proto's ``BlobProto`` are decoded: ``num`` (1), ``channels``
(2), ``height`` (3), ``width`` (4), ``data`` (5, float32, packed or not) and ``shape`` (7,
a ``BlobShape`` whose ``dim`` is field 1).
"""
import struct

import numpy as np

from tensorpack.utils.protobuf_wire import iter_fields, read_varint

__all__ = ["read_blob_proto"]


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
        for number, wire, value in iter_fields(buf):
            if number in (1, 2, 3, 4) and wire == 0:
                legacy[number] = value
            elif number == 5 and wire == 2:
                chunks.append(np.frombuffer(value, dtype="<f4"))
            elif number == 5 and wire == 5:
                chunks.append(np.array(struct.unpack("<f", struct.pack("<I", value)), dtype="f4"))
            elif number == 7 and wire == 2:
                for sub_number, sub_wire, sub_value in iter_fields(value):
                    if sub_number == 1 and sub_wire == 0:
                        dims.append(sub_value)
                    elif sub_number == 1 and sub_wire == 2:  # packed int64 dims
                        p = 0
                        while p < len(sub_value):
                            d, p = read_varint(sub_value, p)
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
