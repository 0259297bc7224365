"""The statement ranking over 7 days of 500 statements, store on PostgreSQL:
``StatementStore.rank`` vs one hand-written SQL query over the same tables (the hourly
rollup for whole hours, the collected rows for the edges), alternating, median of rounds."""

from __future__ import annotations

import math
import random
import time

import psycopg

from bench.common import Result, compared, paired_rounds, pg_database, psycopg_dsn
from storage.db import make_engine
from storage.diagnostics.statements import HOURLY_STEP, StatementDelta, StatementStore

TARGET = "bench-db:5432/app"
DAY = 86400
RAW_RETENTION = 2 * DAY
"""As the default raw retention: the collected rows of the last two days stay."""
BASELINE = """
WITH x AS (
  SELECT queryid, calls, total_time_ms FROM statement_samples
   WHERE target = %(target)s AND step = 0 AND ts >= %(start)s AND ts < %(h0)s
  UNION ALL
  SELECT queryid, calls, total_time_ms FROM statement_samples
   WHERE target = %(target)s AND step = 3600 AND ts >= %(h0)s AND ts < %(h1)s
  UNION ALL
  SELECT queryid, calls, total_time_ms FROM statement_samples
   WHERE target = %(target)s AND step = 0 AND ts >= %(h1)s AND ts < %(end)s
), s AS (
  SELECT queryid, SUM(calls) AS calls, SUM(total_time_ms) AS total,
         SUM(total_time_ms) / SUM(SUM(total_time_ms)) OVER () AS share
    FROM x GROUP BY queryid ORDER BY total DESC LIMIT 10
)
SELECT s.queryid, t.query, s.calls, s.total, s.total / s.calls, s.share
  FROM s JOIN statement_texts t ON t.target = %(target)s AND t.queryid = s.queryid
 ORDER BY s.total DESC
"""


def load(
    store: StatementStore,
    statements: int,
    days: int,
    every: int,
    now: float,
    target: str = TARGET,
) -> int:
    """``days`` of intervals of ``every`` seconds of ``target``, each with the ~quarter of
    the statements that ran in it (a few heavy ones often), rolled up and trimmed as the
    leader does; return the collected rows written."""
    rng = random.Random(11)
    weight = [rng.paretovariate(1.2) for _ in range(statements)]
    rows = 0
    ts = now - days * DAY - HOURLY_STEP
    while ts <= now:
        active = rng.sample(range(statements), max(1, statements // 4))
        deltas = [
            StatementDelta(
                str(1_000_000 + q),
                calls := 1 + int(weight[q] * rng.uniform(1, 20)),
                calls * weight[q] * rng.uniform(0.5, 1.5),
                calls,
                calls * 10,
                int(weight[q] * rng.uniform(0, 50)),
                f"SELECT * FROM table_{q} WHERE id = $1",
            )
            for q in active
        ]
        store.write(target, "app", ts, every, deltas)
        rows += len(deltas)
        ts += every
    store.rollup(now)
    store.trim(now, raw_retention=RAW_RETENTION, rollup_retention=30 * DAY)
    return rows


def run(quick: bool = False) -> list[Result]:
    """Median time of one 7-day ranking, ours and hand-written alternating."""
    statements, days, every, repeats = (40, 2, 1800, 3) if quick else (500, 7, 300, 15)
    now = math.floor(time.time() / 60) * 60 + 17.5  # partial hours at both ends
    start = now - days * DAY
    with pg_database() as url:
        engine = make_engine(url)
        store = StatementStore(engine)
        written = load(store, statements, days, every, now)
        with psycopg.connect(psycopg_dsn(url), autocommit=True) as raw:
            raw.execute("VACUUM ANALYZE statement_samples")
            raw.execute("VACUUM ANALYZE statement_texts")
            params = {
                "target": TARGET,
                "start": start,
                "end": now,
                "h0": math.ceil(start / HOURLY_STEP) * HOURLY_STEP,
                "h1": math.floor(now / HOURLY_STEP) * HOURLY_STEP,
            }

            def ours():
                return store.rank(start, now, [TARGET], "total_time", 10)

            def baseline():
                return raw.execute(BASELINE, params).fetchall()

            mine, theirs = ours(), baseline()
            if [r.queryid for r in mine] != [r[0] for r in theirs] or not all(
                math.isclose(a.total_time_ms, b[3], rel_tol=1e-9)
                for a, b in zip(mine, theirs, strict=True)
            ):
                raise RuntimeError(f"ours {mine[:2]} != hand-written {theirs[:2]}")
            rounds = paired_rounds(ours, baseline, repeats)
        engine.dispose()
    note = (
        f"diagnostics_statements: top 10 by total time over {days} days of {statements} "
        f"statements ({written:,} collected rows every {every} s, the last 2 days kept, "
        "the rest in the hourly rollup); baseline: one hand-written query over the same "
        f"tables (PostgreSQL), median of {repeats} alternating rounds"
    )
    return [compared(f"statement ranking {days} d (pg)", rounds, "<= 1.5x", note)]
