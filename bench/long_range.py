"""A 30-day range of one 5-second series: ours (rollup tiers) vs the hand-written SQL that
buckets the raw samples into the same buckets."""

from __future__ import annotations

from functools import partial

from sqlalchemy import text

from bench.common import HOST, Result, paired_medians
from bench.query_range import BUCKETS, DAY, INTERVAL, METRIC, RAW_SQL, postgres, sqlite
from storage.metrics import plan_query

TARGET = "ours >= 20x faster"
CHART_POINTS = (300, 1000)


def run(quick: bool = False) -> list[Result]:
    """Median query times on both backends at two chart widths."""
    days = 3.0 if quick else 30.0
    repeats = 3 if quick else 15
    results = []
    for dialect, backend in (("postgresql", postgres), ("sqlite", sqlite)):
        with backend(days) as (store, execute):
            with store.engine.connect() as conn:
                series_id = conn.execute(
                    text("SELECT id FROM metric_series WHERE name = :n AND host = :h"),
                    {"n": METRIC, "h": HOST},
                ).scalar_one()
            start = 1_700_000_040.0
            end = start + days * DAY
            bucket, p = BUCKETS[dialect]
            raw_sql = RAW_SQL.format(bucket=bucket, p=p)
            for points in CHART_POINTS:
                plan = plan_query(start, end, points)
                ours = partial(store.query, [METRIC], start, end, host=HOST, max_points=points)
                answer = ours()[0]
                baseline = partial(
                    execute, raw_sql, (plan.base, plan.step, series_id, plan.base, end)
                )
                if len(baseline()) != len(answer.points):
                    raise RuntimeError("the raw-sample SQL returns a different number of points")
                mine, theirs = paired_medians(ours, baseline, repeats)
                results.append(
                    Result(
                        f"query {days:g}d, {points} points on {dialect} vs SQL over raw samples",
                        mine * 1000,
                        theirs * 1000,
                        "ms",
                        TARGET,
                        f"{int(days * DAY / INTERVAL)} samples; {answer.source} "
                        f"(step {answer.step}s) vs GROUP BY over the raw samples; median of "
                        f"{repeats}, alternating",
                    )
                )
    return results
