"""The diagnostics summary (GET /api/v1/admin/monitoring/diagnostics) over 7 days, store
on PostgreSQL: ``summary.summary`` vs hand-written SQL over the same tables in one
connection (one query per part, plus the same live pg_stat_statements check), alternating,
median of rounds.

The store holds 7 days of 500 statements, endpoint histograms of ~50 routes rolled up and
trimmed as the leader does (so 7 days are read from the hourly tier), ~200 error groups of
records written through the log store, and ~10 dependency checks with their results. The
store is also the watched database, on a server with pg_stat_statements preloaded.
"""

from __future__ import annotations

import math
import random
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from app import build_runtime
from app.services.diagnostics import summary
from app.settings import Settings
from bench.common import HOST, Result, compared, paired_rounds, pg_database, psycopg_dsn
from bench.common import statements_server as preloaded_server
from bench.diagnostics_statements import BASELINE as STATEMENTS_SQL
from bench.diagnostics_statements import load as load_statements
from collectors.pg_connection import connect, target_name
from storage.db import make_engine
from storage.diagnostics.checks import CheckRecord, CheckResult, CheckStore
from storage.diagnostics.endpoints import EndpointCounts, EndpointStore
from storage.diagnostics.statements import HOURLY_STEP, StatementStore
from storage.logs import LogEntry, LogStore
from storage.models import BUCKET_COLUMNS, LATENCY_BUCKETS

DAY = 86400
TOP = 10
ROUTES_LISTED = 20
"""Routes the summary lists (``endpoints.summary``'s default)."""
SPARK_BUCKETS = 24
HOSTS = [f"web-{i}" for i in range(1, 7)]
SOURCES = ("api", "web", "worker", "scheduler")
SERVICES = ("billing", "search", "stock", "mailer", "orders", "users", "payments", "auth")
SERVICES += ("shipping", "reports")
FAILURES = tuple(
    f"{verb} {thing}"
    for verb in ("could not reach", "timed out reading", "refused writing", "lost lock on")
    for thing in ("queue", "ledger", "session store", "index", "cache")
)
"""With SERVICES: 200 messages that group apart (their numbers are parameterised)."""

ENDPOINTS_SQL = """
WITH newest AS (
  SELECT (SELECT MAX(ts) + 3600 FROM endpoint_histograms WHERE step = 3600) AS h,
         (SELECT MAX(ts) + 60 FROM endpoint_histograms WHERE step = 60) AS m
), hour AS (
  SELECT GREATEST(%(base)s, LEAST(COALESCE(h, %(base)s), %(end)s)) AS h1, m FROM newest
), bounds AS (
  SELECT h1, GREATEST(h1, LEAST(COALESCE(m, h1), %(end)s)) AS m1 FROM hour
), x AS (
  SELECT e.* FROM endpoint_histograms e, bounds
   WHERE e.step = 3600 AND e.ts >= %(base)s AND e.ts < bounds.h1
  UNION ALL
  SELECT e.* FROM endpoint_histograms e, bounds
   WHERE e.step = 60 AND e.ts >= bounds.h1 AND e.ts < bounds.m1
  UNION ALL
  SELECT e.* FROM endpoint_histograms e, bounds
   WHERE e.step = 0 AND e.ts >= bounds.m1 AND e.ts < %(end)s
)
SELECT route, method, SUM(requests)::bigint, SUM(client_errors)::bigint,
       SUM(server_errors)::bigint, SUM(seconds),
       {buckets}
  FROM x GROUP BY route, method ORDER BY 3 DESC, route, method LIMIT {limit}
""".format(buckets=", ".join(f"SUM({c})::bigint" for c in BUCKET_COLUMNS), limit=ROUTES_LISTED)
ERRORS_SQL = f"""
WITH n AS (
  SELECT fingerprint, COUNT(*) AS n FROM log_records
   WHERE fingerprint IS NOT NULL AND ts >= %(start)s AND ts < %(end)s GROUP BY fingerprint
), top AS (
  SELECT g.fingerprint, g.title, g.level, g.first_seen, g.last_seen, g.count, g.sample, n.n
    FROM error_groups g JOIN n USING (fingerprint)
   ORDER BY n.n DESC, g.last_seen DESC, g.fingerprint LIMIT {TOP}
), d AS (
  SELECT fingerprint, host, source,
         floor((extract(epoch FROM ts) - %(epoch)s) / %(step)s)::bigint AS b, COUNT(*) AS c
    FROM log_records
   WHERE fingerprint IN (SELECT fingerprint FROM top) AND ts >= %(start)s AND ts < %(end)s
   GROUP BY GROUPING SETS ((fingerprint, host), (fingerprint, source),
                           (fingerprint, floor((extract(epoch FROM ts) - %(epoch)s) / %(step)s)))
)
SELECT top.*,
  (SELECT (array_agg(host ORDER BY c DESC, host))[1:10] FROM d
    WHERE d.fingerprint = top.fingerprint AND host IS NOT NULL),
  (SELECT (array_agg(source ORDER BY c DESC, source))[1:10] FROM d
    WHERE d.fingerprint = top.fingerprint AND source IS NOT NULL),
  (SELECT array_agg(ARRAY[b, c]) FROM d WHERE d.fingerprint = top.fingerprint AND b IS NOT NULL)
  FROM top ORDER BY n DESC, last_seen DESC, fingerprint
"""
CHECKS_SQL = (
    "SELECT name, kind, enabled, last_up, last_latency_ms, last_detail "
    "FROM dependency_checks ORDER BY name"
)
HAS_EXTENSION = "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"
PROBE = "SELECT 1 FROM pg_stat_statements LIMIT 1"


def load_endpoints(store: EndpointStore, routes: int, days: int, every: int, now: float) -> int:
    """``days`` of intervals of ``every`` seconds of ``routes`` routes (a few busy ones),
    rolled up and trimmed as the leader does; return the interval rows written."""
    rng = random.Random(12)
    weight = [rng.paretovariate(1.2) for _ in range(routes)]
    shape = [[rng.random() ** 3 for _ in BUCKET_COLUMNS] for _ in range(routes)]
    rows = 0
    ts = now - days * DAY - HOURLY_STEP
    while ts <= now:
        counts = []
        for r in range(routes):
            if rng.random() < 0.3:  # quiet this interval
                continue
            scale = weight[r] * rng.uniform(1, 30)
            buckets = tuple(int(scale * p * rng.uniform(0.8, 1.2)) for p in shape[r])
            requests = sum(buckets)
            if not requests:
                continue
            counts.append(
                EndpointCounts(
                    f"/api/v1/resource_{r}/<id>",
                    "GET" if r % 3 else "POST",
                    requests,
                    requests // 20,
                    requests // 100,
                    requests * rng.uniform(0.01, 0.5),
                    buckets,
                )
            )
        store.write(HOST, ts, counts)
        rows += len(counts)
        ts += every
    store.rollup(now)
    store.trim(now, raw_retention=2 * DAY, rollup_retention=30 * DAY, hourly_retention=365 * DAY)
    return rows


def load_errors(logs: LogStore, records: int, days: int, now: float) -> int:
    """``records`` error records of 200 kinds (a few frequent) over ``days``, with as many
    info records between them, written through the log store so that their groups are
    kept; return the records written."""
    rng = random.Random(13)
    kinds = [(s, f) for s in SERVICES for f in FAILURES]
    weight = [rng.paretovariate(1.0) for _ in kinds]
    start = now - days * DAY
    batch: list[LogEntry] = []
    written = 0
    for i in range(2 * records):
        ts = datetime.fromtimestamp(start + (i + rng.random()) * days * DAY / (2 * records), UTC)
        if i % 2:
            service, failure = rng.choices(kinds, weight)[0]
            message = f"{service}: {failure} after {rng.randrange(30000)} ms"
            level = "critical" if failure.startswith("lost") else "error"
            source = SOURCES[SERVICES.index(service) % len(SOURCES)]  # a kind, a source
        else:
            message, level = f"GET /api/v1/orders/{rng.randrange(10**6)} 200", "info"
            source = rng.choice(SOURCES)
        batch.append(LogEntry(ts, level, source, rng.choice(HOSTS), message, {"n": i}))
        if len(batch) == 2000:
            written += logs.write(batch)
            batch = []
    if batch:
        written += logs.write(batch)
    return written


def load_checks(store: CheckStore, count: int, now: float) -> None:
    """``count`` TCP checks, each with a latest result (one in five down)."""
    for i in range(count):
        check = store.create(
            CheckRecord(f"dependency-{i:02d}", "tcp", {"host": f"10.0.0.{i}", "port": 5432}, 30, 5),
            now,
        )
        up = i % 5 != 0
        store.record_result(
            check.id, CheckResult(now - i, up, 1.5 + i, "ok" if up else "connection refused")
        )


def quantile(buckets: list[int], q: float) -> float | None:
    """The ``q`` quantile of bucket counts, interpolated inside its bucket."""
    rank, seen = q * sum(buckets), 0
    if not rank:
        return None
    for i, n in enumerate(buckets):
        if n and seen + n >= rank:
            if i == len(LATENCY_BUCKETS):
                return LATENCY_BUCKETS[-1]
            lower = LATENCY_BUCKETS[i - 1] if i else 0.0
            return lower + (LATENCY_BUCKETS[i] - lower) * (rank - seen) / n
        seen += n
    return LATENCY_BUCKETS[-1]


def run(quick: bool = False) -> list[Result]:
    """Median time of one 7-day summary, ours and hand-written alternating."""
    if quick:
        statements, routes, records, days, every, repeats = 40, 8, 1000, 7, 3600, 3
    else:
        statements, routes, records, days, every, repeats = 500, 50, 100_000, 7, 300, 15
    now = math.floor(time.time() / 60) * 60 + 17.5  # partial hours at both ends
    start = now - days * DAY
    with preloaded_server() as (admin, which), pg_database(admin) as url:
        engine = make_engine(url)
        watched = target_name(url)
        statement_rows = load_statements(
            StatementStore(engine), statements, days, every, now, watched
        )
        interval_rows = load_endpoints(EndpointStore(engine), routes, days, every, now)
        log_rows = load_errors(LogStore(engine), records, days, now)
        load_checks(CheckStore(engine), 10, now)
        engine.dispose()
        with (
            psycopg.connect(psycopg_dsn(url), autocommit=True) as raw,
            tempfile.TemporaryDirectory() as tmp,
        ):
            raw.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            for table in (
                "statement_samples",
                "statement_texts",
                "endpoint_histograms",
                "log_records",
                "error_groups",
            ):
                raw.execute(f"VACUUM ANALYZE {table}")
            groups = raw.execute("SELECT COUNT(*) FROM error_groups").fetchone()[0]
            settings = Settings(
                data_dir=Path(tmp),
                database_url=url,
                redis_url=None,
                secret_key=secrets.token_urlsafe(16),
                admin_password="bench-password-1",
                start_scheduler=False,
                hostname=HOST,
            )
            rt = build_runtime(settings)
            step = max(1.0, math.ceil((now - start) / SPARK_BUCKETS))
            params = {
                "target": watched,
                "start": datetime.fromtimestamp(start, UTC),
                "end": datetime.fromtimestamp(now, UTC),
                "epoch": start,
                "step": step,
                "h0": math.ceil(start / HOURLY_STEP) * HOURLY_STEP,
                "h1": math.floor(now / HOURLY_STEP) * HOURLY_STEP,
                "base": math.floor(start / HOURLY_STEP) * HOURLY_STEP,
            }
            conninfo = psycopg_dsn(url)

            def ours():
                return summary.summary(rt, start, now, now)

            def baseline():
                with connect(conninfo) as watch:
                    available = watch.execute(HAS_EXTENSION).fetchone() is not None
                    watch.execute(PROBE)
                ranked = raw.execute(
                    STATEMENTS_SQL, {**params, "start": start, "end": now}
                ).fetchall()
                routes_ = [
                    (route, method, requests, quantile(list(buckets), 0.95))
                    for route, method, requests, _, _, _, *buckets in raw.execute(
                        ENDPOINTS_SQL, {**params, "start": start, "end": now}
                    )
                ]
                errors = []
                for *group, hosts, sources, spark in raw.execute(ERRORS_SQL, params):
                    line = [0] * math.ceil((now - start) / step)
                    for b, n in spark:
                        line[min(max(b, 0), len(line) - 1)] += n
                    errors.append((group[0], group[-1], hosts, sources, line))
                raw.execute("SELECT 1")
                checks = raw.execute(CHECKS_SQL).fetchall()
                return available, ranked, routes_, errors, checks

            try:
                _agree(ours(), baseline())
                rounds = paired_rounds(ours, baseline, repeats)
            finally:
                rt.close()
    note = (
        f"diagnostics_summary: the summary over {days} days: {statements} statements "
        f"({statement_rows:,} collected rows), {routes} routes ({interval_rows:,} intervals "
        f"every {every} s, rolled up and trimmed), {groups} error groups of {log_rows:,} log "
        f"records (half at error or above), 10 checks; watched database on {which}; baseline: "
        f"one hand-written query per part over the same tables and the same live "
        f"pg_stat_statements check (PostgreSQL), median of {repeats} alternating rounds"
    )
    return [compared(f"diagnostics summary {days} d (pg)", rounds, "<= 1.5x", note)]


def _agree(mine: dict, theirs: tuple) -> None:
    """Raise unless both answers agree on the key figures of every part."""
    available, ranked, routes, errors, checks = theirs
    if mine["unavailable"] or not available:
        raise RuntimeError(f"parts unavailable: {mine['unavailable']}")
    found = {
        "slow_queries": [(r["queryid"], _figure(r["total_time_ms"])) for r in mine["slow_queries"]],
        "endpoints": [(r["route"], r["method"], r["count"], r["p95"]) for r in mine["endpoints"]],
        "error_groups": [
            (g["fingerprint"], g["count"], g["hosts"], g["sources"], g["sparkline"])
            for g in mine["error_groups"]
        ],
        "dependencies": [
            (d["name"], d["up"], d["latency_ms"]) for d in mine["dependencies"][: len(checks)]
        ],
    }
    expected = {
        "slow_queries": [(r[0], _figure(r[3])) for r in ranked],
        "endpoints": routes,
        "error_groups": errors,
        "dependencies": [(name, up, ms) for name, _, _, up, ms, _ in checks],
    }
    for part, rows in expected.items():
        if found[part] != rows or not rows:
            raise RuntimeError(f"{part}: ours {found[part][:2]} != hand-written {rows[:2]}")


def _figure(value: float) -> str:
    """A total to 9 significant digits: sums in another order differ in the last bits."""
    return f"{value:.9g}"
