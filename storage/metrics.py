"""Metrics store: batched writes, rollups, retention and bucketed range queries."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, bindparam, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import MetricSeries

ROLLUP_STEP = 60
"""Seconds covered by one row of the 1-minute rollup tier."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One measurement: epoch seconds (UTC), host, metric name, labels and value."""

    ts: float
    host: str
    name: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The sample as plain JSON-ready data."""
        return {
            "ts": self.ts,
            "host": self.host,
            "name": self.name,
            "labels": dict(self.labels),
            "value": self.value,
        }


@dataclass(frozen=True, slots=True)
class SeriesValue:
    """The latest value of one series."""

    name: str
    host: str
    labels: dict[str, str]
    ts: float
    value: float


@dataclass(frozen=True, slots=True)
class SeriesData:
    """A bucketed series: each point is ``(ts, avg, min, max)``; ``step`` is in seconds."""

    name: str
    host: str
    labels: dict[str, str]
    step: int
    source: str
    points: list[tuple[float, float, float, float]]


def labels_key(labels: Mapping[str, str]) -> str:
    """Canonical JSON for a label set, so equal sets compare equal in SQL."""
    if not labels:
        return "{}"
    return json.dumps(dict(labels), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """How a range is answered: from raw samples or rollups, with which bucket width."""

    source: str
    step: int
    base: float
    start: float
    end: float


def plan_query(start: float, end: float, max_points: int) -> QueryPlan:
    """Choose the data tier and bucket width that give at most ``max_points`` buckets."""
    span = max(end - start, 1.0)
    step = max(1, math.ceil(span / max_points))
    if step < 2 * ROLLUP_STEP:  # a bucket must span several rollup rows to gain from them
        return QueryPlan("raw", step, start, start, end)
    step = math.ceil(step / ROLLUP_STEP) * ROLLUP_STEP
    base = math.floor(start / ROLLUP_STEP) * ROLLUP_STEP
    while math.ceil((end - base) / step) > max_points:
        step += ROLLUP_STEP
    return QueryPlan("rollup", step, base, start, end)


class MetricsStore:
    """Reads and writes metric samples on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._series_ids: dict[tuple[str, str, str], int] = {}
        # (name, host, label items as given) -> series key, so a known label set is not
        # serialised to canonical JSON again on every write.
        self._keys: dict[tuple[str, str, tuple], tuple[str, str, str]] = {}
        self._lock = threading.Lock()
        self._dirty_from: float | None = None

    # -- writing -----------------------------------------------------------------------

    def write(self, samples: Sequence[Sample]) -> int:
        """Store ``samples`` in one transaction; return how many were written."""
        if not samples:
            return 0
        known = self._keys
        keys = [
            known.get((s.name, s.host, tuple(s.labels.items()))) or self._key(s) for s in samples
        ]
        with self.engine.begin() as conn:
            ids = self._resolve_series(conn, set(keys))
            rows = [(ids[key], s.ts, s.value) for key, s in zip(keys, samples, strict=True)]
            if self.dialect == "postgresql":
                with (
                    conn.connection.driver_connection.cursor() as cur,
                    cur.copy("COPY metric_samples (series_id, ts, value) FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
            else:
                conn.exec_driver_sql(
                    "INSERT INTO metric_samples (series_id, ts, value) VALUES (?, ?, ?)", rows
                )
            newest: dict[int, tuple[float, float]] = {}
            for series_id, ts, value in rows:
                if series_id not in newest or ts >= newest[series_id][0]:
                    newest[series_id] = (ts, value)
            self._update_latest(conn, newest)
        self._mark_dirty(min(s.ts for s in samples))
        return len(rows)

    def _key(self, sample: Sample) -> tuple[str, str, str]:
        key = (sample.name, sample.host, labels_key(sample.labels))
        self._keys[(sample.name, sample.host, tuple(sample.labels.items()))] = key
        return key

    def _update_latest(self, conn, newest: dict[int, tuple[float, float]]) -> None:
        """Move each series' latest value forward (never back) to ``newest``."""
        if self.dialect == "postgresql":
            # One statement instead of one UPDATE per series.
            ordered = sorted(newest.items())
            conn.exec_driver_sql(
                "UPDATE metric_series AS s SET last_ts = v.ts, last_value = v.value "
                "FROM unnest(%s::integer[], %s::float8[], %s::float8[]) AS v (id, ts, value) "
                "WHERE s.id = v.id AND (s.last_ts IS NULL OR s.last_ts <= v.ts)",
                (
                    [sid for sid, _ in ordered],
                    [ts for _, (ts, _) in ordered],
                    [value for _, (_, value) in ordered],
                ),
            )
            return
        conn.exec_driver_sql(
            "UPDATE metric_series SET last_ts = ?, last_value = ? "
            "WHERE id = ? AND (last_ts IS NULL OR last_ts <= ?)",
            [(ts, value, sid, ts) for sid, (ts, value) in newest.items()],
        )

    def _resolve_series(
        self, conn, keys: set[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], int]:
        missing = [k for k in keys if k not in self._series_ids]
        if missing:
            insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
            conn.execute(
                insert(MetricSeries).on_conflict_do_nothing(),
                [{"name": n, "host": h, "labels": lab} for n, h, lab in missing],
            )
            names = sorted({k[0] for k in missing})
            found = conn.execute(
                select(
                    MetricSeries.id, MetricSeries.name, MetricSeries.host, MetricSeries.labels
                ).where(MetricSeries.name.in_(names))
            )
            with self._lock:
                for sid, name, host, lab in found:
                    self._series_ids[(name, host, lab)] = sid
        return self._series_ids

    # -- reading -----------------------------------------------------------------------

    def latest(
        self, names: Sequence[str] | None = None, host: str | None = None
    ) -> list[SeriesValue]:
        """Latest value of every series (optionally only ``names`` and/or one ``host``)."""
        query = select(
            MetricSeries.name,
            MetricSeries.host,
            MetricSeries.labels,
            MetricSeries.last_ts,
            MetricSeries.last_value,
        ).where(MetricSeries.last_ts.is_not(None))
        if names:
            query = query.where(MetricSeries.name.in_(list(names)))
        if host:
            query = query.where(MetricSeries.host == host)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(MetricSeries.name, MetricSeries.labels)).all()
        return [SeriesValue(n, h, json.loads(lab), ts, v) for n, h, lab, ts, v in rows]

    def names(self) -> list[str]:
        """Every metric name that has at least one series."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(MetricSeries.name).distinct().order_by(MetricSeries.name)
                ).scalars()
            )

    def hosts(self) -> list[str]:
        """Every host that has reported a metric."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(MetricSeries.host).distinct().order_by(MetricSeries.host)
                ).scalars()
            )

    def query(
        self,
        names: Sequence[str],
        start: float,
        end: float,
        *,
        host: str | None = None,
        max_points: int = 1000,
    ) -> list[SeriesData]:
        """Series of ``names`` between ``start`` and ``end`` in at most ``max_points`` buckets.

        Each bucket carries the average, minimum and maximum of the samples in it. Short
        ranges read raw samples; longer ones read the 1-minute rollups plus the raw samples
        that have not been rolled up yet.
        """
        plan = plan_query(start, end, max_points)
        series = self._series_for(names, host)
        if not series:
            return []
        ids = list(series)
        with self.engine.connect() as conn:
            if plan.source == "raw":
                buckets = self._aggregate_raw(conn, ids, plan, plan.start)
            else:
                watermark = conn.execute(
                    text(
                        "SELECT MAX(ts) FROM metric_rollups WHERE step = :step "
                        "AND series_id IN :ids"
                    ).bindparams(bindparam("ids", expanding=True)),
                    {"step": ROLLUP_STEP, "ids": ids},
                ).scalar()
                raw_from = (
                    plan.base if watermark is None else max(watermark + ROLLUP_STEP, plan.base)
                )
                buckets = self._aggregate_rollups(conn, ids, plan, raw_from)
                for key, agg in self._aggregate_raw(conn, ids, plan, raw_from).items():
                    buckets[key] = _merge(buckets.get(key), agg)
        points: dict[int, list[tuple[float, float, float, float]]] = {sid: [] for sid in ids}
        for (sid, bucket), (count, total, low, high) in sorted(buckets.items()):
            points[sid].append((plan.base + bucket * plan.step, total / count, low, high))
        return [
            SeriesData(name, host_, labels, plan.step, plan.source, points[sid])
            for sid, (name, host_, labels) in series.items()
        ]

    def _series_for(
        self, names: Sequence[str], host: str | None
    ) -> dict[int, tuple[str, str, dict]]:
        query = select(
            MetricSeries.id, MetricSeries.name, MetricSeries.host, MetricSeries.labels
        ).where(MetricSeries.name.in_(list(names)))
        if host:
            query = query.where(MetricSeries.host == host)
        with self.engine.connect() as conn:
            rows = conn.execute(
                query.order_by(MetricSeries.name, MetricSeries.host, MetricSeries.labels)
            )
            return {sid: (name, h, json.loads(lab)) for sid, name, h, lab in rows}

    def _bucket_expr(self) -> str:
        # Postgres rounds when casting to integer; SQLite truncates (and may lack floor()).
        if self.dialect == "postgresql":
            return "floor((ts - :base) / :step)::bigint"
        return "CAST((ts - :base) / :step AS INTEGER)"

    def _aggregate_raw(self, conn, ids: list[int], plan: QueryPlan, start: float) -> dict:
        sql = text(
            f"SELECT series_id, {self._bucket_expr()} AS b, COUNT(*), SUM(value), MIN(value), "
            "MAX(value) FROM metric_samples WHERE series_id IN :ids AND ts >= :start "
            "AND ts < :end GROUP BY series_id, b"
        ).bindparams(bindparam("ids", expanding=True))
        params = {"ids": ids, "base": plan.base, "step": plan.step, "start": start, "end": plan.end}
        return {(sid, b): (c, s, lo, hi) for sid, b, c, s, lo, hi in conn.execute(sql, params)}

    def _aggregate_rollups(self, conn, ids: list[int], plan: QueryPlan, until: float) -> dict:
        sql = text(
            f"SELECT series_id, {self._bucket_expr()} AS b, SUM(count), SUM(sum), MIN(min), "
            "MAX(max) FROM metric_rollups WHERE step = :rstep AND series_id IN :ids "
            "AND ts >= :base AND ts < :until GROUP BY series_id, b"
        ).bindparams(bindparam("ids", expanding=True))
        params = {
            "ids": ids,
            "base": plan.base,
            "step": plan.step,
            "rstep": ROLLUP_STEP,
            "until": min(until, plan.end),
        }
        return {(sid, b): (c, s, lo, hi) for sid, b, c, s, lo, hi in conn.execute(sql, params)}

    # -- maintenance -------------------------------------------------------------------

    def rollup(self, now: float) -> int:
        """Aggregate complete minutes of raw samples into the rollup tier; return rows written.

        Starts from the newest rolled-up minute, or earlier when samples were written late
        (a backlog after an outage), so every complete minute ends up rolled up.
        """
        until = math.floor(now / ROLLUP_STEP) * ROLLUP_STEP
        with self._lock:
            dirty, self._dirty_from = self._dirty_from, None
        try:
            return self._rollup_between(dirty, until)
        except Exception:
            self._mark_dirty(dirty)
            raise

    def _rollup_between(self, dirty: float | None, until: float) -> int:
        with self.engine.begin() as conn:
            since = conn.execute(
                text("SELECT MAX(ts) FROM metric_rollups WHERE step = :step"), {"step": ROLLUP_STEP}
            ).scalar()
            if since is None:
                since = conn.execute(text("SELECT MIN(ts) FROM metric_samples")).scalar()
            if since is None:
                return 0
            if dirty is not None:
                since = min(since, dirty)
            since = math.floor(since / ROLLUP_STEP) * ROLLUP_STEP
            if since >= until:
                return 0
            bucket = self._bucket_expr().replace(":base", "0")
            result = conn.execute(
                text(
                    "INSERT INTO metric_rollups (series_id, step, ts, count, sum, min, max) "
                    f"SELECT series_id, :step, ({bucket}) * :step, COUNT(*), SUM(value), "
                    "MIN(value), MAX(value) FROM metric_samples "
                    "WHERE ts >= :since AND ts < :until GROUP BY series_id, 3 "
                    "ON CONFLICT (series_id, step, ts) DO UPDATE SET count = excluded.count, "
                    "sum = excluded.sum, min = excluded.min, max = excluded.max"
                ),
                {"step": ROLLUP_STEP, "since": since, "until": until},
            )
            return result.rowcount or 0

    def _mark_dirty(self, ts: float | None) -> None:
        if ts is None:
            return
        with self._lock:
            if self._dirty_from is None or ts < self._dirty_from:
                self._dirty_from = ts

    def trim(self, now: float, raw_retention: float, rollup_retention: float) -> dict[str, int]:
        """Delete raw samples and rollups older than their retention (seconds)."""
        deleted = {"raw": 0, "rollup": 0}
        with self.engine.begin() as conn:
            ids = list(conn.execute(select(MetricSeries.id)).scalars())
            for sid in ids:
                deleted["raw"] += conn.execute(
                    text("DELETE FROM metric_samples WHERE series_id = :sid AND ts < :cut"),
                    {"sid": sid, "cut": now - raw_retention},
                ).rowcount
                deleted["rollup"] += conn.execute(
                    text(
                        "DELETE FROM metric_rollups WHERE series_id = :sid AND step = :step "
                        "AND ts < :cut"
                    ),
                    {"sid": sid, "step": ROLLUP_STEP, "cut": now - rollup_retention},
                ).rowcount
        return deleted


def _merge(a: tuple | None, b: tuple) -> tuple:
    if a is None:
        return b
    return (a[0] + b[0], a[1] + b[1], min(a[2], b[2]), max(a[3], b[3]))
