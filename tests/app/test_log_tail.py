"""The tail hub: every tail gets each new matching record once and in order, even with
concurrent writers; a client that does not read loses only its oldest, and says so."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app.log_tail import TailClient, TailHub
from storage.db import make_engine
from storage.logquery import parse
from storage.logs import RESERVE_IDS, LogEntry, LogStore
from tests.conftest import truncate_tables


def entries(prefix: str, n: int, level: str = "info") -> list[LogEntry]:
    return [LogEntry(datetime.now(UTC), level, "t", "h", f"{prefix}-{i}") for i in range(n)]


def drain(client: TailClient, want: int, seconds: float = 15) -> tuple[list[dict], int]:
    """Take from ``client`` until ``want`` records arrived (or time is up)."""
    got, dropped, deadline = [], 0, time.monotonic() + seconds
    while len(got) < want and time.monotonic() < deadline:
        items, lost = client.take(0.2)
        got += [json.loads(text) for _, text in items]
        dropped += lost
    return got, dropped


@pytest.fixture
def hub(engine, bus):
    store = LogStore(engine, on_commit=lambda n: bus.publish("logs", {"count": n}))
    hub = TailHub(store, bus)
    yield store, hub
    hub.close()


def test_each_tail_gets_what_it_matches_once_and_in_order(hub):
    store, hub = hub
    store.write(entries("old", 3))
    everything, start = hub.join(parse(""))
    errors, _ = hub.join(parse("level>=error"))
    store.write(entries("a", 5))
    store.write(entries("boom", 2, level="error"))
    store.write(entries("b", 5))
    got, dropped = drain(everything, 12)
    assert [r["message"] for r in got] == [
        *[f"a-{i}" for i in range(5)],
        "boom-0",
        "boom-1",
        *[f"b-{i}" for i in range(5)],
    ]
    assert all(r["id"] > start for r in got) and dropped == 0
    assert [r["id"] for r in got] == sorted({r["id"] for r in got})
    assert [r["message"] for r in drain(errors, 2)[0]] == ["boom-0", "boom-1"]


def test_concurrent_writers_never_make_a_tail_skip(hub):
    store, hub = hub
    client, start = hub.join(parse(""))

    def writer(name: str) -> None:
        for batch in range(15):
            store.write(entries(f"{name}-{batch}", 40))

    threads = [threading.Thread(target=writer, args=(f"w{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got, dropped = drain(client, 4 * 15 * 40)
    ids = [r["id"] for r in got]
    assert dropped == 0 and len(ids) == 2400 and ids == sorted(set(ids))
    with store.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT id FROM log_records WHERE id > :s ORDER BY id"), {"s": start}
        )
        assert ids == [row.id for row in stored]


def test_a_tail_that_does_not_read_loses_its_oldest_and_is_told_how_many(hub):
    store, hub = hub
    slow, _ = hub.join(parse(""))
    slow._max_lag = 50  # a small bound keeps the test quick
    fast, _ = hub.join(parse(""))
    store.write(entries("x", 120))
    got_fast, _ = drain(fast, 120)
    assert len(got_fast) == 120
    time.sleep(0.3)
    items, dropped = slow.take(0.1)
    assert dropped == 70
    assert [json.loads(t)["message"] for _, t in items] == [f"x-{i}" for i in range(70, 120)]


def test_a_tail_that_leaves_gets_nothing_more(hub):
    store, hub = hub
    client, _ = hub.join(parse(""))
    hub.leave(client)
    store.write(entries("after", 3))
    time.sleep(1)
    assert client.take(0.1) == ([], 0)


@pytest.fixture
def pg_engine(pg_url: str):
    """An engine on the test PostgreSQL database, emptied first."""
    truncate_tables(pg_url)
    eng = make_engine(pg_url)
    yield eng
    eng.dispose()


def _waiting_for_an_earlier_write(engine, seconds: float = 10) -> bool:
    """Whether a log write is (within ``seconds``) past its COPY, waiting to commit."""
    deadline = time.monotonic() + seconds
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory' "
                    "AND query LIKE 'SELECT pg_advisory_xact_lock_shared%'"
                )
            ).scalar_one()
            if waiting:
                return True
            conn.rollback()  # pg_stat_activity holds still within one transaction
            time.sleep(0.05)
    return False


def test_postgres_log_writes_copy_alongside_and_commit_in_id_order(pg_engine):
    """A write that took its ids first (another process, still open) holds back only the
    commit of the next one, whose COPY goes ahead: a later id never becomes visible before
    an earlier one. (SQLite's own write lock already serialises writers.)"""
    engine = pg_engine
    store = LogStore(engine)
    finished = threading.Event()
    with engine.connect() as first:
        first_id = first.exec_driver_sql(RESERVE_IDS, {"n": 1}).scalar_one()
        first.execute(
            text(
                "INSERT INTO log_records (id, ts, level, source, host, message, attrs) "
                "VALUES (:id, now(), 'info', 't', 'h', 'first', '{}')"
            ),
            {"id": first_id},
        )
        second = threading.Thread(
            target=lambda: (store.write(entries("second", 1)), finished.set())
        )
        second.start()
        assert _waiting_for_an_earlier_write(engine), "the second write did not reach its commit"
        assert not finished.is_set(), "a second writer committed while the first was open"
        first.commit()
        second.join(10)
    assert finished.is_set()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT message FROM log_records ORDER BY id")).scalars().all()
    assert rows[-2:] == ["first", "second-0"]


def test_postgres_a_write_that_fails_does_not_hold_back_the_next(pg_engine):
    store = LogStore(pg_engine)
    with pg_engine.connect() as first:
        first.exec_driver_sql(RESERVE_IDS, {"n": 5})
        first.rollback()
    store.write(entries("after", 2))
    assert [r.message for r in store.after(0, parse(""))] == ["after-0", "after-1"]


def test_postgres_concurrent_writers_only_ever_show_a_prefix_of_the_ids(pg_engine):
    """Read while four writers write at once: a record never appears below an id already
    seen, which is what a tail reading "ids above the last one" relies on."""
    store = LogStore(pg_engine)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for batch in range(25):
                store.write(entries(f"{name}-{batch}", 1 + batch % 7))
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(4)]
    for thread in writers:
        thread.start()
    seen: set[int] = set()
    highest = 0
    late: list[int] = []
    writing = True
    while writing:
        writing = any(t.is_alive() for t in writers)  # then one last read after they end
        ids = {r.id for r in store.after(0, parse(""), limit=100_000)}
        late += [i for i in ids - seen if i < highest]
        seen |= ids
        highest = max(seen, default=0)
    for thread in writers:
        thread.join()
    assert errors == []
    assert late == []
    assert len(seen) == 4 * sum(1 + b % 7 for b in range(25))
