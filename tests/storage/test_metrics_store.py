"""The metrics store on SQLite and PostgreSQL: writes, catalogue, rollups, retention, queries."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from storage.metrics import (
    ROLLUP_STEP,
    MetricsStore,
    Sample,
    SeriesData,
    labels_key,
    plan_query,
)

T0 = 1_699_999_200.0
"""An hour-aligned epoch second that all test data starts from."""

HOUR = 3600.0
DAY = 86400.0

Point = tuple[float, float, float, float]
Rollup = tuple[str, float, int, float, float, float]


@pytest.fixture
def store(engine: Engine) -> MetricsStore:
    """A metrics store on a fresh database of each backend."""
    return MetricsStore(engine)


def series(
    start: float,
    end: float,
    every: float,
    *,
    host: str = "web-1",
    name: str = "cpu",
    seed: int = 7,
    labels: dict[str, str] | None = None,
) -> list[Sample]:
    """Samples from ``start`` (inclusive) to ``end`` (exclusive) with jittered spacing."""
    rng = random.Random(seed)
    samples = []
    ts = start
    while ts < end:
        samples.append(Sample(ts, host, name, round(rng.uniform(0, 100), 3), labels or {}))
        ts += every * rng.uniform(0.5, 1.5)
    return samples


def reference_points(
    samples: Iterable[Sample], base: float, step: int, start: float, end: float
) -> list[Point]:
    """Bucket ``samples`` in plain Python: ``(bucket start, avg, min, max)`` per bucket."""
    groups: dict[int, list[float]] = {}
    for s in samples:
        if start <= s.ts < end:
            groups.setdefault(math.floor((s.ts - base) / step), []).append(s.value)
    return [
        (base + b * step, sum(vs) / len(vs), min(vs), max(vs)) for b, vs in sorted(groups.items())
    ]


def reference_rollups(samples: Iterable[Sample], until: float) -> list[Rollup]:
    """Per host and complete minute before ``until``: (host, minute, count, sum, min, max)."""
    groups: dict[tuple[str, float], list[float]] = {}
    for s in samples:
        if s.ts < until:
            minute = math.floor(s.ts / ROLLUP_STEP) * ROLLUP_STEP
            groups.setdefault((s.host, float(minute)), []).append(s.value)
    return [
        (host, minute, len(vs), sum(vs), min(vs), max(vs))
        for (host, minute), vs in sorted(groups.items())
    ]


def stored_rollups(engine: Engine) -> list[Rollup]:
    """Every 1-minute rollup row, as (host, minute, count, sum, min, max)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.host, r.ts, r.count, r.sum, r.min, r.max FROM metric_rollups r "
                "JOIN metric_series s ON s.id = r.series_id WHERE r.step = :step "
                "ORDER BY s.host, r.ts"
            ),
            {"step": ROLLUP_STEP},
        ).all()
    return [(h, float(ts), c, total, lo, hi) for h, ts, c, total, lo, hi in rows]


def assert_rollups_equal(actual: list[Rollup], expected: list[Rollup]) -> None:
    """Same minutes with the same count, min and max; sums equal up to rounding."""
    assert [(h, m, c, lo, hi) for h, m, c, _, lo, hi in actual] == [
        (h, m, c, lo, hi) for h, m, c, _, lo, hi in expected
    ]
    assert [r[3] for r in actual] == pytest.approx([r[3] for r in expected], rel=1e-12)


def assert_points_equal(actual: list[Point], expected: list[Point]) -> None:
    """Same bucket starts, minimums and maximums; averages equal up to rounding."""
    assert [(ts, lo, hi) for ts, _, lo, hi in actual] == [
        (pytest.approx(ts), lo, hi) for ts, _, lo, hi in expected
    ]
    assert [p[1] for p in actual] == pytest.approx([p[1] for p in expected], rel=1e-12)


def only(result: list[SeriesData], host: str) -> SeriesData:
    """The one series of ``host`` in a query result."""
    matching = [s for s in result if s.host == host]
    assert len(matching) == 1, result
    return matching[0]


# -- writing, latest values and the catalogue ----------------------------------------------


def test_write_returns_the_number_of_samples_and_latest_holds_the_newest(store: MetricsStore):
    written = store.write(
        [
            Sample(T0, "web-1", "cpu", 10.0),
            Sample(T0 + 20, "web-1", "cpu", 30.0),
            Sample(T0 + 10, "web-1", "cpu", 20.0),
            Sample(T0 + 5, "web-2", "cpu", 50.0),
        ]
    )

    assert written == 4
    assert store.write([]) == 0
    latest = {(v.host, v.name): (v.ts, v.value) for v in store.latest()}
    assert latest == {("web-1", "cpu"): (T0 + 20, 30.0), ("web-2", "cpu"): (T0 + 5, 50.0)}


def test_a_late_sample_does_not_replace_a_newer_latest_value(store: MetricsStore):
    store.write([Sample(T0 + 60, "web-1", "cpu", 60.0)])
    store.write([Sample(T0, "web-1", "cpu", 1.0)])

    [latest] = store.latest()
    assert (latest.ts, latest.value) == (T0 + 60, 60.0)

    store.write([Sample(T0 + 60, "web-1", "cpu", 61.0)])  # same time: the newer write wins
    [latest] = store.latest()
    assert (latest.ts, latest.value) == (T0 + 60, 61.0)


def test_latest_can_be_limited_to_names_and_a_host(store: MetricsStore):
    store.write(
        [
            Sample(T0, "web-1", "cpu", 1.0),
            Sample(T0, "web-1", "mem", 2.0),
            Sample(T0, "web-2", "cpu", 3.0),
            Sample(T0, "web-2", "disk", 4.0),
        ]
    )

    def keys(values) -> set[tuple[str, str]]:
        return {(v.host, v.name) for v in values}

    assert keys(store.latest(["cpu"])) == {("web-1", "cpu"), ("web-2", "cpu")}
    assert keys(store.latest(host="web-2")) == {("web-2", "cpu"), ("web-2", "disk")}
    assert keys(store.latest(["cpu", "mem"], host="web-1")) == {("web-1", "cpu"), ("web-1", "mem")}
    assert store.latest(["nothing"]) == []


def test_catalogue_lists_each_name_and_host_once_in_order(store: MetricsStore):
    assert store.names() == []
    assert store.hosts() == []
    store.write(
        [
            Sample(T0, "web-2", "mem", 1.0),
            Sample(T0, "web-1", "cpu", 1.0, {"core": "0"}),
            Sample(T0, "web-1", "cpu", 1.0, {"core": "1"}),
            Sample(T0 + 1, "web-2", "cpu", 1.0),
        ]
    )
    store.write([Sample(T0 + 2, "db-1", "cpu", 1.0)])

    assert store.names() == ["cpu", "mem"]
    assert store.hosts() == ["db-1", "web-1", "web-2"]


def test_equal_label_sets_in_any_order_are_one_series(store: MetricsStore):
    canonical = '{"a":"1","b":"2"}'
    assert labels_key({"b": "2", "a": "1"}) == labels_key({"a": "1", "b": "2"}) == canonical
    assert labels_key({}) == "{}"
    store.write(
        [
            Sample(T0, "web-1", "disk", 1.0, {"mount": "/", "dev": "sda"}),
            Sample(T0 + 1, "web-1", "disk", 2.0, {"dev": "sda", "mount": "/"}),
            Sample(T0 + 2, "web-1", "disk", 3.0, {"dev": "sdb", "mount": "/data"}),
            Sample(T0 + 3, "web-1", "disk", 4.0),
        ]
    )

    latest = {labels_key(v.labels): v.value for v in store.latest(["disk"])}
    assert latest == {
        '{"dev":"sda","mount":"/"}': 2.0,
        '{"dev":"sdb","mount":"/data"}': 3.0,
        "{}": 4.0,
    }
    result = store.query(["disk"], T0, T0 + 10, max_points=1)
    assert sorted(len(s.points) for s in result) == [1, 1, 1]
    by_labels = {labels_key(s.labels): s.points[0][1] for s in result}
    assert by_labels['{"dev":"sda","mount":"/"}'] == pytest.approx(1.5)


def test_a_second_store_on_the_same_database_reuses_existing_series(engine: Engine):
    MetricsStore(engine).write([Sample(T0, "web-1", "cpu", 1.0, {"core": "0"})])
    MetricsStore(engine).write([Sample(T0 + 1, "web-1", "cpu", 2.0, {"core": "0"})])

    [latest] = MetricsStore(engine).latest()
    assert latest.value == 2.0
    [data] = MetricsStore(engine).query(["cpu"], T0, T0 + 10, max_points=1)
    assert data.points == [(T0, 1.5, 1.0, 2.0)]


@pytest.fixture
def refusing_store(engine: Engine) -> Iterator[MetricsStore]:
    """A store whose database itself refuses any sample below zero, as a full disk would."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_negative() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$BEGIN RAISE EXCEPTION 'sample refused'; END$$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_negative BEFORE INSERT ON metric_samples FOR EACH ROW "
                    "WHEN (NEW.value < 0) EXECUTE FUNCTION refuse_negative()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_negative BEFORE INSERT ON metric_samples "
                    "WHEN NEW.value < 0 BEGIN SELECT RAISE(ABORT, 'sample refused'); END"
                )
            )
    yield MetricsStore(engine)
    if engine.dialect.name == "postgresql":  # the session database outlives this test
        with engine.begin() as conn:
            conn.execute(text("DROP FUNCTION refuse_negative() CASCADE"))


def test_a_rolled_back_write_of_new_series_does_not_break_later_writes(
    refusing_store: MetricsStore,
):
    with pytest.raises((DBAPIError, psycopg.Error), match="sample refused"):
        refusing_store.write([Sample(T0, "web-1", "cpu", -1.0), Sample(T0, "web-1", "load", 1.0)])

    assert refusing_store.write([Sample(T0 + 1, "web-1", "cpu", 2.0)]) == 1
    assert refusing_store.write([Sample(T0 + 2, "web-1", "load", 3.0)]) == 1
    latest = [(v.name, v.value) for v in refusing_store.latest()]
    assert latest == [("cpu", 2.0), ("load", 3.0)]


# -- planning ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("span", "max_points"),
    [(1, 1000), (59, 60), (600, 1000), (3599, 60), (HOUR, 60), (7 * DAY, 1000), (DAY, 7), (DAY, 1)],
)
def test_query_plans_never_exceed_max_points(span: float, max_points: int):
    start = T0 + 17.25
    plan = plan_query(start, start + span, max_points)

    assert math.ceil((plan.end - plan.base) / plan.step) <= max_points
    assert plan.base <= plan.start == start
    if plan.source != "raw":
        assert plan.step % plan.tier == 0 and plan.step >= 2 * plan.tier
        assert plan.base % plan.tier == 0


def test_short_ranges_read_raw_samples_and_long_ranges_read_rollups():
    assert plan_query(T0, T0 + 600, 1000).source == "raw"
    assert plan_query(T0, T0 + HOUR, 1000).source == "raw"
    week = plan_query(T0, T0 + 7 * DAY, 1000)
    assert (week.source, week.step) == ("rollup_5m", 900)
    assert plan_query(T0, T0 + 3 * DAY, 1000).source == "rollup"
    assert plan_query(T0, T0 + 6 * HOUR, 100).source == "rollup"


# -- range queries -------------------------------------------------------------------------


def test_short_range_buckets_match_a_python_computation_over_raw_samples(store: MetricsStore):
    web1 = series(T0, T0 + 600, 1.5, host="web-1", seed=1)
    web2 = series(T0, T0 + 600, 2.0, host="web-2", seed=2)
    store.write(web1 + web2)
    start, end, max_points = T0 + 7.3, T0 + 580.9, 40

    result = store.query(["cpu"], start, end, max_points=max_points)

    plan = plan_query(start, end, max_points)
    assert plan.source == "raw"
    for host, samples in (("web-1", web1), ("web-2", web2)):
        data = only(result, host)
        assert (data.source, data.step) == ("raw", plan.step)
        assert 0 < len(data.points) <= max_points
        assert_points_equal(data.points, reference_points(samples, start, plan.step, start, end))


def test_query_can_be_limited_to_one_host_and_ignores_unknown_names(store: MetricsStore):
    store.write(series(T0, T0 + 60, 1, host="web-1") + series(T0, T0 + 60, 1, host="web-2"))

    assert [s.host for s in store.query(["cpu"], T0, T0 + 60, host="web-2")] == ["web-2"]
    assert store.query(["unknown"], T0, T0 + 60) == []


def test_long_range_buckets_match_a_python_computation_over_rolled_up_minutes(
    store: MetricsStore,
):
    samples = series(T0, T0 + 6 * HOUR, 7.0)
    store.write(samples)
    store.rollup(T0 + 6 * HOUR + 60)
    start, end, max_points = T0, T0 + 6 * HOUR, 100

    [data] = store.query(["cpu"], start, end, max_points=max_points)

    plan = plan_query(start, end, max_points)
    assert (data.source, data.step) == ("rollup", plan.step) == ("rollup", 240)
    assert len(data.points) == 90
    assert_points_equal(data.points, reference_points(samples, start, plan.step, start, end))


def test_query_merges_rolled_up_minutes_with_raw_samples_not_yet_rolled_up(store: MetricsStore):
    samples = series(T0, T0 + 3 * HOUR, 5.0)
    store.write(samples)
    # Minutes before T0 + 2h + 60 s are rolled up; the 3-minute bucket at 2h mixes both tiers.
    store.rollup(T0 + 2 * HOUR + 90)
    assert stored_rollups(store.engine)[-1][1] == T0 + 2 * HOUR
    start, end, max_points = T0, T0 + 3 * HOUR, 60

    [data] = store.query(["cpu"], start, end, max_points=max_points)

    assert (data.source, data.step) == ("rollup", 180)
    assert len(data.points) == 60
    assert_points_equal(data.points, reference_points(samples, start, 180, start, end))


def test_a_long_range_without_any_rollups_is_answered_from_raw_samples(store: MetricsStore):
    samples = series(T0, T0 + 2 * HOUR, 10.0)
    store.write(samples)

    [data] = store.query(["cpu"], T0, T0 + 2 * HOUR, max_points=30)

    assert (data.source, data.step) == ("rollup", 240)
    assert_points_equal(data.points, reference_points(samples, T0, 240, T0, T0 + 2 * HOUR))


def test_a_seven_day_query_returns_between_two_thirds_of_and_a_thousand_points_per_series(
    store: MetricsStore,
):
    now = T0 + 7 * DAY
    samples = series(T0, now, 60.0, host="web-1", seed=1)
    samples += series(T0, now, 60.0, host="web-2", seed=2)
    store.write(samples)
    store.rollup(now)

    result = store.query(["cpu"], T0, now)

    assert sorted(s.host for s in result) == ["web-1", "web-2"]
    for data in result:
        # Buckets are whole 5-minute rows, each spanning at least two: rounding the width
        # up to a whole row costs at most a third of the points.
        assert data.source == "rollup_5m"
        assert 1000 * 2 / 3 <= len(data.points) <= 1000
        own = [s for s in samples if s.host == data.host]
        assert_points_equal(data.points, reference_points(own, T0, data.step, T0, now))


# -- rollups -------------------------------------------------------------------------------


def test_rollup_aggregates_each_complete_minute_like_the_raw_samples(store: MetricsStore):
    samples = series(T0, T0 + 330, 2.0, host="web-1", seed=1)
    samples += series(T0 + 30, T0 + 330, 3.0, host="web-2", seed=2)
    store.write(samples)
    now = T0 + 330  # the minute starting at T0 + 300 is not complete yet

    written = store.rollup(now)

    expected = reference_rollups(samples, until=T0 + 300)
    assert len(expected) == 10
    assert written == len(expected) + 2  # and the first five minutes of each host
    assert_rollups_equal(stored_rollups(store.engine), expected)


def test_rolling_up_twice_does_not_count_samples_twice(store: MetricsStore):
    samples = series(T0, T0 + 600, 4.0)
    store.write(samples)
    store.rollup(T0 + 600)
    first = stored_rollups(store.engine)

    store.rollup(T0 + 600)
    store.rollup(T0 + 630)

    assert stored_rollups(store.engine) == first
    assert_rollups_equal(first, reference_rollups(samples, until=T0 + 600))


def test_rollup_with_nothing_written_writes_nothing(store: MetricsStore):
    assert store.rollup(T0) == 0
    assert stored_rollups(store.engine) == []


def test_a_late_backlog_is_rolled_up_after_newer_minutes_were(store: MetricsStore):
    recent = series(T0 + 600, T0 + 1200, 3.0, seed=1)
    store.write(recent)
    store.rollup(T0 + 1200)
    assert stored_rollups(store.engine)[0][1] == T0 + 600

    # A backlog from an outage: older minutes, and more samples in a minute already rolled up.
    backlog = series(T0 + 120, T0 + 300, 3.0, seed=2) + series(T0 + 900, T0 + 960, 5.0, seed=3)
    store.write(backlog)
    store.rollup(T0 + 1200)

    assert_rollups_equal(
        stored_rollups(store.engine), reference_rollups(recent + backlog, until=T0 + 1200)
    )
    [latest] = store.latest()
    assert latest.ts == recent[-1].ts


def test_long_range_queries_read_rollups_once_raw_samples_are_trimmed(store: MetricsStore):
    now = T0 + 2 * DAY
    samples = series(T0, now, 30.0)
    store.write(samples)
    store.rollup(now)
    store.trim(
        now,
        raw_retention=HOUR,
        rollup_retention=30 * DAY,
        five_minute_retention=90 * DAY,
        hourly_retention=365 * DAY,
    )

    [data] = store.query(["cpu"], T0, now, max_points=200)

    assert data.source == "rollup_5m"
    assert_points_equal(data.points, reference_points(samples, T0, data.step, T0, now))


# -- retention -----------------------------------------------------------------------------


def test_trim_deletes_only_raw_samples_and_rollups_older_than_their_retention(
    store: MetricsStore,
):
    now = T0 + 3 * DAY
    samples = series(T0, now, 600.0, host="web-1", seed=1)
    samples += series(T0, now, 450.0, host="web-2", seed=2)
    store.write(samples)
    store.rollup(now)
    rollups_before = stored_rollups(store.engine)
    raw_cut, rollup_cut = now - 6 * HOUR, now - 2 * DAY

    deleted = store.trim(
        now,
        raw_retention=6 * HOUR,
        rollup_retention=2 * DAY,
        five_minute_retention=90 * DAY,
        hourly_retention=365 * DAY,
    )

    kept_rollups = [r for r in rollups_before if r[1] >= rollup_cut]
    assert deleted == {
        "raw": sum(s.ts < raw_cut for s in samples),
        "rollup": len(rollups_before) - len(kept_rollups),
        "rollup_5m": 0,  # none is 90 days old
        "rollup_1h": 0,  # none is a year old
    }
    assert deleted["raw"] > 0 and deleted["rollup"] > 0
    assert stored_rollups(store.engine) == kept_rollups
    with store.engine.connect() as conn:
        raw = sorted(conn.execute(text("SELECT ts FROM metric_samples")).scalars())
    assert raw == sorted(s.ts for s in samples if s.ts >= raw_cut)
    assert store.trim(
        now,
        raw_retention=6 * HOUR,
        rollup_retention=2 * DAY,
        five_minute_retention=90 * DAY,
        hourly_retention=365 * DAY,
    ) == {
        "raw": 0,
        "rollup": 0,
        "rollup_5m": 0,
        "rollup_1h": 0,
    }
