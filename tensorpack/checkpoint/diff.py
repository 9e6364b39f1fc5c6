"""Compare two sets of named tensors: names on one side only, shape / dtype changes, and
the largest absolute difference of each tensor present on both sides.

Sources are read one tensor at a time (and compared in slices), so memory stays near the
size of the largest tensor whatever the checkpoints' size.
"""
from typing import Callable, List, NamedTuple, Optional

import numpy as np

from tensorpack.checkpoint.names import normalize_name

__all__ = ["TensorDiff", "diff_sources"]

_CHUNK_ELEMENTS = 1 << 22


class TensorDiff(NamedTuple):
    """How one name compares.

    Attributes:
        name (str): the name (without a ``:0`` suffix).
        status (str): ``"equal"``, ``"differ"``, ``"shape"`` / ``"dtype"`` (changed),
            ``"only_a"`` or ``"only_b"``.
        a, b (TensorInfo or None): the tensor's description on each side.
        max_abs_diff (float or None): the largest ``|a - b|`` for numbers of the same shape;
            None otherwise (strings: ``status`` alone says whether they differ).
    """
    name: str
    status: str
    a: object
    b: object
    max_abs_diff: Optional[float]


def _as_numbers(arr):
    if arr.dtype.name == "bfloat16" or arr.dtype.name.startswith("float8"):
        return arr.astype(np.float32)
    return arr


def _max_abs_diff(x, y):
    x, y = _as_numbers(np.asarray(x)).reshape(-1), _as_numbers(np.asarray(y)).reshape(-1)
    if x.dtype.kind not in "biufc" or y.dtype.kind not in "biufc":
        return None
    if x.dtype.kind == "c" or y.dtype.kind == "c":
        work = np.complex128
    else:
        work = np.float64
    worst = 0.0
    for i in range(0, x.size, _CHUNK_ELEMENTS):
        d = np.abs(x[i:i + _CHUNK_ELEMENTS].astype(work) - y[i:i + _CHUNK_ELEMENTS].astype(work))
        if d.size:
            nan = np.isnan(d)
            if nan.any():
                # NaN on both sides at the same place is no difference; on one side it is.
                xs, ys = x[i:i + _CHUNK_ELEMENTS], y[i:i + _CHUNK_ELEMENTS]
                both = np.isnan(xs.astype(work)) & np.isnan(ys.astype(work))
                if (nan & ~both).any():
                    return float("nan")
                d = d[~nan]
            if d.size:
                worst = max(worst, float(d.max()))
    return worst


def diff_sources(a, b, keep: Optional[Callable[[str], bool]] = None, atol: float = 0.0,
                 on_tensor: Optional[Callable[[int], None]] = None) -> List[TensorDiff]:
    """Compare two :class:`~tensorpack.checkpoint.CheckpointSource` (names match with or
    without ``:0``).

    Args:
        a, b: the sources.
        keep: a predicate on names; None compares all.
        atol: tensors whose largest absolute difference is at most this are ``"equal"``.
        on_tensor: called with the bytes of each tensor compared (for a progress bar).

    Returns:
        list[TensorDiff]: sorted by name.
    """
    ia = {normalize_name(k): (k, i) for k, i in a.infos().items()}
    ib = {normalize_name(k): (k, i) for k, i in b.infos().items()}
    out = []
    for name in sorted(set(ia) | set(ib)):
        if keep is not None and not keep(name):
            continue
        ka, infa = ia.get(name, (None, None))
        kb, infb = ib.get(name, (None, None))
        if infa is None or infb is None:
            out.append(TensorDiff(name, "only_b" if infa is None else "only_a", infa, infb,
                                  None))
            continue
        if tuple(infa.shape) != tuple(infb.shape):
            out.append(TensorDiff(name, "shape", infa, infb, None))
            continue
        x, y = a.read(ka), b.read(kb)
        diff = _max_abs_diff(x, y)
        if diff is None:
            same = infa.dtype == infb.dtype and np.array_equal(x, y)
        else:
            same = diff <= atol
        status = "equal" if same else "differ"
        if infa.dtype != infb.dtype:
            status = "dtype"
        out.append(TensorDiff(name, status, infa, infb, diff))
        if on_tensor is not None:
            on_tensor(infa.nbytes or 0)
    return out
