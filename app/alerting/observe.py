"""What a rule sees at one moment: one evaluation result per label group, read from the
metrics store (a reducer over each series' window), the log store (an aggregate of the
records a query matches) or its error groups (the records of each group first seen in
the window)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection

from app.alerting.engine import Result
from app.alerting.rules import NEW_GROUP_LABELS, Rule
from storage.diagnostics.errors import ErrorGroupStore
from storage.logquery import Query, Term
from storage.logs import LogStore
from storage.metrics import MetricsStore, labels_key

LINES_KEPT = 5
"""Matching log lines a log rule's alert carries into its notification."""
MAX_NEW_GROUPS = 100
"""New error groups one evaluation of a ``new_error_group`` rule alerts on at most (the
busiest): a flood of new groups is one incident, not a thousand alerts."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One label group's result, with the matching lines of a log rule."""

    labels: dict[str, str]
    result: Result
    lines: tuple[dict, ...] = ()


def fingerprint(labels: Mapping[str, str]) -> str:
    """A stable short id of a label set (the instance key within its rule)."""
    return hashlib.sha256(labels_key(labels).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Sources:
    """The stores rules read, with what one cycle reads once for all its rules: the
    series of each metric and a connection for the windows."""

    metrics: MetricsStore
    logs: LogStore
    series: Mapping[str, list[tuple[int, str, dict[str, str]]]] | None = None
    conn: Connection | None = None

    def series_of(self, name: str) -> list[tuple[int, str, dict[str, str]]]:
        """The series of metric ``name``."""
        if self.series is not None and name in self.series:
            return self.series[name]
        return self.metrics.series_of([name])[name]


def group_key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """A label set as a dict key (its pairs, sorted)."""
    return tuple(sorted(labels.items()))


def observe(
    rule: Rule,
    sources: Sources,
    now: float,
    known: Iterable[Mapping[str, str]] = (),
) -> dict[tuple, Observation]:
    """Results by ``group_key`` at ``now``. ``known`` are the label sets of the rule's
    existing instances: a log count reads 0 for a known group with no records."""
    if rule.kind == "metric":
        values = metric_values(rule, sources, now - rule.window, now)
    elif rule.kind == "log":
        values = log_values(rule, sources.logs, now - rule.window, now, known)
    else:
        values = new_group_values(rule, sources.logs, now - rule.window, now, known)
        if not values:
            return {}  # no new group is the normal state, not missing data
    if not values:
        # Nothing at all in the window: the rule has no data (one instance, no labels).
        return {(): Observation({}, Result())}
    observed = {}
    for key, value in values.items():
        labels = dict(key)
        observed[group_key(labels)] = Observation(labels, Result(value))
    return observed


# -- metrics ----------------------------------------------------------------------------


def _matches(matchers: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in matchers.items())


def _group(group_by: tuple[str, ...], labels: Mapping[str, str]) -> tuple:
    return tuple((k, labels[k]) for k in group_by if k in labels)


def combine(how: str, values: list[float]) -> float:
    """One group's value from its series' values: summed for ``sum``, the lowest for
    ``min``, else the worst (highest)."""
    if how == "sum":
        return math.fsum(values)
    return min(values) if how == "min" else max(values)


def metric_values(rule: Rule, sources: Sources, start: float, end: float) -> dict[tuple, float]:
    """The reduced value of each label group over (start, end]."""
    series = {
        sid: {"host": host, **labels}
        for sid, host, labels in sources.series_of(rule.metric or "")
        if _matches(rule.matchers or {}, {"host": host, **labels})
    }
    how = rule.reduce or "avg"
    per_series = sources.metrics.reduced(list(series), start, end, how, sources.conn)
    groups: dict[tuple, list[float]] = {}
    for sid, value in per_series.items():
        if value is not None:
            groups.setdefault(_group(rule.group_by, series[sid]), []).append(value)
    return {key: combine(how, values) for key, values in groups.items()}


# -- logs -------------------------------------------------------------------------------


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def log_values(
    rule: Rule,
    logs: LogStore,
    start: float,
    end: float,
    known: Iterable[Mapping[str, str]] = (),
) -> dict[tuple, float]:
    """The aggregate of each label group over [start, end)."""
    query = rule.query or Query()
    counts = _keyed(rule, logs.group_counts(query, _when(start), _when(end), rule.group_by))
    if rule.aggregate == "ratio":
        totals = _keyed(rule, logs.group_counts(Query(), _when(start), _when(end), rule.group_by))
        return {key: counts.get(key, 0) / total for key, total in totals.items() if total}
    for labels in known:
        counts.setdefault(_group(rule.group_by, labels), 0)
    if not rule.group_by:
        counts.setdefault((), 0)
    per = rule.window if rule.aggregate == "rate" else 1
    return {key: count / per for key, count in counts.items()}


def new_group_values(
    rule: Rule,
    logs: LogStore,
    start: float,
    end: float,
    known: Iterable[Mapping[str, str]] = (),
) -> dict[tuple, float]:
    """Records in [start, end) (that the rule's query matches) of each error group first
    seen in it, keyed by fingerprint and title; 0 for the groups of ``known`` instances
    that are no longer new, so that their alerts resolve."""
    found = ErrorGroupStore(logs).groups(
        start, end, MAX_NEW_GROUPS, rule.query or Query(), new_only=True, details=False
    )
    values: dict[tuple, float] = {
        (("fingerprint", g["fingerprint"]), ("title", g["title"])): float(g["in_range"])
        for g in found
    }
    for labels in known:
        values.setdefault(tuple((k, labels.get(k, "")) for k in NEW_GROUP_LABELS), 0.0)
    return values


def _keyed(rule: Rule, counts: dict[tuple, int]) -> dict[tuple, int]:
    """Counts keyed like metric groups: ((label, value), …), leaving out missing values."""
    out: dict[tuple, int] = {}
    for values, count in counts.items():
        key = tuple(
            (k, str(v)) for k, v in zip(rule.group_by, values, strict=True) if v is not None
        )
        out[key] = out.get(key, 0) + count
    return out


def matching_lines(
    rule: Rule, logs: LogStore, labels: Mapping[str, str], start: float, end: float
) -> tuple[dict, ...]:
    """The last few records of ``labels``' group that the rule's query matches, oldest
    first, as notifications show them."""
    if rule.kind == "new_error_group":
        labels = {"fingerprint": labels.get("fingerprint", "")}
    terms = tuple(Term(k, ":", v) for k, v in labels.items())
    query = Query((*(rule.query or Query()).terms, *terms))
    page = logs.search(query, start=_when(start), end=_when(end), limit=LINES_KEPT)
    return tuple(
        {
            "ts": r.ts.isoformat(),
            "level": r.level,
            "source": r.source,
            "host": r.host,
            "message": r.message,
        }
        for r in reversed(page.records)
    )
