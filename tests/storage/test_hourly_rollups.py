"""The 1-hour rollup tier: built from the minutes, read for long ranges, kept a year."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import Engine, text

from storage.metrics import HOURLY_STEP, MetricsStore, plan_query
from tests.storage.test_metrics_store import DAY, HOUR, T0, reference_points, series


@pytest.fixture
def store(engine: Engine) -> MetricsStore:
    """A metrics store on a fresh database of each backend."""
    return MetricsStore(engine)


def hourly_rows(engine: Engine) -> list[tuple[float, int, float, float, float]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT ts, count, sum, min, max FROM metric_rollups "
                    "WHERE step = :h ORDER BY ts"
                ),
                {"h": HOURLY_STEP},
            )
        ]


def test_hours_are_rolled_up_from_complete_minutes_and_match_the_raw_samples(store):
    samples = series(T0, T0 + 5 * HOUR, 20.0)
    store.write(samples)
    now = T0 + 4 * HOUR + 30 * 60  # the fifth hour is not complete yet
    store.rollup(now)
    rows = hourly_rows(store.engine)
    assert [r[0] for r in rows] == [T0 + h * HOUR for h in range(4)]
    for ts, count, total, low, high in rows:
        values = [s.value for s in samples if ts <= s.ts < ts + HOUR]
        assert count == len(values)
        assert total == pytest.approx(sum(values))
        assert (low, high) == (min(values), max(values))


def test_long_ranges_are_answered_from_hours_then_minutes_then_raw_samples(store):
    end = T0 + 30 * DAY + 1234.0
    samples = series(T0, end, 600.0)
    store.write(samples)
    store.rollup(end - 90 * 60)  # the last ninety minutes are not rolled up yet
    plan = plan_query(T0, end, 300)
    assert plan.source == "rollup_1h" and plan.step % HOURLY_STEP == 0

    [data] = store.query(["cpu"], T0, end, max_points=300)
    assert data.source == "rollup_1h" and len(data.points) <= 300
    expected = reference_points(samples, plan.base, plan.step, plan.base, end)
    assert [p[0] for p in data.points] == [p[0] for p in expected]
    for got, want in zip(data.points, expected, strict=True):
        assert got[1] == pytest.approx(want[1]) and got[2:] == want[2:]


def test_a_month_at_chart_width_never_reads_raw_samples_row_by_row(store):
    end = T0 + 30 * DAY
    store.write(series(T0, end, 3600.0))
    store.rollup(end)
    [data] = store.query(["cpu"], T0, end, max_points=300)
    assert data.source == "rollup_1h"
    assert math.ceil(30 * DAY / data.step) <= 300


def test_hourly_rollups_have_a_retention_of_their_own(store):
    end = T0 + 10 * DAY
    store.write(series(T0, end, 900.0))
    store.rollup(end)
    before = len(hourly_rows(store.engine))
    deleted = store.trim(
        end,
        raw_retention=DAY,
        rollup_retention=2 * DAY,
        five_minute_retention=3 * DAY,
        hourly_retention=5 * DAY,
    )
    assert deleted["rollup_1h"] == before - len(hourly_rows(store.engine)) > 0
    assert min(r[0] for r in hourly_rows(store.engine)) >= end - 5 * DAY
