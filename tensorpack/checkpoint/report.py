"""The restore summary: one data object, logged once as a compact table.

Every session initializer that loads values returns a :class:`RestoreReport` from
``_run_init`` and keeps it as ``.report``, so callers can check what happened
(``assert not init.report.graph_only``) instead of parsing the log.
"""
import textwrap
from dataclasses import dataclass, field

from tabulate import tabulate

__all__ = ["RestoreReport"]

_MAX_NAMES_SHOWN = 50  # per row; longer lists are summarised with a count


@dataclass
class RestoreReport:
    """What one restore did.

    Attributes:
        source (str): where the values came from (a path, or a description).
        restored (list[str]): graph variables that received a value (cast and reshaped ones
            included).
        cast (list[tuple[str, str, str]]): ``(var, from_dtype, to_dtype)``.
        reshaped (list[tuple[str, tuple, tuple]]): ``(var, from_shape, to_shape)``.
        skipped (list[tuple[str, str]]): ``(var, reason)``: present on both sides but not
            loadable (shape / dtype mismatch with ``ignore_mismatch``).
        ignored (list[str]): graph variables left alone because of ``ignore``.
        graph_only (list[str]): graph variables without a value in the source (training-only
            names such as optimizer slots are in ``graph_only_training`` instead).
        graph_only_training (list[str])
        source_only (list[str]): source keys that no variable used (training-only names
            are in ``source_only_training``).
        source_only_training (list[str])
        source_ignored (list[str]): source keys left unused because of ``ignore``.
        unmatched_ignores (list[str]): ``ignore`` patterns that matched nothing.
    """
    source: str = ""
    restored: list = field(default_factory=list)
    cast: list = field(default_factory=list)
    reshaped: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    ignored: list = field(default_factory=list)
    graph_only: list = field(default_factory=list)
    graph_only_training: list = field(default_factory=list)
    source_only: list = field(default_factory=list)
    source_only_training: list = field(default_factory=list)
    source_ignored: list = field(default_factory=list)
    unmatched_ignores: list = field(default_factory=list)

    @classmethod
    def from_plan(cls, plan, source=""):
        """The report of a :class:`~tensorpack.checkpoint.plan.RestorePlan` once applied."""
        return cls(
            source=source,
            restored=[e.var for e in plan.entries],
            cast=[(e.var, e.src_dtype, e.var_dtype) for e in plan.entries if e.cast],
            reshaped=[(e.var, e.src_shape, e.var_shape) for e in plan.entries if e.reshape],
            skipped=[(v, r) for v, _, r in plan.skipped],
            ignored=list(plan.ignored),
            graph_only=list(plan.graph_only),
            graph_only_training=list(plan.graph_only_training),
            source_only=list(plan.source_only),
            source_only_training=list(plan.source_only_training),
            source_ignored=list(plan.source_ignored),
            unmatched_ignores=list(plan.unmatched_ignores))

    @classmethod
    def merge(cls, reports):
        """Combine the reports of several restores applied one after another (ChainInit).

        A variable is graph-only in the result only if no restore gave it a value; the
        other lists are concatenated.

        Args:
            reports (list[RestoreReport])

        Returns:
            RestoreReport
        """
        out = cls(source=" + ".join(r.source for r in reports if r.source))
        got = set()
        for r in reports:
            got.update(r.restored)
        for r in reports:
            for name in ("restored", "cast", "reshaped", "skipped", "ignored", "source_only",
                         "source_only_training", "source_ignored"):
                getattr(out, name).extend(getattr(r, name))
        seen = set()
        for r in reports:
            for name in ("graph_only", "graph_only_training"):
                for v in getattr(r, name):
                    if v not in got and (name, v) not in seen:
                        seen.add((name, v))
                        getattr(out, name).append(v)
        out.restored = list(dict.fromkeys(out.restored))
        # a pattern is unmatched in a chain only if it matched nothing in any restore
        unmatched = [set(r.unmatched_ignores) for r in reports if r.unmatched_ignores]
        out.unmatched_ignores = sorted(set.intersection(*unmatched)) if len(unmatched) == len(
            reports) and unmatched else []
        return out

    @property
    def clean(self):
        """True when everything matched: nothing graph-only, source-only or skipped."""
        return not (self.graph_only or self.source_only or self.skipped)

    def rows(self):
        """The table rows ``(category, count, names)``, non-empty categories only."""
        def names(items):
            items = list(items)
            shown = ", ".join(items[:_MAX_NAMES_SHOWN])
            if len(items) > _MAX_NAMES_SHOWN:
                shown += ", ... (+{} more)".format(len(items) - _MAX_NAMES_SHOWN)
            # wrapped here rather than by tabulate (its maxcolwidths needs tabulate>=0.8.10)
            return textwrap.fill(shown, width=100, break_long_words=False,
                                 break_on_hyphens=False)

        rows = [("restored", len(self.restored), "")]
        if self.cast:
            rows.append(("cast", len(self.cast), names(
                "{} ({}->{})".format(v, a, b) for v, a, b in self.cast)))
        if self.reshaped:
            rows.append(("reshaped", len(self.reshaped), names(
                "{} {}->{}".format(v, _shape(a), _shape(b)) for v, a, b in self.reshaped)))
        if self.skipped:
            rows.append(("skipped", len(self.skipped), names(
                "{} ({})".format(v, r) for v, r in self.skipped)))
        if self.ignored:
            rows.append(("ignored", len(self.ignored), names(self.ignored)))
        if self.source_ignored:
            rows.append(("source-ignored", len(self.source_ignored),
                         names(self.source_ignored)))
        if self.unmatched_ignores:
            rows.append(("ignore unmatched", len(self.unmatched_ignores),
                         names(self.unmatched_ignores)))
        if self.graph_only:
            rows.append(("graph-only", len(self.graph_only), names(self.graph_only)))
        if self.source_only:
            rows.append(("source-only", len(self.source_only), names(self.source_only)))
        return rows

    def format(self):
        """The summary as text: a title line and a compact table."""
        title = "Restored {} variable(s) from {}".format(len(self.restored),
                                                         self.source or "a source")
        extra = []
        if self.graph_only_training:
            extra.append("{} training-only graph variable(s) without a value".format(
                len(self.graph_only_training)))
        if self.source_only_training:
            extra.append("{} training-only name(s) in the source unused".format(
                len(self.source_only_training)))
        if extra:
            title += " (not listed: {})".format("; ".join(extra))
        table = tabulate(self.rows(), headers=("", "count", "names"), tablefmt="simple")
        return title + ":\n" + table

    def log(self, logger=None):
        """Log :meth:`format` once: a warning if anything did not match, info otherwise."""
        if logger is None:
            from tensorpack.utils import logger
        (logger.info if self.clean else logger.warning)(self.format())

    def __str__(self):
        return self.format()


def _shape(shape):
    return "?" if shape is None else "(" + ",".join(
        "?" if d is None else str(d) for d in shape) + ")"
