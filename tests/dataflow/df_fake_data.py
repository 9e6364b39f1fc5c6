"""Small dataset files in each publisher's exact format, for the dataflow tests."""
import gzip
import os
import pickle
import struct

import numpy as np

RS = np.random.RandomState(0)


def write_idx(path, magic, array):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype("uint8").tobytes())


def write_mnist(directory, prefix, n):
    os.makedirs(directory, exist_ok=True)
    images = RS.randint(0, 256, size=(n, 28, 28)).astype("uint8")
    labels = RS.randint(0, 10, size=(n,)).astype("uint8")
    write_idx(os.path.join(directory, prefix + "-images-idx3-ubyte.gz"), 2051, images)
    write_idx(os.path.join(directory, prefix + "-labels-idx1-ubyte.gz"), 2049, labels)
    return images, labels


def py2_pickle(obj):
    """Pickle protocol 2 as Python 2's cPickle wrote the CIFAR files: str values are
    SHORT_BINSTRING / BINSTRING and arrays go through numpy.core.multiarray._reconstruct."""
    out = [b"\x80\x02"]

    def string(b):
        out.append(b"U" + bytes([len(b)]) + b if len(b) < 256 else
                   b"T" + struct.pack("<i", len(b)) + b)

    def emit(o):
        if isinstance(o, dict):
            out.append(b"}")
            if o:
                out.append(b"(")
                for k, v in o.items():
                    emit(k)
                    emit(v)
                out.append(b"u")
        elif isinstance(o, list):
            out.append(b"]")
            if o:
                out.append(b"(")
                for v in o:
                    emit(v)
                out.append(b"e")
        elif isinstance(o, tuple):
            out.append(b"(")
            for v in o:
                emit(v)
            out.append(b"t")
        elif isinstance(o, bool):
            out.append(b"\x88" if o else b"\x89")
        elif isinstance(o, int):
            out.append(b"J" + struct.pack("<i", o))
        elif isinstance(o, (bytes, str)):
            string(o.encode() if isinstance(o, str) else o)
        elif o is None:
            out.append(b"N")
        elif isinstance(o, np.ndarray):
            emit_array(o)
        else:
            raise TypeError(type(o))

    def emit_array(o):
        out.append(b"cnumpy.core.multiarray\n_reconstruct\n")
        out.append(b"cnumpy\nndarray\n")
        emit((0,))
        string(b"b")
        out.append(b"\x87R")  # TUPLE3 + REDUCE: an empty array
        out.append(b"(")  # the state tuple: (version, shape, dtype, fortran, raw data)
        emit(1)
        emit(tuple(o.shape))
        out.append(b"cnumpy\ndtype\n")
        emit((o.dtype.str[1:], 0, 1))
        out.append(b"R")
        emit((3, "|", None, None, None, -1, -1, 0))
        out.append(b"b")
        emit(False)
        string(o.tobytes())
        out.append(b"tb")  # close the state tuple, BUILD the array

    emit(obj)
    out.append(b".")
    return b"".join(out)


def write_cifar10(root, n_per_batch=4):
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder)
    written = {}
    for name in ["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"]:
        data = RS.randint(0, 256, size=(n_per_batch, 3072)).astype("uint8")
        labels = [int(x) for x in RS.randint(0, 10, size=n_per_batch)]
        batch = {b"batch_label": b"training batch", b"labels": labels, b"data": data,
                 b"filenames": [b"img_%d.png" % i for i in range(n_per_batch)]}
        blob = py2_pickle(batch)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(blob)
        # the hand-written stream is a valid pickle, read as Python 3 reads Python 2 files
        np.testing.assert_array_equal(pickle.loads(blob, encoding="bytes")[b"data"], data)
        written[name] = (data, labels)
    meta = {b"num_cases_per_batch": n_per_batch, b"num_vis": 3072,
            b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog",
                             b"frog", b"horse", b"ship", b"truck"]}
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        f.write(py2_pickle(meta))
    return written


def blob_proto(arr):
    def varint(v):
        out = b""
        while True:
            b = v & 0x7F
            v >>= 7
            out += bytes([b | (0x80 if v else 0)])
            if not v:
                return out
    payload = arr.astype("<f4").tobytes()
    msg = b"".join(varint(key << 3) + varint(val) for key, val in
                   zip((1, 2, 3, 4), (1,) + arr.shape))
    return msg + varint(5 << 3 | 2) + varint(len(payload)) + payload


def write_imagenet(root):
    import cv2
    meta, data = root / "meta", root / "data"
    meta.mkdir()
    synsets = ["n01440764", "n01443537", "n01484850"]
    (meta / "synsets.txt").write_text("\n".join(synsets) + "\n")
    (meta / "synset_words.txt").write_text(
        "n01440764 tench, Tinca tinca\nn01443537 goldfish\nn01484850 great white shark\n")
    train_lines, val_lines = [], []
    for label, syn in enumerate(synsets):
        (data / "train" / syn).mkdir(parents=True)
        for i in range(2):
            name = "{}/{}_{}.JPEG".format(syn, syn, i)
            cv2.imwrite(str(data / "train" / name), np.full((10 + label, 12, 3), label, "u1"))
            train_lines.append("{} {}".format(name, label))
    (data / "val").mkdir()
    for i, label in enumerate([2, 0]):
        name = "ILSVRC2012_val_{:08d}.JPEG".format(i + 1)
        cv2.imwrite(str(data / "val" / name), np.zeros((8, 9, 3), "u1"))
        val_lines.append("{} {}".format(name, label))
    (meta / "train.txt").write_text("\n".join(train_lines) + "\n")
    (meta / "val.txt").write_text("\n".join(val_lines) + "\n")
    (meta / "test.txt").write_text("ILSVRC2012_test_00000001.JPEG 0\n")
    mean = np.arange(3 * 4 * 5, dtype="float32").reshape(3, 4, 5)
    (meta / "imagenet_mean.binaryproto").write_bytes(blob_proto(mean))
    return meta, data, mean
