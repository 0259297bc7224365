"""Endpoint histograms and slow requests: request-latency bucket counts per route as
per-interval deltas (step 0), summed into 1-minute and 1-hour tiers, and read back merged
over any range from the coarsest tier that covers it plus the finer ones after it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, select, text

from storage.metrics import HOURLY_STEP, ROLLUP_STEP
from storage.models import BUCKET_COLUMNS, endpoint_histograms
from storage.models import SlowRequest as SlowRequestRow

COUNT_COLUMNS = ("requests", "client_errors", "server_errors", "seconds", *BUCKET_COLUMNS)
"""The columns every interval holds and every rollup sums."""
KEY_COLUMNS = ("step", "ts", "host", "route", "method")
SLOW_KEEP = 10_000
"""Slow requests kept at most (the newest), whatever their age."""
SLOW_COLUMNS = ("ts", "host", "route", "method", "path", "status", "duration_s", "trace_id")
PATH_MAX = 500
TIERS = (ROLLUP_STEP, HOURLY_STEP)
"""The histograms' rollup tiers, finest first."""


@dataclass(frozen=True, slots=True)
class EndpointCounts:
    """What one route answered over an interval: requests, 4xx, 5xx, the sum of their
    durations (seconds) and the count in each latency bucket (the last one is +Inf)."""

    route: str
    method: str
    requests: int
    client_errors: int
    server_errors: int
    seconds: float
    buckets: tuple[int, ...]

    def plus(self, other: EndpointCounts) -> EndpointCounts:
        """Both intervals' counts together (under this one's route and method)."""
        return EndpointCounts(
            self.route,
            self.method,
            self.requests + other.requests,
            self.client_errors + other.client_errors,
            self.server_errors + other.server_errors,
            self.seconds + other.seconds,
            tuple(a + b for a, b in zip(self.buckets, other.buckets, strict=True)),
        )


@dataclass(frozen=True, slots=True)
class SlowRequest:
    """One request that took longer than the slow-request threshold."""

    ts: float
    route: str
    method: str
    path: str
    status: int
    duration_s: float
    trace_id: str


class EndpointStore:
    """Writes, rolls up, trims and reads endpoint histograms and slow requests."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    # -- writing -----------------------------------------------------------------------

    def write(
        self,
        host: str,
        ts: float,
        counts: Sequence[EndpointCounts],
        slow: Sequence[SlowRequest] = (),
        fence: Callable[[Connection], None] | None = None,
    ) -> int:
        """Store one interval's counts (stamped ``ts``) and slow requests in one
        transaction; ``fence`` runs first and raises to refuse the write. Returns the rows
        written."""
        if not counts and not slow:
            return 0
        with self.engine.begin() as conn:
            if fence is not None:
                fence(conn)
            if counts:
                conn.execute(
                    insert(endpoint_histograms),
                    [
                        {
                            "step": 0,
                            "ts": ts,
                            "host": host,
                            "route": c.route,
                            "method": c.method,
                            "requests": c.requests,
                            "client_errors": c.client_errors,
                            "server_errors": c.server_errors,
                            "seconds": c.seconds,
                            **dict(zip(BUCKET_COLUMNS, c.buckets, strict=True)),
                        }
                        for c in counts
                    ],
                )
            if slow:
                conn.execute(
                    insert(SlowRequestRow),
                    [
                        {
                            "ts": s.ts,
                            "host": host,
                            "route": s.route,
                            "method": s.method,
                            "path": s.path[:PATH_MAX],
                            "status": s.status,
                            "duration_s": s.duration_s,
                            "trace_id": s.trace_id,
                        }
                        for s in slow
                    ],
                )
        return len(counts) + len(slow)

    # -- maintenance -------------------------------------------------------------------

    def rollup(self, now: float) -> int:
        """Sum complete minutes of intervals into the minute tier, then complete hours of
        minutes into the hour tier; return the rollup rows written.

        Each tier starts again from its newest row, so a row committed just after its
        period was first rolled up is counted the next time.
        """
        with self.engine.begin() as conn:
            written = self._rollup_tier(conn, ROLLUP_STEP, 0, now)
            return written + self._rollup_tier(conn, HOURLY_STEP, ROLLUP_STEP, now)

    def _rollup_tier(self, conn: Connection, tier: int, source: int, now: float) -> int:
        until = (now // tier) * tier
        newest = "SELECT MAX(ts) FROM endpoint_histograms WHERE step = :step"
        since = conn.execute(text(newest), {"step": tier}).scalar()
        if since is None:
            since = conn.execute(
                text("SELECT MIN(ts) FROM endpoint_histograms WHERE step = :step"),
                {"step": source},
            ).scalar()
        if since is None:
            return 0
        since = (since // tier) * tier
        if since >= until:
            return 0
        sums = ", ".join(f"SUM({c})" for c in COUNT_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in COUNT_COLUMNS)
        bucket = self._bucket("0", str(tier))
        result = conn.execute(
            text(
                f"INSERT INTO endpoint_histograms ({', '.join((*KEY_COLUMNS, *COUNT_COLUMNS))}) "
                f"SELECT {tier}, ({bucket}) * {tier}, host, route, method, {sums} "
                f"FROM endpoint_histograms WHERE step = {source} AND ts >= :since "
                "AND ts < :until GROUP BY 2, host, route, method "
                f"ON CONFLICT ({', '.join(KEY_COLUMNS)}) DO UPDATE SET {updates}"
            ),
            {"since": since, "until": until},
        )
        return result.rowcount or 0

    def trim(
        self,
        now: float,
        *,
        raw_retention: float,
        rollup_retention: float,
        hourly_retention: float,
        slow_keep: int = SLOW_KEEP,
    ) -> dict[str, int]:
        """Delete intervals, minute and hour rows older than their retention (seconds),
        slow requests older than the raw retention and all but the newest ``slow_keep``."""
        deleted = {}
        with self.engine.begin() as conn:
            for tier, retention in (
                (0, raw_retention),
                (ROLLUP_STEP, rollup_retention),
                (HOURLY_STEP, hourly_retention),
            ):
                deleted[f"step_{tier}"] = conn.execute(
                    text("DELETE FROM endpoint_histograms WHERE step = :step AND ts < :cut"),
                    {"step": tier, "cut": now - retention},
                ).rowcount
            slow = conn.execute(
                text("DELETE FROM slow_requests WHERE ts < :cut"), {"cut": now - raw_retention}
            ).rowcount
            slow += conn.execute(
                text(
                    "DELETE FROM slow_requests WHERE id <= (SELECT id FROM slow_requests "
                    "ORDER BY id DESC LIMIT 1 OFFSET :keep)"
                ),
                {"keep": slow_keep},
            ).rowcount
            deleted["slow_requests"] = slow
        return deleted

    # -- reading -----------------------------------------------------------------------

    def read(
        self,
        start: float,
        end: float,
        *,
        tier: int = 0,
        step: float | None = None,
        route: str | None = None,
        method: str | None = None,
    ) -> list[tuple[float, EndpointCounts]]:
        """Counts per route (optionally one ``route``/``method``) in [start, end), merged
        over every host: one total per route, or with ``step`` one per route and period of
        ``step`` seconds from ``start`` (each tagged with the period's start; the whole
        range is tagged ``start``).

        ``tier`` (0, 60 or 3600) is the coarsest tier read: its rows answer from the start
        of its period holding ``start`` up to its newest row, finer tiers and the
        intervals answer the rest.
        """
        tiers = [t for t in reversed(TIERS) if t <= tier]
        base = (start // tiers[0]) * tiers[0] if tiers else start
        filters = {k: v for k, v in (("route", route), ("method", method)) if v is not None}
        params: dict = {"base": base, "step": step or 1.0, **filters}
        with self.engine.connect() as conn:
            bound = base
            for t in tiers:
                newest = conn.execute(
                    text("SELECT MAX(ts) FROM endpoint_histograms WHERE step = :step"),
                    {"step": t},
                ).scalar()
                upper = bound if newest is None else max(bound, min(newest + t, end))
                params[f"lo_{t}"], params[f"hi_{t}"] = bound, upper
                bound = upper
            params["lo_0"], params["hi_0"] = bound, end
            sql = self._read_sql((*tiers, 0), step is not None, tuple(filters))
            rows = conn.execute(sql, params).all()
        out = []
        for b, route_, method_, *values in rows:
            requests, client, server, seconds, *buckets = values
            counts = EndpointCounts(
                route_,
                method_,
                int(requests),
                int(client),
                int(server),
                float(seconds),
                tuple(int(n) for n in buckets),
            )
            out.append((base + b * step if step else start, counts))
        return out

    def _read_sql(self, tiers: tuple[int, ...], by_time: bool, filters: tuple[str, ...]):
        bucket = self._bucket(":base", ":step") if by_time else "0"
        where = "".join(f" AND {column} = :{column}" for column in filters)
        sums = ", ".join(f"SUM({c}) AS {c}" for c in COUNT_COLUMNS)
        parts = [
            f"SELECT {bucket} AS b, route, method, {sums} FROM endpoint_histograms "
            f"WHERE step = {t} AND ts >= :lo_{t} AND ts < :hi_{t}{where} "
            "GROUP BY 1, route, method"
            for t in tiers
        ]
        outer = ", ".join(f"SUM({c})" for c in COUNT_COLUMNS)
        return text(
            f"SELECT b, route, method, {outer} FROM ({' UNION ALL '.join(parts)}) x "
            "GROUP BY b, route, method ORDER BY b, route, method"
        )

    def _bucket(self, base: str, step: str) -> str:
        # Postgres rounds when casting to integer; SQLite truncates (and may lack floor()).
        if self.dialect == "postgresql":
            return f"floor((ts - {base}) / {step})::bigint"
        return f"CAST((ts - {base}) / {step} AS INTEGER)"

    def slowest(
        self,
        start: float,
        end: float,
        *,
        route: str | None = None,
        method: str | None = None,
        limit: int = 50,
    ) -> list[dict]:
        """The slowest requests in [start, end) (optionally of one route/method), slowest
        first: ``ts, host, route, method, path, status, duration_s, trace_id``."""
        query = select(*(getattr(SlowRequestRow, c) for c in SLOW_COLUMNS)).where(
            SlowRequestRow.ts >= start, SlowRequestRow.ts < end
        )
        if route is not None:
            query = query.where(SlowRequestRow.route == route)
        if method is not None:
            query = query.where(SlowRequestRow.method == method)
        query = query.order_by(SlowRequestRow.duration_s.desc(), SlowRequestRow.id).limit(limit)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
