"""Save a DataFlow to a file and load it back as a DataFlow: LMDB, NumPy, TFRecord, HDF5.

Datapoints are stored with :mod:`tensorpack.utils.serialize` (msgpack, no pickle). Files
written by upstream tensorpack with pickle can be loaded by passing ``allow_pickle=True``
to ``load`` -- only do that for files you trust, since unpickling can run code.
Every ``save`` writes to a temporary name and renames it at the end, and refuses to
overwrite an existing file.
"""
import os
import pickle
import platform
import shutil
import zipfile

import numpy as np

from tensorpack.dataflow.base import DataFlow
from tensorpack.dataflow.common import FixedSizeData, MapData
from tensorpack.dataflow.format import LMDB_KEYS, HDF5Data, LMDBData, import_optional
from tensorpack.dataflow.raw import DataFromGenerator, DataFromList
from tensorpack.utils import logger
from tensorpack.utils.serialize import dumps, loads
from tensorpack.utils.utils import get_tqdm

__all__ = ["LMDBSerializer", "NumpySerializer", "TFRecordSerializer", "HDF5Serializer"]


def _start(df):
    if not isinstance(df, DataFlow):
        raise TypeError("Expected a DataFlow to serialize, got {}.".format(type(df).__name__))
    df.reset_state()
    try:
        return len(df)
    except NotImplementedError:
        return None


def _refuse_existing(path):
    if os.path.exists(path):
        raise FileExistsError("{} already exists; refusing to overwrite it. Remove it or choose "
                              "another path.".format(path))


def _decoder(path, allow_pickle):
    """A function decoding one stored datapoint, with a clear error for pickled data."""
    def decode(data):
        try:
            return loads(data)
        except ValueError as e:
            if bytes(data[:1]) == b"\x80":  # a pickle protocol >= 2 header
                if allow_pickle:
                    return pickle.loads(data)
                raise ValueError("{} holds pickled datapoints (upstream tensorpack's default "
                                 "format). They are not loaded unless you pass "
                                 "allow_pickle=True, which runs code from the file: only do "
                                 "that if you trust it.".format(path)) from e
            raise ValueError("{}: {}".format(path, e)) from e
    return decode


class LMDBSerializer:
    """Store datapoints in an LMDB database under keys ``b'00000000'``, ``b'00000001'``, ...,
    plus the list of keys under ``b'__keys__'``; values are serialized datapoints.

    Example::

        LMDBSerializer.save(df, "train.lmdb")
        df = LMDBSerializer.load("train.lmdb", shuffle=True)
    """

    @staticmethod
    def save(df, path, write_frequency=5000):
        """
        Args:
            df (DataFlow): the DataFlow to store (iterated once).
            path (str): an existing directory (the database goes to ``data.mdb`` in it) or a
                new file path.
            write_frequency (int): commit every this many datapoints.
        """
        lmdb = import_optional("lmdb", "LMDBSerializer")
        as_dir = os.path.isdir(path)
        final = os.path.join(path, "data.mdb") if as_dir else path
        _refuse_existing(final)
        tmp = final + ".incomplete"
        for leftover in (tmp, tmp + "-lock"):
            if os.path.exists(leftover):
                os.remove(leftover)
        size = _start(df)
        # Linux only reserves address space; other systems may commit it up front.
        map_size = 1 << 40 if platform.system() == "Linux" else 128 * 10 ** 6
        env = lmdb.open(tmp, subdir=False, map_size=map_size, readonly=False, meminit=False,
                        map_async=True, lock=False)
        try:
            count = LMDBSerializer._write(env, df, size, write_frequency)
            env.sync()
        finally:
            env.close()
        os.replace(tmp, final)
        if os.path.exists(tmp + "-lock"):
            os.remove(tmp + "-lock")
        logger.info("Wrote {} datapoints to {}.".format(count, final))

    @staticmethod
    def _write(env, df, size, write_frequency):
        keys, pending = [], []
        with get_tqdm(total=size) as bar:
            for dp in df:
                key = "{:08}".format(len(keys)).encode("ascii")
                keys.append(key)
                pending.append((key, dumps(dp)))
                if len(pending) >= write_frequency:
                    LMDBSerializer._commit(env, pending)
                bar.update()
        pending.append((LMDB_KEYS, dumps(keys)))
        LMDBSerializer._commit(env, pending)
        return len(keys)

    @staticmethod
    def _commit(env, pending):
        """Write ``pending`` in one transaction, doubling the map size until it fits."""
        lmdb = import_optional("lmdb", "LMDBSerializer")
        while True:
            txn = env.begin(write=True)
            try:
                for key, value in pending:
                    txn.put(key, value)
                txn.commit()
                pending.clear()
                return
            except lmdb.MapFullError:
                txn.abort()
                env.set_mapsize(env.info()["map_size"] * 2)
                logger.info("Growing the LMDB map to {:.1f} GB".format(
                    env.info()["map_size"] / 1e9))

    @staticmethod
    def load(path, shuffle=True, allow_pickle=False):
        """
        Args:
            path (str): what :meth:`save` wrote (directory or file).
            shuffle (bool): new random order each pass.
            allow_pickle (bool): also decode pickled values (upstream's files); unsafe for
                files you do not trust.

        Returns:
            DataFlow: a :class:`MapData` over an :class:`LMDBData`. To decode in parallel,
            use ``LMDBData`` and run :func:`tensorpack.utils.serialize.loads` in a
            parallel map instead.
        """
        decode = _decoder(path, allow_pickle)
        return MapData(LMDBData(path, shuffle=shuffle), lambda dp: decode(dp[1]))


class NumpySerializer:
    """Store all datapoints in one compressed ``.npz``: their serialized bytes concatenated
    (``dp_bytes``) and where each ends (``dp_ends``). Loads without pickle."""

    @staticmethod
    def save(df, path):
        """
        Args:
            df (DataFlow): the DataFlow to store (held in memory while saving).
            path (str): the ``.npz`` file.
        """
        _refuse_existing(path)
        size = _start(df)
        chunks = []
        with get_tqdm(total=size) as bar:
            for dp in df:
                chunks.append(dumps(dp))
                bar.update()
        ends = np.cumsum([len(c) for c in chunks], dtype=np.int64)
        blob = np.frombuffer(b"".join(chunks), dtype=np.uint8)
        tmp = path + ".incomplete.npz"
        np.savez_compressed(tmp, dp_bytes=blob, dp_ends=ends)
        os.replace(tmp, path)

    @staticmethod
    def load(path, shuffle=True, allow_pickle=False):
        """
        Args:
            path (str): what :meth:`save` wrote.
            shuffle (bool): new random order each pass.
            allow_pickle (bool): also read upstream's object-array files; unsafe for files you
                do not trust.

        Returns:
            DataFromList
        """
        try:
            with np.load(path, allow_pickle=False) as f:
                if "buffer" in f.files and "dp_bytes" not in f.files:
                    if not allow_pickle:
                        raise ValueError("{} was written by upstream tensorpack as pickled "
                                         "objects; pass allow_pickle=True to read it (runs code "
                                         "from the file: only for files you trust).".format(path))
                    return DataFromList(list(np.load(path, allow_pickle=True)["buffer"]),
                                        shuffle=shuffle)
                blob, ends = f["dp_bytes"], f["dp_ends"]
        except (OSError, KeyError, EOFError, ValueError, zipfile.BadZipFile) as e:
            if isinstance(e, ValueError) and "allow_pickle" in str(e):
                raise
            raise ValueError("{} is not a readable NumpySerializer file ({}). It may be "
                             "truncated or corrupt.".format(path, e)) from e
        data = blob.tobytes()
        starts = np.concatenate([[0], ends[:-1]])
        decode = _decoder(path, False)
        return DataFromList([decode(data[s:e]) for s, e in zip(starts, ends)], shuffle=shuffle)


class TFRecordSerializer:
    """Store serialized datapoints as the records of a TFRecord file (needs TensorFlow).

    TFRecord has no random access and no length; prefer :class:`LMDBSerializer`.
    """

    @staticmethod
    def save(df, path):
        """
        Args:
            df (DataFlow): the DataFlow to store.
            path (str): the ``.tfrecord`` file.
        """
        tf = import_optional("tensorflow", "TFRecordSerializer")
        _refuse_existing(path)
        size = _start(df)
        tmp = path + ".incomplete"
        with tf.io.TFRecordWriter(tmp) as writer, get_tqdm(total=size) as bar:
            for dp in df:
                writer.write(dumps(dp))
                bar.update()
        os.replace(tmp, path)

    @staticmethod
    def load(path, size=None):
        """
        Args:
            path (str): what :meth:`save` wrote.
            size (int): the number of records, which the file does not store; without it
                the DataFlow has no length.

        Returns:
            DataFlow: reads the file afresh each pass.
        """
        if not os.path.isfile(path):
            raise FileNotFoundError("TFRecord file {} does not exist.".format(path))
        decode = _decoder(path, False)

        def records():
            tf = import_optional("tensorflow", "TFRecordSerializer")
            try:
                for record in tf.compat.v1.io.tf_record_iterator(path):
                    yield record
            except tf.errors.DataLossError as e:
                raise ValueError("{} is truncated or corrupt: {}".format(
                    path, e.message)) from e

        ds = MapData(DataFromGenerator(records), decode)
        if size is not None:
            ds = FixedSizeData(ds, size)
        return ds


class HDF5Serializer:
    """Store each component of the datapoints as one HDF5 dataset (all held in memory)."""

    @staticmethod
    def save(df, path, data_paths):
        """
        Args:
            df (DataFlow): yields datapoints with ``len(data_paths)`` components of
                consistent shapes.
            path (str): the HDF5 file.
            data_paths (list[str]): one dataset path per component.
        """
        h5py = import_optional("h5py", "HDF5Serializer")
        _refuse_existing(path)
        size = _start(df)
        columns = [[] for _ in data_paths]
        with get_tqdm(total=size) as bar:
            for dp in df:
                if len(dp) != len(data_paths):
                    raise ValueError("HDF5Serializer: a datapoint has {} components but {} "
                                     "data_paths were given.".format(len(dp), len(data_paths)))
                for column, value in zip(columns, dp):
                    column.append(value)
                bar.update()
        tmp = path + ".incomplete"
        with h5py.File(tmp, "w") as f:
            for name, column in zip(data_paths, columns):
                f.create_dataset(name, data=np.asarray(column))
        shutil.move(tmp, path)

    @staticmethod
    def load(path, data_paths, shuffle=True):
        """
        Args:
            path (str): what :meth:`save` wrote.
            data_paths (list[str]): the datasets to zip into datapoints.
            shuffle (bool): new random order each pass.

        Returns:
            HDF5Data
        """
        return HDF5Data(path, data_paths, shuffle)
