"""Metrics store: batched writes, rollups, retention and bucketed range queries."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import statistics
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, TextClause, bindparam, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import MetricSeries

if TYPE_CHECKING:
    import numpy as np

ROLLUP_STEP = 60
"""Seconds covered by one row of the 1-minute rollup tier."""
FIVE_MINUTE_STEP = 300
"""Seconds covered by one row of the 5-minute rollup tier (rolled up from the minutes)."""
HOURLY_STEP = 3600
"""Seconds covered by one row of the 1-hour rollup tier (rolled up from the 5 minutes)."""
TIERS = (ROLLUP_STEP, FIVE_MINUTE_STEP, HOURLY_STEP)
"""The metric rollup tiers, finest first: each is rolled up from the one before it."""
SOURCES = {0: "raw", ROLLUP_STEP: "rollup", FIVE_MINUTE_STEP: "rollup_5m", HOURLY_STEP: "rollup_1h"}


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


_REDUCERS = {
    "avg": "SELECT series_id, AVG(value) FROM metric_samples WHERE {ids} {span} GROUP BY series_id",
    "min": "SELECT series_id, MIN(value) FROM metric_samples WHERE {ids} {span} GROUP BY series_id",
    "max": "SELECT series_id, MAX(value) FROM metric_samples WHERE {ids} {span} GROUP BY series_id",
    "sum": "SELECT series_id, SUM(value) FROM metric_samples WHERE {ids} {span} GROUP BY series_id",
    # A counter's increase, counting from zero again after a reset (as Prometheus does),
    # over the time its samples cover.
    "rate": "SELECT series_id, SUM(CASE WHEN d < 0 THEN value ELSE d END) "
    "/ (MAX(ts) - MIN(ts)) FROM (SELECT series_id, ts, value, value - LAG(value) "
    "OVER (PARTITION BY series_id ORDER BY ts) AS d FROM metric_samples WHERE {ids} {span}) x "
    "GROUP BY series_id HAVING MAX(ts) > MIN(ts)",
}
_DIALECT_REDUCERS = {
    "postgresql": {
        "last": "SELECT DISTINCT ON (series_id) series_id, value FROM metric_samples "
        "WHERE {ids} {span} ORDER BY series_id, ts DESC",
        "p95": "SELECT series_id, percentile_cont(0.95) WITHIN GROUP (ORDER BY value) "
        "FROM metric_samples WHERE {ids} {span} GROUP BY series_id",
        "p99": "SELECT series_id, percentile_cont(0.99) WITHIN GROUP (ORDER BY value) "
        "FROM metric_samples WHERE {ids} {span} GROUP BY series_id",
    },
    # SQLite hands back the bare column of the row that holds the MAX().
    "sqlite": {
        "last": "SELECT series_id, value, MAX(ts) FROM metric_samples WHERE {ids} {span} "
        "GROUP BY series_id",
        "values": "SELECT series_id, value FROM metric_samples WHERE {ids} {span}",
    },
}
_SPAN = "AND ts > :start AND ts <= :end"


@dataclass(frozen=True)
class BucketGrid:
    """Many series over one range in equal buckets: row ``i`` of ``sums`` and ``counts`` is
    ``series[i]`` (id, name, host, labels); column ``j`` the bucket from ``start + j * step``.
    An empty bucket has count 0."""

    start: float
    step: int
    series: list[tuple[int, str, str, dict[str, str]]]
    sums: np.ndarray
    counts: np.ndarray

    @property
    def averages(self) -> np.ndarray:
        """The mean of each bucket's samples, NaN where a bucket has none."""
        import numpy as np

        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), np.nan)


_PACKED = (("b", ">i4"), ("s", ">f8"), ("c", ">f8"))
"""One bucket as PostgreSQL's ``int4send`` and ``float8send`` write it: bucket, sum, count
(the fields of a numpy dtype)."""


def _percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (a whole percent) of ``values``, linear between closest ranks
    ("inclusive"), as PostgreSQL's ``percentile_cont`` computes it."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def labels_key(labels: Mapping[str, str]) -> str:
    """Canonical JSON for a label set, so equal sets compare equal in SQL."""
    if not labels:
        return "{}"
    return json.dumps(dict(labels), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """How a range is answered: the tier (0 for raw samples) and the bucket width."""

    tier: int
    step: int
    base: float
    start: float
    end: float

    @property
    def source(self) -> str:
        """``raw``, ``rollup`` (1-minute), ``rollup_5m`` or ``rollup_1h``."""
        return SOURCES[self.tier]


def plan_query(
    start: float, end: float, max_points: int, tiers: Sequence[int] = TIERS
) -> QueryPlan:
    """Choose the data tier (one of ``tiers``, or raw) and bucket width that give at most
    ``max_points`` buckets.

    A tier is used once a bucket spans at least two of its rows: below that, aligning the
    buckets to the tier would cost up to half the points the caller asked for.
    """
    span = max(end - start, 1.0)
    step = max(1, math.ceil(span / max_points))
    tier = next((t for t in reversed(tiers) if step >= 2 * t), 0)
    if tier == 0:
        return QueryPlan(0, step, start, start, end)
    step = math.ceil(step / tier) * tier
    base = math.floor(start / tier) * tier
    while math.ceil((end - base) / step) > max_points:
        step += tier
    return QueryPlan(tier, step, base, start, end)


def _bucketed(
    rows: list[tuple], base: float, step: int, *, ordered: bool = False
) -> dict[int, list[tuple[float, float, float, float]]]:
    """Each series' points from ``(series_id, bucket, count, sum, min, max)`` rows in any
    order (or ``ordered`` by series and bucket), a bucket that two parts of a range query
    returned merged into one point."""
    if not ordered:
        rows.sort()
    points: dict[int, list[tuple[float, float, float, float]]] = {}
    series: list[tuple[float, float, float, float]] = []
    prev: tuple = (None, None)
    for row in rows:
        sid, b, count, total, low, high = row
        if b == prev[1] and sid == prev[0]:
            count, total = count + prev[2], total + prev[3]
            low, high = min(low, prev[4]), max(high, prev[5])
            row = (sid, b, count, total, low, high)
            series[-1] = (base + b * step, total / count, low, high)
        else:
            if sid != prev[0]:
                series = points[sid] = []
            series.append((base + b * step, total / count, low, high))
        prev = row
    return points


class MetricsStore:
    """Reads and writes metric samples on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # (name, host, label items as given) -> id of a committed series, so a known series
        # is neither serialised to canonical JSON nor looked up again on later writes.
        self._series_ids: dict[tuple[str, str, tuple], int] = {}
        self._lock = threading.Lock()
        self._dirty_from: float | None = None
        self._described: dict[int, tuple[str, str, dict[str, str]]] = {}

    # -- writing -----------------------------------------------------------------------

    def write(
        self, samples: Sequence[Sample], fence: Callable[[Connection], None] | None = None
    ) -> int:
        """Store ``samples`` in one transaction; return how many were written.

        ``fence`` runs first in the transaction and raises to refuse the write (the
        scheduler's check that its process still leads).
        """
        if not samples:
            return 0
        keys = [(s.name, s.host, tuple(s.labels.items())) for s in samples]
        ids = list(map(self._series_ids.get, keys))
        created: dict[tuple[str, str, tuple], int] = {}
        with self.engine.begin() as conn:
            if fence is not None:
                fence(conn)
            if None in ids:
                created = self._create_series(
                    conn, {k for k, sid in zip(keys, ids, strict=True) if sid is None}
                )
                ids = [created[k] if sid is None else sid for k, sid in zip(keys, ids, strict=True)]
            stamps = [s.ts for s in samples]
            rows = list(zip(ids, stamps, [s.value for s in samples], strict=True))
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
        # Only committed series ids are cached: one of a rolled-back insert would name a row
        # that does not exist, and every later write of that series would break on it.
        with self._lock:
            self._series_ids.update(created)
        self._mark_dirty(min(stamps))
        return len(rows)

    def _create_series(
        self, conn: Connection, keys: set[tuple[str, str, tuple]]
    ) -> dict[tuple[str, str, tuple], int]:
        """Ids of the series ``keys`` (label items as given), creating the missing ones in
        ``conn``'s transaction."""
        canonical = {k: (k[0], k[1], labels_key(dict(k[2]))) for k in keys}
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        conn.execute(
            insert(MetricSeries).on_conflict_do_nothing(),
            [{"name": n, "host": h, "labels": lab} for n, h, lab in set(canonical.values())],
        )
        names = sorted({k[0] for k in keys})
        found = conn.execute(
            select(
                MetricSeries.id, MetricSeries.name, MetricSeries.host, MetricSeries.labels
            ).where(MetricSeries.name.in_(names))
        )
        by_key = {(name, host, lab): sid for sid, name, host, lab in found}
        return {k: by_key[c] for k, c in canonical.items()}

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
        """Series of ``names`` (every series when empty) between ``start`` and ``end`` in at
        most ``max_points`` buckets.

        Each bucket carries the average, minimum and maximum of the samples in it. Short
        ranges read raw samples; longer ones read the tier ``plan_query`` picks, then each
        finer tier from where the coarser one ends, then the raw samples not yet rolled up.
        """
        plan = plan_query(start, end, max_points)
        tiers = tuple(t for t in reversed(TIERS) if t <= plan.tier)
        sql = self._range_sql(tiers, len(names), host is not None)
        params: dict = {"base": plan.base, "step": plan.step, "start": plan.start}
        params.update({"end": plan.end, "host": host})
        params.update((f"name_{i}", name) for i, name in enumerate(names))
        with self.reading() as conn:
            # The driver's own cursor: no result object per row for a thousand buckets.
            cursor = conn.connection.driver_connection.cursor()
            try:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            finally:
                cursor.close()
            points = _bucketed(rows, plan.base, plan.step, ordered=self.dialect == "postgresql")
            series = self._describe(points.keys(), conn)
        result = [
            SeriesData(*series[sid], plan.step, plan.source, found) for sid, found in points.items()
        ]
        return sorted(result, key=lambda d: (d.name, d.host, labels_key(d.labels)))

    def _describe(
        self, series_ids: Iterable[int], conn: Connection
    ) -> dict[int, tuple[str, str, dict[str, str]]]:
        """Name, host and labels of each of ``series_ids``; a series row never changes once
        written, so each is read once per store."""
        missing = [sid for sid in series_ids if sid not in self._described]
        if missing:
            rows = conn.execute(
                select(
                    MetricSeries.id, MetricSeries.name, MetricSeries.host, MetricSeries.labels
                ).where(MetricSeries.id.in_(sorted(missing)))
            ).all()
            with self._lock:
                self._described.update((sid, (n, h, json.loads(lab))) for sid, n, h, lab in rows)
        return {sid: self._described[sid] for sid in series_ids}

    def series_of(self, names: Iterable[str]) -> dict[str, list[tuple[int, str, dict[str, str]]]]:
        """Every series of each of ``names``: its id, host and labels, by name."""
        wanted = sorted(set(names))
        out: dict[str, list[tuple[int, str, dict[str, str]]]] = {name: [] for name in wanted}
        if not wanted:
            return out
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    MetricSeries.name, MetricSeries.id, MetricSeries.host, MetricSeries.labels
                ).where(MetricSeries.name.in_(wanted))
            ).all()
        for name, sid, host, labels in rows:
            out[name].append((sid, host, json.loads(labels)))
        return out

    def bucket_grid(
        self, start: float, end: float, step: int, series_ids: Sequence[int] | None = None
    ) -> BucketGrid:
        """Every series (or only ``series_ids``) with samples in [start, end), summed and
        counted in ``step``-second buckets from ``start``: one statement for all of them.

        When ``start`` and ``step`` are whole minutes the 1-minute rollups answer up to the
        newest one, and raw samples the rest.
        """
        # numpy (about 10 MiB) loads with the first grid: only diagnostics ask for one.
        import numpy as np

        buckets = max(1, math.ceil((end - start) / step))
        with self.reading() as conn:
            ids = list(series_ids) if series_ids is not None else self._all_series(conn)
            if not ids:
                return BucketGrid(start, step, [], np.zeros((0, buckets)), np.zeros((0, buckets)))
            raw_from = start
            if step % ROLLUP_STEP == 0 and start % ROLLUP_STEP == 0:
                raw_from = self._rolled_up_until(conn, ids, start, end)
            params = {
                "ids": ids,
                "base": start,
                "step": step,
                "start": start,
                "raw_from": raw_from,
                "end": end,
            }
            if self.dialect == "postgresql":
                sid, b, total, count = self._grid_rows_pg(conn, params)
            else:
                sid, b, total, count = self._grid_rows_sqlite(conn, params)
            found = np.unique(sid)
            names = self._series_rows(conn, found.tolist())
        sums = np.zeros((found.size, buckets))
        counts = np.zeros((found.size, buckets))
        row = np.searchsorted(found, sid)
        col = np.clip(b, 0, buckets - 1)
        np.add.at(sums, (row, col), total)
        np.add.at(counts, (row, col), count)
        return BucketGrid(start, step, [names[i] for i in found.tolist()], sums, counts)

    @staticmethod
    def _all_series(conn: Connection) -> list[int]:
        return list(conn.execute(select(MetricSeries.id).order_by(MetricSeries.id)).scalars())

    def _rolled_up_until(self, conn: Connection, ids: list[int], start: float, end: float) -> float:
        """Where raw samples take over from the 1-minute rollups in [start, end): the end
        of the newest rollup row there (looked up on the rollups' key, series by series)."""
        ids_clause = (
            "series_id = ANY(:ids)" if self.dialect == "postgresql" else "series_id IN :ids"
        )
        sql = text(
            f"SELECT MAX(ts) FROM metric_rollups WHERE step = {ROLLUP_STEP} AND {ids_clause} "
            "AND ts >= :start AND ts < :end"
        )
        if self.dialect != "postgresql":
            sql = sql.bindparams(bindparam("ids", expanding=True))
        newest = conn.execute(sql, {"ids": ids, "start": start, "end": end}).scalar()
        return start if newest is None else min(newest + ROLLUP_STEP, end)

    _GRID_SQL = (
        "SELECT series_id, {bucket} AS b, SUM(sum) AS s, SUM(count) AS c FROM metric_rollups "
        f"WHERE step = {ROLLUP_STEP} AND {{ids}} AND ts >= {{start}} AND ts < {{raw_from}} "
        "GROUP BY series_id, b UNION ALL "
        "SELECT series_id, {bucket} AS b, SUM(value) AS s, COUNT(*) AS c FROM metric_samples "
        "WHERE {ids} AND ts >= {raw_from} AND ts < {end} GROUP BY series_id, b"
    )
    """The grid's rows: rollups up to ``raw_from`` (none when it is the start), then raw
    samples; each index range is on the (series_id, [step,] ts) keys."""

    def _grid_rows_pg(self, conn: Connection, params: dict) -> tuple[np.ndarray, ...]:
        """The grid's (series, bucket, sum, count) rows, packed by the server into one
        binary string per series and read into arrays from its bytes: no Python object
        per bucket."""
        query = self._GRID_SQL.format(
            bucket="floor((ts - %(base)s) / %(step)s)",
            ids="series_id = ANY(%(ids)s)",
            start="%(start)s",
            raw_from="%(raw_from)s",
            end="%(end)s",
        )
        sql = (
            "SELECT series_id, string_agg(int4send(b::int4) || float8send(s::float8) "
            f"|| float8send(c::float8), ''::bytea) FROM ({query}) x GROUP BY series_id"
        )
        import numpy as np

        packed = conn.exec_driver_sql(sql, params).all()
        dtype = np.dtype(list(_PACKED))
        parts = [np.frombuffer(blob, dtype) for _sid, blob in packed]
        rows = np.concatenate(parts) if parts else np.zeros(0, dtype)
        sid = np.repeat(np.array([r[0] for r in packed], dtype=np.int64), [p.size for p in parts])
        return sid, rows["b"].astype(np.int64), rows["s"].astype(float), rows["c"].astype(float)

    def _grid_rows_sqlite(self, conn: Connection, params: dict) -> tuple[np.ndarray, ...]:
        query = self._GRID_SQL.format(
            bucket="CAST((ts - :base) / :step AS INTEGER)",
            ids="series_id IN :ids",
            start=":start",
            raw_from=":raw_from",
            end=":end",
        )
        import numpy as np

        sql = text(query).bindparams(bindparam("ids", expanding=True))
        rows = conn.execute(sql, params).all()
        if not rows:
            empty = np.zeros(0)
            return empty.astype(np.int64), empty.astype(np.int64), empty, empty
        sid, b, total, count = zip(*rows, strict=True)
        return (
            np.array(sid, dtype=np.int64),
            np.array(b, dtype=np.int64),
            np.array(total, dtype=float),
            np.array(count, dtype=float),
        )

    @staticmethod
    def _series_rows(
        conn: Connection, series_ids: Sequence[int]
    ) -> dict[int, tuple[int, str, str, dict[str, str]]]:
        if not series_ids:
            return {}
        rows = conn.execute(
            select(MetricSeries.id, MetricSeries.name, MetricSeries.host, MetricSeries.labels)
        ).all()
        wanted = set(series_ids)
        return {r[0]: (r[0], r[1], r[2], json.loads(r[3])) for r in rows if r[0] in wanted}

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """One connection for many reads (each its own statement, so one that fails
        leaves the connection usable for the next)."""
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    def reduced(
        self,
        series_ids: Sequence[int],
        start: float,
        end: float,
        how: str,
        conn: Connection | None = None,
    ) -> dict[int, float]:
        """Each series' ``how`` of its raw samples in (start, end]: ``avg``, ``min``,
        ``max``, ``sum``, ``last``, ``rate`` (per second, counter resets counted from zero)
        or ``p95``/``p99`` (linear between closest ranks); a series without samples there
        (or, for a rate, without two) is left out. ``conn`` reuses one from ``reading``."""
        if not series_ids:
            return {}
        params = {"ids": list(series_ids), "start": start, "end": end}
        if self.dialect == "sqlite" and how in ("p95", "p99"):
            values: dict[int, list[float]] = {}
            for sid, value in self._run(conn, self._reducer("values"), params):
                values.setdefault(sid, []).append(value)
            return {sid: _percentile(v, int(how[1:]) / 100) for sid, v in values.items()}
        return {row[0]: row[1] for row in self._run(conn, self._reducer(how), params)}

    @functools.lru_cache(maxsize=16)  # noqa: B019  (eight reducers; the store lives long)
    def _reducer(self, how: str) -> TextClause:
        """The statement of one reducer: on PostgreSQL the ids are one array parameter, so
        the statement is the same whatever their number (and is prepared once)."""
        sql = _DIALECT_REDUCERS.get(self.dialect, {}).get(how) or _REDUCERS[how]
        if self.dialect == "postgresql":
            return text(sql.format(ids="series_id = ANY(:ids)", span=_SPAN))
        return text(sql.format(ids="series_id IN :ids", span=_SPAN)).bindparams(
            bindparam("ids", expanding=True)
        )

    def _run(self, conn: Connection | None, sql: TextClause, params: dict) -> list:
        if conn is not None:
            return conn.execute(sql, params).all()
        with self.reading() as own:
            return own.execute(sql, params).all()

    @functools.lru_cache(maxsize=32)  # noqa: B019  (a handful of shapes; the store lives long)
    def _range_sql(self, tiers: tuple[int, ...], names: int, by_host: bool) -> str:
        """One statement for a range query of ``names`` names (optionally one host) over
        ``tiers`` (coarsest first) then raw samples, in the driver's own parameter style.

        It finds the series, where each tier's newest row ends (its watermark: the start of
        the next tier's part), and reads each part on its (series_id, [step,] ts) key, the
        buckets a boundary splits merged: one round trip to the database.
        """
        pg = self.dialect == "postgresql"

        def p(name: str) -> str:
            return f"%({name})s" if pg else f":{name}"

        clauses = ["1 = 1"]
        if names:
            clauses.append(f"s.name IN ({', '.join(p(f'name_{i}') for i in range(names))})")
        if by_host:
            clauses.append(f"s.host = {p('host')}")
        bucket = (
            f"floor((ts - {p('base')}) / {p('step')})::bigint"
            if pg
            else f"CAST((ts - {p('base')}) / {p('step')} AS INTEGER)"
        )
        greatest, least = ("GREATEST", "LEAST") if pg else ("MAX", "MIN")
        newest = "".join(
            f", (SELECT MAX(r.ts) FROM metric_rollups r WHERE r.series_id = s.id "
            f"AND r.step = {tier}) AS newest_{tier}"
            for tier in tiers
        )
        ctes = [f"s AS (SELECT s.id{newest} FROM metric_series s WHERE {' AND '.join(clauses)})"]
        # Watermark of each tier: the end of its newest row, within [previous one, end].
        bound, marks = p("base"), []
        for tier in tiers:
            bound = (
                f"{greatest}({bound}, {least}(COALESCE(MAX(newest_{tier}) + {tier}, {bound}), "
                f"{p('end')}))"
            )
            marks.append(f"{bound} AS upto_{tier}")
        if marks:
            ctes.append(f"w AS (SELECT {', '.join(marks)} FROM s)")
        # PostgreSQL reads each part's index on an array of the ids, not through a semi-join
        # with the series.
        ids = (
            "series_id = ANY(ARRAY(SELECT id FROM s))" if pg else "series_id IN (SELECT id FROM s)"
        )
        # No GROUP BY over the parts: merging the few buckets split at a watermark costs
        # Python less than re-aggregating every bucket costs the database.
        lower = p("base")
        spans = []
        for tier in tiers:
            upper = f"(SELECT upto_{tier} FROM w)"
            spans.append((tier, f"ts >= {lower} AND ts < {upper}"))
            lower = upper
        rollups = (
            f"SELECT series_id, {bucket} AS b, SUM(count) AS c, SUM(sum) AS s, "
            f"MIN(min) AS lo, MAX(max) AS hi FROM metric_rollups WHERE {ids} AND {{span}} "
            "GROUP BY series_id, b"
        )
        if pg and spans:
            # One aggregate over every tier's span (a bitmap of the index ranges): a bucket
            # that two tiers share is summed there, and the rows are read in one heap pass.
            either = " OR ".join(f"(step = {tier} AND {span})" for tier, span in spans)
            selects = [rollups.format(span=f"({either})")]
        else:
            # SQLite would read every tier of the series for an OR: one range per tier.
            selects = [rollups.format(span=f"step = {tier} AND {span}") for tier, span in spans]
        selects.append(
            f"SELECT series_id, {bucket} AS b, COUNT(*) AS c, SUM(value) AS s, "
            f"MIN(value) AS lo, MAX(value) AS hi FROM metric_samples WHERE {ids} "
            f"AND ts >= {lower if tiers else p('start')} AND ts < {p('end')} "
            "GROUP BY series_id, b"
        )
        # PostgreSQL sorts the few hundred buckets faster than Python does, which then finds
        # them in order; SQLite's parts come in key order already.
        order = " ORDER BY series_id, b" if pg else ""
        return f"WITH {', '.join(ctes)} {' UNION ALL '.join(selects)}{order}"

    def _bucket_expr(self) -> str:
        # Postgres rounds when casting to integer; SQLite truncates (and may lack floor()).
        if self.dialect == "postgresql":
            return "floor((ts - :base) / :step)::bigint"
        return "CAST((ts - :base) / :step AS INTEGER)"

    # -- maintenance -------------------------------------------------------------------

    def rollup(self, now: float) -> int:
        """Roll complete minutes of raw samples up, then complete 5 minutes of those
        minutes, then complete hours of those; return the rollup rows written.

        Each tier starts from its newest row, or earlier when samples were written late (a
        backlog after an outage), so every complete period of every tier ends up rolled up.
        """
        with self._lock:
            dirty, self._dirty_from = self._dirty_from, None
        try:
            with self.engine.begin() as conn:
                return sum(
                    self._rollup_tier(conn, tier, source, dirty, now)
                    for source, tier in zip((None, *TIERS[:-1]), TIERS, strict=True)
                )
        except Exception:
            self._mark_dirty(dirty)
            raise

    def _rollup_tier(
        self, conn, tier: int, source: int | None, dirty: float | None, now: float
    ) -> int:
        """Aggregate ``source`` rows (raw samples when None) into complete ``tier`` buckets."""
        until = math.floor(now / tier) * tier
        since = conn.execute(
            text("SELECT MAX(ts) FROM metric_rollups WHERE step = :tier"), {"tier": tier}
        ).scalar()
        if since is None:
            since = conn.execute(
                text("SELECT MIN(ts) FROM metric_samples")
                if source is None
                else text("SELECT MIN(ts) FROM metric_rollups WHERE step = :s"),
                {"s": source},
            ).scalar()
        if since is None:
            return 0
        if dirty is not None:
            since = min(since, dirty)
        since = math.floor(since / tier) * tier
        if since >= until:
            return 0
        bucket = self._bucket_expr().replace(":base", "0").replace(":step", str(tier))
        if source is None:
            select_rows = (
                f"SELECT series_id, {tier}, ({bucket}) * {tier}, COUNT(*), SUM(value), "
                "MIN(value), MAX(value) FROM metric_samples "
                "WHERE ts >= :since AND ts < :until GROUP BY series_id, 3"
            )
        else:
            select_rows = (
                f"SELECT series_id, {tier}, ({bucket}) * {tier}, SUM(count), SUM(sum), "
                f"MIN(min), MAX(max) FROM metric_rollups WHERE step = {source} "
                "AND ts >= :since AND ts < :until GROUP BY series_id, 3"
            )
        result = conn.execute(
            text(
                "INSERT INTO metric_rollups (series_id, step, ts, count, sum, min, max) "
                f"{select_rows} ON CONFLICT (series_id, step, ts) DO UPDATE SET "
                "count = excluded.count, sum = excluded.sum, min = excluded.min, "
                "max = excluded.max"
            ),
            {"since": since, "until": until},
        )
        return result.rowcount or 0

    def _mark_dirty(self, ts: float | None) -> None:
        if ts is None:
            return
        with self._lock:
            if self._dirty_from is None or ts < self._dirty_from:
                self._dirty_from = ts

    def trim(
        self,
        now: float,
        *,
        raw_retention: float,
        rollup_retention: float,
        five_minute_retention: float,
        hourly_retention: float,
    ) -> dict[str, int]:
        """Delete raw samples, minute, 5-minute and hour rollups older than their retention
        (seconds); return how many of each, by source name."""
        deleted = dict.fromkeys(SOURCES.values(), 0)
        with self.engine.begin() as conn:
            ids = list(conn.execute(select(MetricSeries.id)).scalars())
            for sid in ids:  # per series: each delete is a range on the (series_id, ts) index
                deleted["raw"] += conn.execute(
                    text("DELETE FROM metric_samples WHERE series_id = :sid AND ts < :cut"),
                    {"sid": sid, "cut": now - raw_retention},
                ).rowcount
                for tier, retention in (
                    (ROLLUP_STEP, rollup_retention),
                    (FIVE_MINUTE_STEP, five_minute_retention),
                    (HOURLY_STEP, hourly_retention),
                ):
                    deleted[SOURCES[tier]] += conn.execute(
                        text(
                            "DELETE FROM metric_rollups WHERE series_id = :sid "
                            "AND step = :step AND ts < :cut"
                        ),
                        {"sid": sid, "step": tier, "cut": now - retention},
                    ).rowcount
        return deleted
