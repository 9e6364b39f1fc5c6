"""DataFlows reading common file formats: LMDB databases, HDF5 files, SVMlight text files.

``lmdb`` and ``h5py`` are optional (``pip install 'tensorpack[dataflow]'``) and imported
only when one of these classes is used.
"""
import importlib
import os

import numpy as np

from tensorpack.dataflow.base import DataFlowReentrantGuard, RNGDataFlow
from tensorpack.dataflow.common import MapData
from tensorpack.utils import logger
from tensorpack.utils.protobuf_wire import WireError, iter_fields
from tensorpack.utils.serialize import loads
from tensorpack.utils.utils import get_tqdm

__all__ = ["HDF5Data", "LMDBData", "LMDBDataDecoder", "CaffeLMDB", "SVMLightData"]

LMDB_KEYS = b"__keys__"  # where LMDBSerializer stores the list of keys
_LMDB_MAP_SIZE = 1 << 41  # only address space on Linux; the file grows as needed


def import_optional(module, feature):
    """Import an optional dependency, or raise ImportError naming the extra that provides it.

    Args:
        module (str): e.g. ``"lmdb"``.
        feature (str): what needs it, for the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError("{} needs the Python package '{}', which is not installed. Install "
                          "the data-pipeline extra: pip install 'tensorpack[dataflow]' (or just "
                          "pip install {}).".format(feature, module, module)) from e


def open_lmdb(path, **kwargs):
    """Open an LMDB file or directory read-only; a clear error for a missing/corrupt one."""
    lmdb = import_optional("lmdb", "Reading LMDB")
    if not os.path.exists(path):
        raise FileNotFoundError("LMDB database {} does not exist.".format(path))
    try:
        return lmdb.open(path, subdir=os.path.isdir(path), readonly=True, lock=False,
                         readahead=True, map_size=_LMDB_MAP_SIZE, max_readers=126, **kwargs)
    except lmdb.Error as e:
        raise ValueError("{} is not a readable LMDB database ({}). It may be truncated or "
                         "corrupt.".format(path, e)) from e


class LMDBData(RNGDataFlow):
    """Yield ``[key, value]`` pairs (both bytes) of an LMDB database.

    Decode the values with :class:`LMDBDataDecoder` or a :class:`MapData`, ideally in
    parallel. The database is opened again in each process that calls :meth:`reset_state`.
    """

    def __init__(self, lmdb_path, shuffle=True, keys=None):
        """
        Args:
            lmdb_path (str): an LMDB directory or file.
            shuffle (bool): visit the keys in a new random order each pass.
            keys (list[bytes] or str): the keys to visit when shuffling, or a format string
                such as ``'{:0>8d}'`` formatted with 0 .. size-1. By default the key list that
                :class:`LMDBSerializer` stores is used, else the database is scanned once.
        """
        self._lmdb_path = lmdb_path
        self._shuffle = shuffle
        env = open_lmdb(lmdb_path)
        try:
            with env.begin() as txn:
                self._size = txn.stat()["entries"]
                self.keys = self._find_keys(txn, keys)
        finally:
            env.close()
        logger.info("Found {} entries in {}".format(self._size, lmdb_path))
        self._guard = DataFlowReentrantGuard()
        self._env = None

    def _find_keys(self, txn, keys):
        stored = txn.get(LMDB_KEYS)
        if stored is not None:
            self._size -= 1
            try:
                stored = [bytes(k) for k in loads(stored)]
            except (ValueError, TypeError):
                # e.g. written by upstream with pickle, which is never loaded here
                logger.warn("{}: the stored key list is not in tensorpack's format; scanning "
                            "the keys instead.".format(self._lmdb_path))
                stored = None
        if not self._shuffle:
            return stored
        if isinstance(keys, str):
            return [keys.format(k).encode("ascii") for k in range(self._size)]
        if keys is not None:
            return [k.encode("ascii") if isinstance(k, str) else k for k in keys]
        if stored is not None:
            return stored
        logger.warn("Scanning {} for its keys; pass keys= to skip this.".format(self._lmdb_path))
        with get_tqdm(total=self._size) as bar:
            found = []
            for key in txn.cursor().iternext(keys=True, values=False):
                if key != LMDB_KEYS:
                    found.append(bytes(key))
                    bar.update()
        return found

    def reset_state(self):
        super().reset_state()
        if self._env is not None:
            self._env.close()
        self._env = open_lmdb(self._lmdb_path)

    def __len__(self):
        return self._size

    def __iter__(self):
        if self._env is None:
            raise RuntimeError("Call LMDBData.reset_state() before iterating it.")
        with self._guard, self._env.begin() as txn:
            if not self._shuffle:
                for key, value in txn.cursor():
                    if key != LMDB_KEYS:
                        yield [key, value]
                return
            order = self.rng.permutation(len(self.keys))
            for k in order:
                key = self.keys[k]
                value = txn.get(key)
                if value is None:
                    raise KeyError("Key {!r} is not in the LMDB database {}.".format(
                        key, self._lmdb_path))
                yield [key, value]

    def __del__(self):
        env = getattr(self, "_env", None)
        if env is not None:
            try:
                env.close()
            except Exception:
                pass


class LMDBDataDecoder(MapData):
    """Decode each ``[key, value]`` of an :class:`LMDBData` with ``decoder(key, value)``."""

    def __init__(self, lmdb_data, decoder):
        """
        Args:
            lmdb_data (LMDBData): the reader.
            decoder (callable): ``(key, value) -> datapoint``, or None to skip it.
        """
        super().__init__(lmdb_data, lambda dp: decoder(dp[0], dp[1]))


def parse_caffe_datum(buf):
    """The fields of a serialized ``caffe.Datum`` protobuf (no protobuf library needed).

    Returns:
        dict: ``channels``, ``height``, ``width``, ``label`` (ints) and ``data`` (bytes).

    Raises:
        ValueError: if ``buf`` is not a well-formed Datum.
    """
    names = {1: "channels", 2: "height", 3: "width", 4: "data", 5: "label"}
    fields = {"channels": 0, "height": 0, "width": 0, "label": 0, "data": b""}
    try:
        for number, _, value in iter_fields(buf):
            if number in names:
                fields[names[number]] = bytes(value) if number == 4 else value
    except WireError as e:
        raise ValueError("not a well-formed caffe.Datum: {}".format(e)) from None
    return fields


def CaffeLMDB(lmdb_path, shuffle=True, keys=None):
    """Read a Caffe LMDB of ``caffe.Datum`` values as ``[HWC uint8 image, label]``.

    Undecodable values are skipped with a warning. (Caffe stores raw pixels, which makes these
    databases large and slow; consider converting with :class:`LMDBSerializer`.)

    Args:
        lmdb_path, shuffle, keys: as for :class:`LMDBData`.

    Returns:
        LMDBDataDecoder
    """
    def decode(key, value):
        try:
            d = parse_caffe_datum(value)
            img = np.frombuffer(d["data"], dtype=np.uint8)
            img = img.reshape(d["channels"], d["height"], d["width"]).transpose(1, 2, 0)
        except ValueError as e:
            logger.warn("CaffeLMDB: cannot decode key {!r} of {}: {}".format(key, lmdb_path, e))
            return None
        return [img, d["label"]]
    return LMDBDataDecoder(LMDBData(lmdb_path, shuffle, keys), decode)


class HDF5Data(RNGDataFlow):
    """Zip datasets of an HDF5 file into datapoints ``[ds1[i], ds2[i], ...]``.

    The datasets are read into memory when the DataFlow is created.
    """

    def __init__(self, filename, data_paths, shuffle=True):
        """
        Args:
            filename (str): the HDF5 file.
            data_paths (list[str]): dataset paths inside it, e.g. ``['images', 'labels']``.
            shuffle (bool): visit the rows in a new random order each pass.

        Raises:
            FileNotFoundError, ValueError, KeyError: for a missing or unreadable file, datasets
                of different lengths, or a path not in the file.
        """
        h5py = import_optional("h5py", "Reading HDF5")
        if not os.path.isfile(filename):
            raise FileNotFoundError("HDF5 file {} does not exist.".format(filename))
        try:
            f = h5py.File(filename, "r")
        except OSError as e:
            raise ValueError("{} is not a readable HDF5 file ({}). It may be truncated or "
                             "corrupt.".format(filename, e)) from e
        with f:
            logger.info("Loading {} to memory...".format(filename))
            missing = [p for p in data_paths if p not in f]
            if missing:
                raise KeyError("{} has no dataset {}; it has {}.".format(
                    filename, missing, sorted(f.keys())))
            self.dps = [f[p][...] for p in data_paths]
        lengths = {p: len(d) for p, d in zip(data_paths, self.dps)}
        if len(set(lengths.values())) > 1:
            raise ValueError("HDF5Data: the datasets of {} have different lengths {}; they "
                             "cannot be zipped.".format(filename, lengths))
        self._size = len(self.dps[0]) if self.dps else 0
        self.shuffle = shuffle

    def __len__(self):
        return self._size

    def __iter__(self):
        order = self.rng.permutation(self._size) if self.shuffle else range(self._size)
        for k in order:
            yield [d[k] for d in self.dps]


def read_svmlight(filename):
    """Parse an SVMlight / libsvm text file into a dense ``X`` (float64) and ``y``.

    Indices are one-based unless some index is 0 (then zero-based), as scikit-learn
    guesses; ``qid:`` fields and ``#`` comments are ignored.
    """
    labels, rows = [], []
    with open(filename) as f:
        for lineno, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            try:
                labels.append(float(fields[0]))
                row = {}
                for field in fields[1:]:
                    index, value = field.split(":")
                    if index != "qid":
                        row[int(index)] = float(value)
            except ValueError as e:
                raise ValueError("{}:{}: not in SVMlight format ({}): {!r}".format(
                    filename, lineno, e, line)) from e
            rows.append(row)
    indices = [i for row in rows for i in row]
    offset = 0 if (indices and min(indices) == 0) else 1
    width = max(indices) + 1 - offset if indices else 0
    X = np.zeros((len(rows), width), dtype=np.float64)
    for r, row in enumerate(rows):
        for index, value in row.items():
            X[r, index - offset] = value
    return X, np.asarray(labels, dtype=np.float64)


class SVMLightData(RNGDataFlow):
    """Yield ``[X_i, y_i]`` from an SVMlight file (``X_i`` a dense float64 row)."""

    def __init__(self, filename, shuffle=True):
        """
        Args:
            filename (str): the SVMlight text file.
            shuffle (bool): visit the rows in a new random order each pass.
        """
        self.X, self.y = read_svmlight(filename)
        self.shuffle = shuffle

    def __len__(self):
        return len(self.y)

    def __iter__(self):
        order = self.rng.permutation(len(self.y)) if self.shuffle else range(len(self.y))
        for k in order:
            yield [self.X[k], self.y[k]]
