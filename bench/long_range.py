"""A 30-day range of one 5-second series: ours (rollup tiers) vs the hand-written SQL that
buckets the raw samples into the same buckets."""

from __future__ import annotations

from functools import partial

from bench.common import HOST, Result, compared, paired_rounds
from bench.query_range import BACKENDS, DAY, INTERVAL, METRIC, START, check_same, hand_written
from storage.metrics import plan_query

TARGET = "ratio <= 0.05 (ours >= 20x faster)"
CHART_POINTS = (300, 1000)


def run(quick: bool = False) -> list[Result]:
    """Query times on both backends at two chart widths."""
    days = 4.0 if quick else 30.0  # both read the 5-minute tier at 300 points
    repeats = 3 if quick else 15
    results = []
    for dialect, backend in BACKENDS:
        with backend(days) as (store, execute):
            end = START + days * DAY
            for points in CHART_POINTS:
                plan = plan_query(START, end, points)
                query = partial(store.query, [METRIC], START, end, host=HOST, max_points=points)
                answer = query()[0]

                def ours(query: partial = query) -> list:
                    return query()[0].points

                baseline = hand_written(execute, dialect, plan, "raw")
                check_same(ours(), baseline(), "raw samples")
                results.append(
                    compared(
                        f"query {days:g}d, {points} points on {dialect} vs SQL over raw samples",
                        paired_rounds(ours, baseline, repeats),
                        TARGET,
                        f"{int(days * DAY / INTERVAL)} samples; ours from {answer.source} "
                        f"(step {answer.step}s) vs one GROUP BY over the raw samples in the same "
                        f"buckets, checked equal; median of {repeats} alternating rounds",
                    )
                )
    return results
