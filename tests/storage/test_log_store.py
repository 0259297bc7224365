"""The log store on both backends: SQL search agrees with the in-memory matcher, keyset
paging, tail catch-up, histogram, streaming, and hostile text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from storage.logquery import parse
from storage.logs import MAX_MESSAGE, LogEntry, LogStore, decode_cursor
from tests.storage.test_logquery import RECORDS

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(engine: Engine) -> LogStore:
    """A log store on a fresh database of each backend."""
    return LogStore(engine)


@pytest.fixture
def loaded(store: LogStore) -> LogStore:
    """The query-language test records, a minute apart."""
    store.write(
        [
            LogEntry(
                T0 + timedelta(minutes=i),
                r["level"],
                r["source"],
                r["host"],
                r["message"],
                r["attrs"] or {},
            )
            for i, r in enumerate(RECORDS.values())
        ]
    )
    return store


@pytest.mark.parametrize(
    "query",
    [
        "",
        "level:error",
        "level>=warning",
        "level<info",
        "source:api",
        "host:web-1 source:api",
        "attrs.user_id:42",
        "attrs.user_id:7",
        "attrs.sso:true",
        "attrs.disk.mount:/var",
        "timeout",
        "TIMEOUT",
        '"connection reset"',
        "-source:api",
        "-healthz source:api",
        "level>=warning -host:web-1",
        "-attrs.user_id:42",
        "100%",
        "under_score",
    ],
)
def test_sql_search_agrees_with_the_in_memory_matcher(loaded: LogStore, query: str):
    parsed = parse(query)
    expected = {r["message"] for r in RECORDS.values() if parsed.matches(r)}
    found = {r.message for r in loaded.search(parsed, limit=100).records}
    assert found == expected


def test_keyset_pages_walk_every_record_once_newest_first(store: LogStore):
    entries = [
        LogEntry(T0 + timedelta(seconds=i // 3), "info", "s", "h", f"m{i}") for i in range(50)
    ]  # three records share each timestamp
    store.write(entries)
    seen, cursor = [], None
    while True:
        page = store.search(parse(""), cursor=cursor, limit=7)
        seen += [r.message for r in page.records]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(e.message for e in entries)
    assert len(seen) == len(set(seen)) == 50
    for garbage in ("abc", "1.5:0", "x:y", ""):
        with pytest.raises(ValueError):
            decode_cursor(garbage)


def test_a_time_range_bounds_the_search(loaded: LogStore):
    page = loaded.search(parse(""), start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3))
    assert [r.message for r in page.records] == [
        RECORDS["disk"]["message"],
        RECORDS["login"]["message"],
    ]


def test_after_returns_what_a_tail_missed_in_order(loaded: LogStore):
    first = loaded.search(parse(""), limit=100).records[-1]  # the oldest
    missed = loaded.after(first.id, parse("source:api"))
    assert [r.message for r in missed] == [
        RECORDS["crash"]["message"],
        RECORDS["health"]["message"],
    ]
    assert loaded.after(loaded.latest_id(), parse("")) == []


def test_histogram_counts_levels_per_bucket(loaded: LogStore):
    step, rows = loaded.histogram(parse(""), T0, T0 + timedelta(minutes=10), buckets=5)
    assert step == 120
    counts = {(row["ts"], row["level"]): row["count"] for row in rows}
    base = T0.timestamp()
    assert counts == {
        (base, "error"): 1,
        (base, "info"): 1,
        (base + 120, "warning"): 1,
        (base + 120, "critical"): 1,
        (base + 240, "debug"): 1,
        (base + 240, "info"): 1,
    }
    _, errors = loaded.histogram(parse("level>=error"), T0, T0 + timedelta(minutes=10), 5)
    assert sum(r["count"] for r in errors) == 2


def test_stream_yields_every_match_oldest_first(loaded: LogStore):
    streamed = list(loaded.stream(parse("host:web-1"), batch=2))
    assert [r.message for r in streamed] == [
        RECORDS[k]["message"] for k in ("db-timeout", "disk", "health")
    ]


def test_hostile_and_huge_text_is_stored_as_text(store: LogStore):
    hostile = "<img src=x onerror=alert(1)> '; DROP TABLE log_records; -- %_\\ \u2603"
    store.write(
        [
            LogEntry(T0, "info", "s", "h", hostile, {"q": "' OR 1=1"}),
            LogEntry(T0, "info", "s", "h", "x" * (MAX_MESSAGE + 10)),
        ]
    )
    page = store.search(parse('"DROP TABLE"'))
    assert [r.message for r in page.records] == [hostile]
    assert page.records[0].attrs == {"q": "' OR 1=1"}
    [huge] = store.search(parse("-DROP")).records
    assert len(huge.message) == MAX_MESSAGE
    assert huge.attrs == {"truncated_from": MAX_MESSAGE + 10}
