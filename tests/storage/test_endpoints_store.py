"""The endpoint histogram store: intervals in, rollups that keep every bucket, reads over
any range from the tier that covers it, slow requests kept and trimmed."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from storage.db import make_engine
from storage.diagnostics.endpoints import (
    BUCKET_COLUMNS,
    COUNT_COLUMNS,
    EndpointCounts,
    EndpointStore,
    SlowRequest,
)

HOUR = 3600.0
T0 = 1_800_000_000.0  # a whole hour


def counts(route: str, n: int, bucket: int, method: str = "GET", errors: int = 0):
    buckets = [0] * len(BUCKET_COLUMNS)
    buckets[bucket] = n
    return EndpointCounts(route, method, n, 0, errors, n * 0.01, tuple(buckets))


@pytest.fixture
def store(database_url):
    engine = make_engine(database_url)
    yield EndpointStore(engine)
    engine.dispose()


def sums_by_step(store: EndpointStore) -> dict[int, tuple]:
    columns = ", ".join(f"SUM({c})" for c in COUNT_COLUMNS)
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT step, {columns} FROM endpoint_histograms GROUP BY step")
        ).all()
    return {row[0]: tuple(round(v, 6) for v in row[1:]) for row in rows}


def test_rollups_into_minutes_and_hours_keep_every_bucket(store):
    # Two hours of 2-minute intervals for two routes, the latency spread over buckets.
    for i in range(2 * 30):
        ts = T0 + i * 120 + 1
        store.write(
            "h",
            ts,
            [counts("/a", 1 + i % 3, i % 21, errors=i % 2), counts("/b", 2, (i * 7) % 21, "POST")],
        )
    store.rollup(T0 + 2 * HOUR + 30)
    sums = sums_by_step(store)
    assert sums[60] == sums[0]
    assert sums[3600] == sums[0]
    with store.engine.connect() as conn:
        tiers = dict(
            conn.execute(text("SELECT step, COUNT(*) FROM endpoint_histograms GROUP BY step")).all()
        )
    assert tiers == {0: 2 * 60, 60: 2 * 60, 3600: 2 * 2}
    # Running it again changes nothing (the newest period of each tier is summed again).
    store.rollup(T0 + 2 * HOUR + 90)
    assert sums_by_step(store) == sums


def test_reads_take_the_coarsest_tier_and_the_finer_ones_after_it(store):
    for i in range(90):  # 90 minutes, one interval a minute
        store.write("h", T0 + i * 60 + 1, [counts("/a", 1, 5)])
    store.rollup(T0 + HOUR + 60)  # the first hour and 61 minutes are rolled up
    with store.engine.begin() as conn:  # only the tiers may answer for rolled-up time now
        conn.execute(
            text("DELETE FROM endpoint_histograms WHERE step = 0 AND ts < :t"),
            {"t": T0 + HOUR + 60},
        )
    for tier in (3600, 60):
        ((_, total),) = store.read(T0, T0 + 90 * 60, tier=tier)
        assert total.requests == 90
        assert total.buckets[5] == 90
    per_period = store.read(T0, T0 + 90 * 60, tier=60, step=600, route="/a", method="GET")
    assert [t for t, _ in per_period] == [T0 + k * 600 for k in range(9)]
    assert [c.requests for _, c in per_period] == [10] * 9
    assert store.read(T0, T0 + 90 * 60, tier=60, route="/b") == []


def test_hosts_merge_and_routes_stay_apart(store):
    store.write("h1", T0 + 1, [counts("/a", 3, 0), counts("/a", 4, 1, "POST")])
    store.write("h2", T0 + 1, [counts("/a", 5, 2)])
    totals = {(c.route, c.method): c.requests for _, c in store.read(T0, T0 + 60)}
    assert totals == {("/a", "GET"): 8, ("/a", "POST"): 4}


def test_slow_requests_are_read_slowest_first_and_trimmed(store):
    slow = [
        SlowRequest(T0 + n, "/a", "GET", f"/a/{n}", 200, float(n), f"trace-{n}")
        for n in range(1, 6)
    ]
    store.write("h", T0 + 10, [], slow)
    rows = store.slowest(T0, T0 + 60, limit=3)
    assert [r["trace_id"] for r in rows] == ["trace-5", "trace-4", "trace-3"]
    assert rows[0]["path"] == "/a/5" and rows[0]["host"] == "h"
    assert store.slowest(T0, T0 + 60, route="/b") == []
    deleted = store.trim(
        T0 + 100, raw_retention=97, rollup_retention=HOUR, hourly_retention=HOUR, slow_keep=2
    )
    assert deleted["slow_requests"] == 3  # two older than 97 s, one over the count
    assert [r["trace_id"] for r in store.slowest(T0, T0 + 60)] == ["trace-5", "trace-4"]


def test_trim_drops_each_tier_past_its_retention(store):
    for i in range(3):
        store.write("h", T0 + i * HOUR + 1, [counts("/a", 1, 0)])
    store.rollup(T0 + 3 * HOUR)
    deleted = store.trim(
        T0 + 3 * HOUR, raw_retention=HOUR, rollup_retention=2 * HOUR, hourly_retention=3 * HOUR
    )
    assert deleted == {"step_0": 2, "step_60": 1, "step_3600": 0, "slow_requests": 0}
