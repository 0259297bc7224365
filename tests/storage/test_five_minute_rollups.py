"""The 5-minute rollup tier: built from the minutes, the source of the hours, read for
ranges of days."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import Engine, text

from storage.metrics import FIVE_MINUTE_STEP, HOURLY_STEP, MetricsStore, Sample, plan_query
from tests.storage.test_metrics_store import DAY, HOUR, T0, reference_points, series

FiveMinutes = tuple[str, float, int, float, float, float]


@pytest.fixture
def store(engine: Engine) -> MetricsStore:
    """A metrics store on a fresh database of each backend."""
    return MetricsStore(engine)


def stored(engine: Engine, step: int) -> list[FiveMinutes]:
    """Every rollup row of ``step``, as (host, start, count, sum, min, max)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.host, r.ts, r.count, r.sum, r.min, r.max FROM metric_rollups r "
                "JOIN metric_series s ON s.id = r.series_id WHERE r.step = :step "
                "ORDER BY s.host, r.ts"
            ),
            {"step": step},
        ).all()
    return [(h, float(ts), c, total, lo, hi) for h, ts, c, total, lo, hi in rows]


def reference(samples: list[Sample], step: int, until: float) -> list[FiveMinutes]:
    """Per host and complete ``step`` period before ``until``, computed in Python."""
    groups: dict[tuple[str, float], list[float]] = {}
    for s in samples:
        if s.ts < until:
            start = float(math.floor(s.ts / step) * step)
            groups.setdefault((s.host, start), []).append(s.value)
    return [
        (host, start, len(vs), sum(vs), min(vs), max(vs))
        for (host, start), vs in sorted(groups.items())
    ]


def assert_rows_equal(got: list[FiveMinutes], want: list[FiveMinutes]) -> None:
    assert [r[:3] for r in got] == [r[:3] for r in want]
    for g, w in zip(got, want, strict=True):
        assert g[3] == pytest.approx(w[3]) and g[4:] == w[4:]


def test_complete_five_minutes_are_rolled_up_like_the_raw_samples(store):
    samples = series(T0, T0 + 1000, 2.0, host="web-1", seed=1)
    samples += series(T0 + 30, T0 + 1000, 7.0, host="web-2", seed=2)
    store.write(samples)
    store.rollup(T0 + 960)  # the period from T0 + 900 is not complete yet

    rows = stored(store.engine, FIVE_MINUTE_STEP)
    assert {r[1] for r in rows} == {T0, T0 + 300, T0 + 600}
    assert_rows_equal(rows, reference(samples, FIVE_MINUTE_STEP, T0 + 900))


def test_a_late_backlog_is_rolled_up_into_the_five_minutes_and_the_hours(store):
    recent = series(T0 + HOUR, T0 + 2 * HOUR, 10.0, seed=1)
    store.write(recent)
    store.rollup(T0 + 2 * HOUR)

    backlog = series(T0 + 600, T0 + 1500, 4.0, seed=2) + series(T0 + HOUR, T0 + HOUR + 90, 3.0)
    store.write(backlog)
    store.rollup(T0 + 2 * HOUR)

    everything = recent + backlog
    assert_rows_equal(
        stored(store.engine, FIVE_MINUTE_STEP),
        reference(everything, FIVE_MINUTE_STEP, T0 + 2 * HOUR),
    )
    assert_rows_equal(
        stored(store.engine, HOURLY_STEP), reference(everything, HOURLY_STEP, T0 + 2 * HOUR)
    )


def test_a_month_at_a_thousand_points_reads_five_minutes_then_minutes_then_raw(store):
    end = T0 + 30 * DAY + 1234.0
    samples = series(T0, end, 300.0)
    store.write(samples)
    store.rollup(end - 7 * 60)  # the last seven minutes are not rolled up yet
    plan = plan_query(T0, end, 1000)
    assert plan.source == "rollup_5m" and plan.step % FIVE_MINUTE_STEP == 0

    [data] = store.query(["cpu"], T0, end, max_points=1000)

    assert data.source == "rollup_5m" and len(data.points) <= 1000
    expected = reference_points(samples, plan.base, plan.step, plan.base, end)
    assert [p[0] for p in data.points] == [p[0] for p in expected]
    for got, want in zip(data.points, expected, strict=True):
        assert got[1] == pytest.approx(want[1]) and got[2:] == want[2:]


def test_five_minute_rollups_have_a_retention_of_their_own(store):
    end = T0 + 10 * DAY
    store.write(series(T0, end, 900.0))
    store.rollup(end)
    before = stored(store.engine, FIVE_MINUTE_STEP)

    deleted = store.trim(
        end,
        raw_retention=DAY,
        rollup_retention=2 * DAY,
        five_minute_retention=4 * DAY,
        hourly_retention=5 * DAY,
    )

    after = stored(store.engine, FIVE_MINUTE_STEP)
    assert deleted["rollup_5m"] == len(before) - len(after) > 0
    assert after == [r for r in before if r[1] >= end - 4 * DAY]
