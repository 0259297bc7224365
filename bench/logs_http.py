"""Log search over HTTP: ``GET /api/v1/admin/logs``, ``/count`` and ``/histogram`` of the
app vs a minimal view running hand-written SQL with psycopg, for the four query shapes.

Both are called the same way: Flask's test client on one app, with the same bearer token
(the baseline view is registered on that app with the same roles, so routing, the guard
and the token check cost both alike). The baseline reads its parameters from the query
string, runs the SQL one would write by hand for the shape on a kept psycopg connection
and writes the same JSON bytes; the bodies are checked equal before timing. Each round is
as many requests in a row as take the baseline about 60 ms, so that the median of a short
request is not decided by one scheduling hiccup of a busy machine.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from flask import Response, request

from app.auth import READERS, roles
from bench.common import Result, Rounds, compared, console_app, paired_rounds, psycopg_dsn
from bench.logs_data import RARE_WORD, add_token, log_database
from storage.logs import EXACT_COUNT_LIMIT

LIMIT = 100
BUCKETS = 60
TARGET = "ratio <= 1.5"
SHAPES = (
    # label, query text, hand-written condition, its parameters
    ("time range only", "", "TRUE", ()),
    ("level + source", "level:error source:api", "level = %s AND source = %s", ("error", "api")),
    ("substring", RARE_WORD, "message ILIKE %s", (f"%{RARE_WORD}%",)),
    ("negation", "-level:info -source:api", "level <> %s AND source <> %s", ("info", "api")),
)
RANGE = "ts >= %s AND ts < %s"
PAGE_SQL = (
    "SELECT id, ts, level, source, host, message, attrs FROM log_records WHERE {where} "
    f"ORDER BY ts DESC, id DESC LIMIT {LIMIT + 1}"
)
COUNT_SQL = (
    f"SELECT count(*) FROM (SELECT 1 FROM log_records WHERE {{where}} "
    f"LIMIT {EXACT_COUNT_LIMIT + 1}) AS capped"
)
ESTIMATE_SQL = "EXPLAIN (FORMAT JSON) SELECT id FROM log_records WHERE {where}"
HISTOGRAM_SQL = (
    "SELECT floor((extract(epoch FROM ts) - %s) / %s) AS b, level, count(*) FROM log_records "
    "WHERE {where} GROUP BY b, level ORDER BY b"
)


def _json(body: dict) -> Response:
    """The body as the app's JSON provider writes it (compact, sorted keys, newline)."""
    text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    return Response(text + "\n", mimetype="application/json")


def baseline_views(server, dsn: str) -> None:
    """Register ``/api/v1/bench/logs/<endpoint>``: hand-written SQL per shape on one kept
    psycopg connection, the same JSON as the app's endpoints."""
    conn = psycopg.connect(dsn, autocommit=True, options="-c TimeZone=UTC")

    def condition() -> tuple[str, list]:
        _, _, where, params = SHAPES[int(request.args["shape"])]
        args = request.args
        if "from" not in args:
            return where, list(params)
        start = datetime.fromtimestamp(float(args["from"]), UTC)
        end = datetime.fromtimestamp(float(args["to"]), UTC)
        return f"{RANGE} AND {where}", [start, end, *params]

    @roles(*READERS)
    def page() -> Response:
        where, params = condition()
        rows = conn.execute(PAGE_SQL.format(where=where), params).fetchall()
        items = [
            {
                "id": i,
                "ts": ts.isoformat(),
                "level": level,
                "source": source,
                "host": host,
                "message": message,
                "attrs": json.loads(attrs),
            }
            for i, ts, level, source, host, message, attrs in rows[:LIMIT]
        ]
        cursor = None
        if len(rows) > LIMIT:
            cursor = f"{rows[LIMIT - 1][1].timestamp():.6f}:{rows[LIMIT - 1][0]}"
        return _json({"items": items, "next_cursor": cursor})

    @roles(*READERS)
    def count() -> Response:
        where, params = condition()
        (n,) = conn.execute(COUNT_SQL.format(where=where), params).fetchone()
        if n <= EXACT_COUNT_LIMIT:
            return _json({"count": n, "exact": True})
        (plan,) = conn.execute(ESTIMATE_SQL.format(where=where), params).fetchone()
        return _json(
            {"count": max(int(plan[0]["Plan"]["Plan Rows"]), EXACT_COUNT_LIMIT), "exact": False}
        )

    @roles(*READERS)
    def histogram() -> Response:
        where, params = condition()
        base, end = float(request.args["from"]), float(request.args["to"])
        step = max(1.0, math.ceil(max(end - base, 1.0) / BUCKETS))
        sql = HISTOGRAM_SQL.format(where=where)
        rows = conn.execute(sql, [base, step, *params]).fetchall()
        buckets = [{"ts": base + int(b) * step, "level": lv, "count": n} for b, lv, n in rows]
        return _json({"step": step, "buckets": buckets})

    for name, view in (("", page), ("/count", count), ("/histogram", histogram)):
        server.add_url_rule(f"/api/v1/bench/logs{name}", f"bench_logs{name}", view)


def getter(client, path: str, headers: dict[str, str]) -> Callable[[], bytes]:
    """A GET of ``path`` checked for a 200; returns the body."""

    def get() -> bytes:
        response = client.get(path, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:300]}")
        return response.data

    return get


def calls_per_round(get: Callable[[], bytes], round_seconds: float) -> int:
    """How many calls of ``get`` take about ``round_seconds`` (at least one): a round of a
    single 2 ms request is at the mercy of one scheduling hiccup on a busy machine."""
    started = time.perf_counter()
    get()
    return max(1, min(100, round(round_seconds / max(time.perf_counter() - started, 1e-6))))


def repeated(get: Callable[[], bytes], calls: int) -> Callable[[], None]:
    """``get`` called ``calls`` times in a row: one round."""

    def run() -> None:
        for _ in range(calls):
            get()

    return run


def per_call(rounds: tuple[Rounds, Rounds], calls: int) -> tuple[Rounds, Rounds]:
    """Round times as times per call."""
    return tuple(Rounds(tuple(t / calls for t in side.times)) for side in rounds)


def run(quick: bool = False) -> list[Result]:
    """Median time per request of each endpoint and shape, ours and the minimal view."""
    repeats, round_seconds = (3, 0.02) if quick else (15, 0.06)
    results = []
    with log_database(quick) as db, tempfile.TemporaryDirectory(prefix="bench_http_") as tmp:
        app = console_app(Path(tmp), db.url)
        baseline_views(app.server, psycopg_dsn(db.url))
        headers = {"Authorization": f"Bearer {add_token(db.url, 'analyst')}"}
        client = app.server.test_client()
        start, end = db.start + timedelta(days=3), db.start + timedelta(days=3, hours=6)
        window = {"from": f"{start.timestamp():.0f}", "to": f"{end.timestamp():.0f}"}
        for shape, (label, text, _, _) in enumerate(SHAPES):
            ranged = window if label == "time range only" else {}
            for endpoint, extra in (
                ("", {"limit": LIMIT, **ranged}),
                ("/count", ranged),
                ("/histogram", {"buckets": BUCKETS, **window}),
            ):
                query = {"q": text, **extra} if text else extra
                ours = getter(client, f"/api/v1/admin/logs{endpoint}?{urlencode(query)}", headers)
                path = f"/api/v1/bench/logs{endpoint}?{urlencode({'shape': shape, **extra})}"
                baseline = getter(client, path, headers)
                if ours() != baseline():
                    raise RuntimeError(f"{label} {endpoint}: the two bodies differ")
                calls = calls_per_round(baseline, round_seconds)
                rounds = paired_rounds(repeated(ours, calls), repeated(baseline, calls), repeats)
                name = f"log search HTTP{endpoint or ' page'}, {label}"
                note = (
                    f"{db.total:,} records; GET /api/v1/admin/logs{endpoint or ''} (test client, "
                    "bearer token) vs a view with the same roles on the same app running "
                    "hand-written psycopg SQL, equal JSON bytes; per request, median of "
                    f"{repeats} alternating rounds of {calls} request(s) each"
                )
                results.append(compared(name, per_call(rounds, calls), TARGET, note))
        app.server.extensions["pulseboard"].engine.dispose()
    return results
