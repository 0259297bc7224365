"""Metrics store: batched writes, rollups, retention and bucketed range queries."""

from __future__ import annotations

import functools
import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, TextClause, bindparam, select, text
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
        self._mark_dirty(min(s.ts for s in samples))
        return len(rows)

    def _key(self, sample: Sample) -> tuple[str, str, str]:
        key = (sample.name, sample.host, labels_key(sample.labels))
        self._keys[(sample.name, sample.host, tuple(sample.labels.items()))] = key
        return key

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
        """Latest value of every series (optionally only ``names`` and/or one ``host``).

        Read from each series' newest raw sample (a backward step on the (series_id, ts)
        index), so writes never pay for keeping a "latest" copy up to date.
        """
        where, params = self._series_filter(names, host)
        sql = text(
            "SELECT s.name, s.host, s.labels, m.ts, m.value FROM metric_series s "
            "JOIN metric_samples m ON m.id = (SELECT id FROM metric_samples "
            "WHERE series_id = s.id ORDER BY ts DESC LIMIT 1) "
            f"WHERE {where} ORDER BY s.name, s.host, s.labels"
        )
        if names:
            sql = sql.bindparams(bindparam("names", expanding=True))
        with self.engine.connect() as conn:
            rows = conn.execute(sql, params).all()
        return [SeriesValue(n, h, json.loads(lab), ts, v) for n, h, lab, ts, v in rows]

    @staticmethod
    def _series_filter(names: Sequence[str] | None, host: str | None) -> tuple[str, dict]:
        clauses, params = ["1 = 1"], {}
        if names:
            clauses.append("s.name IN :names")
            params["names"] = list(names)
        if host:
            clauses.append("s.host = :host")
            params["host"] = host
        return " AND ".join(clauses), params

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
        newer than the last rolled-up minute.
        """
        plan = plan_query(start, end, max_points)
        where, params = self._series_filter(names, host)
        series_sql, points_sql = self._range_statements(plan.source, where)
        params["rstep"] = ROLLUP_STEP
        with self.engine.connect() as conn:
            found = conn.execute(series_sql, params).all()
            if not found:
                return []
            rolled = max((r[4] for r in found if r[4] is not None), default=None)
            raw_from = plan.start
            if plan.source == "rollup":
                raw_from = plan.base if rolled is None else max(rolled + ROLLUP_STEP, plan.base)
            params.update(
                ids=[r[0] for r in found],
                base=plan.base,
                step=plan.step,
                raw_from=min(raw_from, plan.end),
                end=plan.end,
            )
            rows = conn.execute(points_sql, params).all()
        points: dict[int, list[tuple[float, float, float, float]]] = {}
        for series_id, b, count, total, low, high in rows:
            points.setdefault(series_id, []).append(
                (plan.base + b * plan.step, total / float(count), low, high)
            )
        result = [
            SeriesData(name, host_, json.loads(labels), plan.step, plan.source, points[sid])
            for sid, name, host_, labels, _ in found
            if sid in points
        ]
        return sorted(result, key=lambda d: (d.name, d.host, labels_key(d.labels)))

    @functools.lru_cache(maxsize=16)  # noqa: B019  (a handful of shapes; the store lives long)
    def _range_statements(self, source: str, where: str) -> tuple[TextClause, TextClause]:
        """The series and points statements of a range query; built once per shape so
        SQLAlchemy's compiled cache answers every later call."""
        # Each series with the start of its last rolled-up minute.
        series_sql = text(
            "SELECT s.id, s.name, s.host, s.labels, (SELECT MAX(r.ts) FROM metric_rollups r "
            f"WHERE r.series_id = s.id AND r.step = :rstep) FROM metric_series s WHERE {where}"
        ).bindparams(bindparam("names", expanding=True))
        bucket = self._bucket_expr()
        raw = (
            f"SELECT series_id, {bucket} AS b, COUNT(*) AS c, SUM(value) AS s, MIN(value) AS lo, "
            "MAX(value) AS hi FROM metric_samples WHERE series_id IN :ids "
            "AND ts >= :raw_from AND ts < :end GROUP BY series_id, b"
        )
        if source == "raw":
            sql = raw
        else:
            # Rolled-up minutes from the rollups, the minutes after them from raw samples;
            # constant bounds keep both halves on their (series_id, ..., ts) indexes.
            sql = (
                "SELECT series_id, b, SUM(c), SUM(s), MIN(lo), MAX(hi) FROM ("
                f"SELECT series_id, {bucket} AS b, SUM(count) AS c, SUM(sum) AS s, "
                "MIN(min) AS lo, MAX(max) AS hi FROM metric_rollups WHERE step = :rstep "
                "AND series_id IN :ids AND ts >= :base AND ts < :raw_from GROUP BY series_id, b "
                f"UNION ALL {raw}) x GROUP BY series_id, b"
            )
        points_sql = text(sql + " ORDER BY series_id, b").bindparams(
            bindparam("ids", expanding=True)
        )
        return series_sql, points_sql

    def _bucket_expr(self) -> str:
        # Postgres rounds when casting to integer; SQLite truncates (and may lack floor()).
        if self.dialect == "postgresql":
            return "floor((ts - :base) / :step)::bigint"
        return "CAST((ts - :base) / :step AS INTEGER)"

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
