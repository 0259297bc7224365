"""The statement store on both backends: rankings over a range, the hourly rollup giving
the same answer, one statement's history and retention."""

from __future__ import annotations

import pytest

from storage.diagnostics.statements import HOURLY_STEP, StatementDelta, StatementStore

A, B = "db:5432/a", "db:5432/b"
T0 = 1_700_000_000 // HOURLY_STEP * HOURLY_STEP


def delta(queryid: str, calls: int, total: float, rows: int = 0, read: int = 0):
    return StatementDelta(queryid, calls, total, rows, 0, read, f"SELECT {queryid}", "app")


@pytest.fixture
def store(engine) -> StatementStore:
    return StatementStore(engine)


def fill(store: StatementStore, hours: int = 3, every: int = 600) -> None:
    """Statement 1 slow and rare, 2 fast and frequent, 3 reads many blocks; b only on B."""
    ts = T0 + every
    while ts <= T0 + hours * HOURLY_STEP:
        store.write(
            A,
            "a",
            ts,
            every,
            [
                delta("1", 1, 500.0, rows=1),
                delta("2", 100, 50.0, rows=100),
                delta("3", 2, 20.0, read=900),
            ],
        )
        store.write(B, "b", ts, every, [delta("9", 5, 5000.0)])
        ts += every


def test_rankings_order_by_each_measure_with_shares_of_the_total(store):
    fill(store)
    end = T0 + 3 * HOURLY_STEP + 1
    by = {
        order: [r.queryid for r in store.rank(T0, end, [A], order, 10)]
        for order in ("total_time", "mean_time", "calls", "rows", "io")
    }
    assert by["total_time"][0] == "1"
    assert by["mean_time"][0] == "1"
    assert by["calls"][0] == "2" and by["rows"][0] == "2"
    assert by["io"][0] == "3"
    ranked = store.rank(T0, end, [A], "total_time", 10)
    assert sum(r.share_of_total for r in ranked) == pytest.approx(1.0)
    top = ranked[0]
    assert (top.calls, top.total_time_ms, top.mean_time_ms) == (18, 9000.0, 500.0)
    assert top.query == "SELECT 1"
    assert [r.queryid for r in store.rank(T0, end, [A], "total_time", 1)] == ["1"]
    assert {r.target for r in store.rank(T0, end, [A, B], "total_time", 10)} == {A, B}
    assert store.rank(T0, end, [], "total_time", 10) == []


def test_a_range_holds_the_intervals_that_end_inside_it(store):
    fill(store, hours=1)
    assert store.rank(T0 + 600, T0 + 1200, [A], "calls", 10)[0].calls == 100
    assert store.rank(T0 + 601, T0 + 1200, [A], "calls", 10) == []
    assert store.rank(T0 + 5 * HOURLY_STEP, T0 + 6 * HOURLY_STEP, [A], "calls", 10) == []


def test_the_hourly_rollup_answers_as_the_collected_rows_do(store):
    fill(store, hours=5)
    ranges = [(T0 + 900, T0 + 4 * HOURLY_STEP + 1300), (T0, T0 + 5 * HOURLY_STEP + 1)]
    before = [store.rank(s, e, [A, B], "total_time", 10) for s, e in ranges]
    history = store.history(A, "1", T0, T0 + 5 * HOURLY_STEP + 1, HOURLY_STEP)
    assert store.rollup(T0 + 5 * HOURLY_STEP + 30) > 0
    assert store.rollup(T0 + 5 * HOURLY_STEP + 60) > 0  # the newest hour again, no double count
    assert [store.rank(s, e, [A, B], "total_time", 10) for s, e in ranges] == before
    assert store.history(A, "1", T0, T0 + 5 * HOURLY_STEP + 1, HOURLY_STEP) == history
    # With the collected rows gone the hours are still there.
    store.trim(T0 + 5 * HOURLY_STEP, raw_retention=60, rollup_retention=86400)
    hours = store.rank(T0, T0 + 5 * HOURLY_STEP, [A], "total_time", 10)
    assert hours[0].queryid == "1" and hours[0].calls == 5 * 6 - 1


def test_history_buckets_calls_and_mean_time(store):
    fill(store, hours=2)
    points = store.history(A, "2", T0, T0 + 2 * HOURLY_STEP + 1, 1800)
    assert [p["calls"] for p in points] == [200, 300, 300, 300, 100]
    assert all(p["mean_time_ms"] == pytest.approx(0.5) for p in points)
    assert store.history(A, "404", T0, T0 + HOURLY_STEP, 60) == []


def test_texts_are_kept_per_database_and_trimmed_with_their_rows(store):
    fill(store, hours=1)
    (info,) = store.statement(A, "1")
    assert (info.database, info.username, info.query) == ("a", "app", "SELECT 1")
    assert info.first_seen == T0 + 600 and info.last_seen == T0 + HOURLY_STEP
    assert [i.target for i in store.statement(None, "9")] == [B]
    assert store.targets() == [A, B]
    deleted = store.trim(T0 + 10 * 86400, raw_retention=3600, rollup_retention=86400)
    assert deleted == 6 * 4
    assert store.statement(None, "1") == []
