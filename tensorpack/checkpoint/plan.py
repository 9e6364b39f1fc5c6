"""Decide, without TensorFlow, which stored tensor goes into which graph variable.

The restore pipeline is *source -> plan -> apply -> report*. This module is the plan: it
takes the graph's variables as plain data (:class:`VarSpec`) and a source's
:class:`~tensorpack.checkpoint.source.TensorInfo` listing, and returns a
:class:`RestorePlan` saying, for each variable, whether it is loaded as is, cast, reshaped,
skipped, ignored or missing. Nothing is read here; values are read later, chunk by chunk.

Matching rules (upstream tensorpack's, plus a few additions):

* names match with or without a ``:k`` suffix on either side;
* ``prefix``: a graph variable ``<prefix>/x`` is restored from the key ``x`` (the
  checkpoint's names get ``prefix/`` added); other variables match by their full name;
* ``ignore``: names or glob patterns (``conv1/*``), with or without ``:0``, matched
  against both the graph name and the key; ignoring a variable also ignores its optimizer
  slots and moving-average shadows (``W/Momentum``, ``W/Adam_1``, ``EMA/W``,
  ``W/ExponentialMovingAverage``...);
* ``relaxed``: a value may be reshaped when the element counts agree, cast between float
  types, or cast to a wider integer type; otherwise shapes and dtypes must agree exactly;
* ``ignore_mismatch``: a pair that cannot be loaded is skipped with a warning instead of
  raising ``ValueError``;
* ``strict``: raise when a graph variable (other than a training-only one or
  ``global_step``) has no value.
"""
import difflib
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np

from tensorpack.checkpoint.names import is_training_state, normalize_name, slot_owner
from tensorpack.checkpoint.source import TensorInfo
from tensorpack.utils import logger

__all__ = ["VarSpec", "PlanEntry", "RestorePlan", "make_plan", "pair_entry", "strict_error",
           "can_cast", "shapes_agree", "IgnoreRule", "split_entries"]

_FLOATS = ("float16", "bfloat16", "float32", "float64")


@dataclass(frozen=True)
class VarSpec:
    """A graph variable as plain data.

    Attributes:
        name (str): the variable's name (``conv1/W`` or ``conv1/W:0``).
        shape (tuple or None): its static shape; ``None`` entries for unknown dimensions,
            ``None`` for an unknown rank.
        dtype (str): its dtype name, e.g. ``"float32"`` (TensorFlow's ``dtype.name``).
    """
    name: str
    shape: Optional[tuple]
    dtype: str


@dataclass(frozen=True)
class PlanEntry:
    """One variable to load.

    Attributes:
        var (str): the graph variable's op name (no ``:0``).
        key (str): the source key, exactly as the source lists it.
        src_shape (tuple): the stored shape.
        src_dtype (str): the stored dtype.
        var_shape (tuple or None): the variable's static shape.
        var_dtype (str): the variable's dtype.
        nbytes (int): bytes of the stored value (0 when unknown, e.g. strings).
    """
    var: str
    key: str
    src_shape: tuple
    src_dtype: str
    var_shape: Optional[tuple]
    var_dtype: str
    nbytes: int = 0

    @property
    def cast(self) -> bool:
        """Whether the value's dtype must be converted to the variable's."""
        return self.src_dtype != self.var_dtype

    @property
    def reshape(self) -> bool:
        """Whether the value must be reshaped to the variable's shape."""
        return not _same_shape(self.var_shape, self.src_shape)

    @property
    def action(self) -> str:
        """``"load"``, ``"cast"``, ``"reshape"`` or ``"cast+reshape"``."""
        parts = [a for a, on in (("cast", self.cast), ("reshape", self.reshape)) if on]
        return "+".join(parts) or "load"


@dataclass
class RestorePlan:
    """What a restore will do, decided before any value is read.

    Attributes:
        entries (list[PlanEntry]): the variables to load, in graph order.
        skipped (list[tuple[str, str, str]]): ``(var, key, reason)`` for pairs that could
            not be loaded and were skipped (``ignore_mismatch``).
        ignored (list[str]): graph variables left alone because the user ignored them.
        graph_only (list[str]): graph variables with no value in the source
            (training-only names excluded).
        graph_only_training (list[str]): training-only graph variables with no value.
        source_only (list[str]): source keys no variable used (training-only excluded).
        source_only_training (list[str]): training-only source keys no variable used.
        source_ignored (list[str]): source keys left unused because they were ignored.
        unmatched_ignores (list[str]): ``ignore`` patterns that matched no name on either
            side (probably a typo).
    """
    entries: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    ignored: list = field(default_factory=list)
    graph_only: list = field(default_factory=list)
    graph_only_training: list = field(default_factory=list)
    source_only: list = field(default_factory=list)
    source_only_training: list = field(default_factory=list)
    source_ignored: list = field(default_factory=list)
    unmatched_ignores: list = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        """Bytes of all values to load."""
        return sum(e.nbytes for e in self.entries)

    def chunks(self, max_bytes: int) -> list[list[PlanEntry]]:
        """The entries split, in order, by :func:`split_entries`."""
        return split_entries(self.entries, max_bytes)


def split_entries(entries: Iterable[PlanEntry], max_bytes: int) -> list[list[PlanEntry]]:
    """Split entries, in order, into runs of at most ``max_bytes`` of values each.

    A single value larger than ``max_bytes`` gets a run of its own.

    Args:
        entries (list[PlanEntry]): entries to split.
        max_bytes (int): the budget per run.

    Returns:
        list[list[PlanEntry]]
    """
    out, cur, size = [], [], 0
    for e in entries:
        if cur and size + e.nbytes > max_bytes:
            out.append(cur)
            cur, size = [], 0
        cur.append(e)
        size += e.nbytes
    if cur:
        out.append(cur)
    return out


def _same_shape(var_shape, src_shape):
    """Whether a stored shape fits a (possibly partly unknown) static shape exactly."""
    if var_shape is None:
        return True
    if len(var_shape) != len(src_shape):
        return False
    return all(v is None or v == s for v, s in zip(var_shape, src_shape))


def shapes_agree(var_shape: Optional[Sequence[Optional[int]]], src_shape: Sequence[int],
                 relaxed: bool) -> bool:
    """Whether a stored value can be loaded into a variable of shape ``var_shape``.

    Args:
        var_shape (tuple or None): the variable's static shape (None entries unknown).
        src_shape (tuple): the value's shape.
        relaxed (bool): also accept a reshape when the element counts are equal.

    Returns:
        bool
    """
    if _same_shape(var_shape, src_shape):
        return True
    if not relaxed or any(d is None for d in var_shape):
        return False
    return int(np.prod(var_shape, dtype=np.int64)) == int(np.prod(src_shape, dtype=np.int64))


def can_cast(src_dtype: str, var_dtype: str) -> bool:
    """Upstream's relaxed casting rule: any float to any float, integers only to a type
    that holds every value of the source type.

    Args:
        src_dtype (str): the stored dtype name.
        var_dtype (str): the variable's dtype name.

    Returns:
        bool
    """
    if src_dtype == var_dtype:
        return True
    if src_dtype in _FLOATS and var_dtype in _FLOATS:
        return True
    try:
        src, dst = np.dtype(src_dtype), np.dtype(var_dtype)
    except TypeError:
        return False
    if src.kind in "iu" and dst.kind in "iu":
        a, b = np.iinfo(src), np.iinfo(dst)
        return b.min <= a.min and b.max >= a.max
    return False


def _base_names(name):
    """``name`` and the variables it is a training-only companion of (at most two levels:
    ``EMA/W/Momentum`` gives itself, ``EMA/W`` and ``W``)."""
    out = [name]
    for _ in range(2):
        owner = slot_owner(out[-1])
        if owner is None:
            break
        out.append(owner)
    return out


class IgnoreRule:
    """The ``ignore`` argument: names or glob patterns, ``:0`` optional, slots included.

    Args:
        patterns (iterable[str]): names like ``fc/W`` or ``fc/W:0``, or globs like ``fc/*``.

    Raises:
        ValueError: if an item is not a string.
    """

    def __init__(self, patterns: Union[str, Iterable[str], None] = ()):
        if isinstance(patterns, str):
            patterns = [patterns]
        pats = []
        for p in patterns or ():
            if not isinstance(p, str):
                raise ValueError("ignore= takes variable names or glob patterns (str); got "
                                 "{!r}.".format(p))
            pats.append(normalize_name(p))
        self.exact = {p for p in pats if not any(c in p for c in "*?[")}
        self.globs = [p for p in pats if p not in self.exact]
        self.patterns = list(dict.fromkeys(pats))

    def __bool__(self):
        return bool(self.exact or self.globs)

    def matches(self, name: str) -> bool:
        """Whether ``name`` (or the variable it is a slot of) is ignored."""
        return bool(self.matching(name))

    def matching(self, name: str) -> list[str]:
        """The patterns that ignore ``name`` (or the variable it is a slot of)."""
        if not self:
            return []
        found = []
        for n in _base_names(normalize_name(name)):
            if n in self.exact:
                found.append(n)
            found += [g for g in self.globs if fnmatch.fnmatchcase(n, g)]
        return found

    def unmatched(self, names: Iterable[str]) -> list[str]:
        """The patterns that match none of ``names`` (probably a typo)."""
        used = set()
        for n in names:
            used.update(self.matching(n))
        return [p for p in self.patterns if p not in used]


def _index_source(infos):
    """normalized name -> listed key; a bare key wins over ``key:0``."""
    index = {}
    for key in infos:
        norm = normalize_name(key)
        if norm not in index or key == norm:
            index[norm] = key
    return index


def _strip_prefix(name, prefix):
    if prefix and name.startswith(prefix + "/"):
        return name[len(prefix) + 1:]
    return name


def make_plan(variables: Sequence[VarSpec], infos: Mapping[str, TensorInfo],
              prefix: Optional[str] = None,
              ignore: Union[str, Iterable[str], IgnoreRule] = (), relaxed: bool = False,
              ignore_mismatch: bool = False, strict: bool = False,
              source_name: str = "the source") -> RestorePlan:
    """Match graph variables to stored tensors.

    Args:
        variables (list[VarSpec]): the graph's variables, in graph order.
        infos (dict[str, TensorInfo]): the source's listing (``CheckpointSource.infos()``).
        prefix (str): graph variables ``<prefix>/x`` are loaded from key ``x``.
        ignore (iterable[str] or IgnoreRule): names / globs to leave alone (slots included).
        relaxed (bool): allow reshapes (same element count) and safe casts.
        ignore_mismatch (bool): skip, with a reason, pairs that cannot be loaded, instead of
            raising.
        strict (bool): raise if a graph variable has no value in the source (training-only
            ones and ``global_step`` excepted).
        source_name (str): how to call the source in error messages (e.g. its path).

    Returns:
        RestorePlan

    Raises:
        ValueError: a shape or dtype mismatch (without ``ignore_mismatch``), two variables
            wanting the same key, or (``strict``) variables missing from the source.
    """
    rule = ignore if isinstance(ignore, IgnoreRule) else IgnoreRule(ignore)
    prefix = prefix.rstrip("/") if prefix else None
    index = _index_source(infos)
    plan = RestorePlan()
    used = {}  # key -> graph variable that claimed it
    for spec in variables:
        var = normalize_name(spec.name)
        savename = _strip_prefix(var, prefix)
        key = index.get(savename)
        if rule.matches(savename) or rule.matches(var):
            plan.ignored.append(var)
            if key is not None:
                used.setdefault(key, None)
            continue
        if key is None:
            (plan.graph_only_training if is_training_state(var) else plan.graph_only).append(var)
            continue
        if used.get(key) is not None:
            raise ValueError(
                "Graph variables '{}' and '{}' would both be restored from '{}' in {} (prefix="
                "{!r}). Rename one of them or pass ignore=[...] for one.".format(
                    used[key], var, key, source_name, prefix))
        used[key] = var
        entry, reason = pair_entry(spec, infos[key], relaxed=relaxed, source_name=source_name)
        if reason is not None:
            if not ignore_mismatch:
                raise ValueError("Cannot restore variable '{}' from '{}': {}. Fix the "
                                 "graph, pass ignore=['{}'] to leave it alone, or "
                                 "ignore_mismatch=True to skip it with a warning.".format(
                                     var, key, reason, var))
            plan.skipped.append((var, key, reason))
            continue
        plan.entries.append(entry)
    used_norm = {normalize_name(k) for k in used}
    for key in infos:
        if key in used or normalize_name(key) in used_norm:  # also 'x:0' when 'x' was used
            continue
        norm = normalize_name(key)
        if rule.matches(norm):
            plan.source_ignored.append(key)
        elif is_training_state(norm):
            plan.source_only_training.append(key)
        else:
            plan.source_only.append(key)
    if rule:
        plan.unmatched_ignores = rule.unmatched(
            [normalize_name(s.name) for s in variables] + [normalize_name(k) for k in infos] +
            [_strip_prefix(normalize_name(s.name), prefix) for s in variables])
        if plan.unmatched_ignores:
            logger.warning("ignore={} matches no variable of the graph and no key of {}; is "
                           "it misspelled?".format(plan.unmatched_ignores, source_name))
    if strict and plan.graph_only:
        raise strict_error(plan.graph_only, plan.source_only, source_name, prefix)
    return plan


def pair_entry(spec: VarSpec, info: TensorInfo, relaxed: bool = False,
               source_name: str = "the source") -> tuple[Optional[PlanEntry], Optional[str]]:
    """Whether one stored tensor can be loaded into one variable: the single rule for
    shapes and dtypes, used by every restore and by ``SessionUpdate``.

    Args:
        spec (VarSpec): the variable.
        info (TensorInfo): the stored tensor.
        relaxed (bool): allow reshapes (same element count) and safe casts.
        source_name (str): how to call the source in the reason.

    Returns:
        tuple: ``(PlanEntry, None)`` if it can be loaded, else ``(None, reason)``.
    """
    shape = tuple(info.shape)
    var_shape = None if spec.shape is None else tuple(spec.shape)
    if not shapes_agree(var_shape, shape, relaxed):
        return None, "shape {} in {} vs {} in the graph".format(shape, source_name, var_shape)
    if info.dtype != spec.dtype and not (relaxed and can_cast(info.dtype, spec.dtype)):
        return None, "dtype {} in {} vs {} in the graph{}".format(
            info.dtype, source_name, spec.dtype,
            "" if relaxed else " (use ignore_mismatch=True / SaverRestoreRelaxed for float "
            "casts)")
    nbytes = info.nbytes or 0
    return PlanEntry(normalize_name(spec.name), info.name, shape, info.dtype, var_shape,
                     spec.dtype, nbytes), None


def strict_error(missing: Sequence[str], candidates: Sequence[str], source_name: str,
                 prefix: Optional[str] = None) -> ValueError:
    """The ``strict=True`` failure: each unfilled variable with the closest source keys.

    Args:
        missing (list[str]): graph variables that got no value.
        candidates (list[str]): source keys no variable used (where the hints come from).
        source_name (str): the source, for the message.
        prefix (str): the restore's ``prefix`` (hints compare names without it).

    Returns:
        ValueError: to raise.
    """
    named = ["'{}'{}".format(v, _hint(_strip_prefix(v, prefix), candidates)) for v in missing]
    return ValueError(
        "strict=True: {} graph variable(s) have no value in {}: {}. Rename the keys "
        "or variables so they match, or pass ignore=[...] for the ones to keep freshly "
        "initialized.".format(len(missing), source_name, ", ".join(named)))


def _hint(name, keys, limit=3):
    """`` (closest keys: ...)`` for a name that found no key, or ``""``.

    Closest means: equal but for case, then the most similar spellings, then the same last
    component (``fc0/W`` vs ``dense/W``).
    """
    norm = {normalize_name(k): k for k in keys}
    lower = name.lower()
    found = [k for n, k in norm.items() if n.lower() == lower]
    found += [norm[n] for n in difflib.get_close_matches(name, list(norm), n=limit, cutoff=0.6)
              if norm[n] not in found]
    last = name.rsplit("/", 1)[-1]
    found += [k for n, k in norm.items() if n.rsplit("/", 1)[-1] == last and k not in found]
    return " (closest keys: {})".format(", ".join(found[:limit])) if found else ""
