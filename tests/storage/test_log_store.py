"""The log store on both backends: SQL search agrees with the in-memory matcher, keyset
paging, tail catch-up, histogram, streaming, hostile text, substring search served by the
trigram indexes, and counts that turn into estimates past a limit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import event, text

from storage.logquery import parse
from storage.logs import MAX_MESSAGE, LogEntry, LogStore, decode_cursor
from tests.storage.conftest import T0
from tests.storage.test_logquery import RECORDS


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


TEXTS = {
    "percent": "cpu at 100% with an under_score",
    "items": "1000 items in underXscore mode",
    "path": "path C:\\temp\\new and a \\ alone",
    "quote": 'he said "hi" twice',
    "school": "École fermée le lundi",
    "coffee": "un café noir",
    "cyrillic": "Ошибка базы данных",
    "cjk": "错误发生了",
    "snow": "☃ snow at dawn",
    "fts-syntax": "🔥 hot path: NEAR(a b) AND x* ^start",
    "short": "ab ba AB",
}
AWKWARD_QUERIES = [
    ("100%", {"percent"}),
    ("0%", {"percent"}),
    ("%", {"percent"}),
    ("_", {"percent"}),
    ("r_s", {"percent"}),
    ("under_score", {"percent"}),
    ("\\", {"path"}),
    ("C:\\temp", {"path"}),
    ('"\\\\ a"', {"path"}),
    ('"\\"hi\\""', {"quote"}),
    ("ÉCOLE", {"school"}),
    ("école", {"school"}),
    ("FERMÉE", {"school"}),
    ("CAFÉ", {"coffee"}),
    ("É", {"school", "coffee"}),
    ("é", {"school", "coffee"}),
    ("ОШИБКА", {"cyrillic"}),
    ("данных", {"cyrillic"}),
    ("错误发生", {"cjk"}),
    ("错误", {"cjk"}),
    ("☃", {"snow"}),
    ('"🔥 hot"', {"fts-syntax"}),
    ("NEAR(a", {"fts-syntax"}),
    ("x*", {"fts-syntax"}),
    ("^start", {"fts-syntax"}),
    ("AND", {"fts-syntax", "path"}),
    ("a", {"percent", "path", "quote", "coffee", "snow", "fts-syntax", "short"}),
    ("Ab", {"short"}),
    ("-100%", set(TEXTS) - {"percent"}),
    ("-é", set(TEXTS) - {"school", "coffee"}),
    ("-ab", set(TEXTS) - {"short"}),
    ("-错误 -%", set(TEXTS) - {"cjk", "percent"}),
    ("-ошибка", set(TEXTS) - {"cyrillic"}),
    ("ab ÉCOLE", set()),
    ("é" * 1500, set()),
]


@pytest.mark.parametrize("copies", [1, 200], ids=["rare", "common"])
def test_substring_search_agrees_with_the_matcher_on_awkward_text(store: LogStore, copies: int):
    # 200 copies make every word common enough that SQLite tests rows instead of looking
    # the word up in the full-text index; the answers must not change.
    messages = list(TEXTS.values()) * copies
    store.write(
        [LogEntry(T0 + timedelta(seconds=i), "info", "s", "h", m) for i, m in enumerate(messages)]
    )
    for query, expected in AWKWARD_QUERIES:
        parsed = parse(query)
        assert {k for k, m in TEXTS.items() if parsed.matches({"message": m})} == expected, query
        found = {r.message for r in store.search(parsed, limit=100).records}
        assert found == {TEXTS[k] for k in expected}, query


def test_deleted_and_changed_records_leave_the_search_index(store: LogStore):
    store.write(
        [LogEntry(T0, "info", "s", "h", "alpha one"), LogEntry(T0, "info", "s", "h", "beta")]
    )
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM log_records WHERE message = 'alpha one'"))
        conn.execute(text("UPDATE log_records SET message = 'gamma two' WHERE message = 'beta'"))
    store.write([LogEntry(T0, "info", "s", "h", "delta three")])  # may reuse the freed id

    def found(query: str) -> list[str]:
        return [r.message for r in store.search(parse(query)).records]

    assert found("alpha") == found("beta") == []
    assert found("gamma") == ["gamma two"]
    assert found("delta") == ["delta three"]
    if store.dialect == "sqlite":  # the index agrees with its content table, row by row
        with store.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO log_records_fts (log_records_fts, rank) "
                    "VALUES ('integrity-check', 1)"
                )
            )


def plan_of(store: LogStore, read: Callable[[], object]) -> str:
    """The database's plan for the last statement that ``read`` runs on ``store``."""
    executed = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        executed.append((statement, parameters))

    event.listen(store.reader, "before_cursor_execute", capture)
    try:
        read()
    finally:
        event.remove(store.reader, "before_cursor_execute", capture)
    statement, parameters = executed[-1]
    explain = "EXPLAIN " if store.dialect == "postgresql" else "EXPLAIN QUERY PLAN "
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(explain + statement, parameters).all()
    return "\n".join(str(row[-1]) for row in rows)


@pytest.fixture
def many(store: LogStore) -> LogStore:
    """10,000 records of which one holds "timeout", and analysed statistics."""
    entries = [
        LogEntry(
            T0 + timedelta(seconds=i), "info", "api", "web-1", f"GET /items/{i} in {i % 97} ms"
        )
        for i in range(10_000)
    ]
    entries[6_789] = LogEntry(T0, "error", "api", "web-1", "upstream TIMEOUT after 30 s")
    store.write(entries)
    # VACUUM also records the GIN index's size, which the planner's cost of it depends on.
    analyze = "VACUUM ANALYZE" if store.dialect == "postgresql" else "ANALYZE"
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"{analyze} log_records"))
    return store


def test_a_rare_word_is_found_through_the_trigram_index(many: LogStore):
    plan = plan_of(many, lambda: many.search(parse('"timeout after"')))

    if many.dialect == "postgresql":
        assert "Bitmap Index Scan on ix_log_records_message_trgm" in plan, plan
    else:
        assert "SCAN log_records_fts VIRTUAL TABLE INDEX 0:M" in plan, plan
    assert [r.message for r in many.search(parse("timeout")).records] == [
        "upstream TIMEOUT after 30 s"
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_tests_rows_for_a_common_word_and_for_a_tail(many: LogStore):
    common = plan_of(many, lambda: many.search(parse("ITEMS")))
    tail = plan_of(many, lambda: many.after(many.latest_id() - 10, parse("timeout")))

    assert "log_records_fts" not in common
    assert "ix_log_records_ts" in common  # newest first, stopping after a page
    assert "log_records_fts" not in tail
    assert "rowid>?" in tail
    assert len(many.search(parse("ITEMS")).records) == 100
    assert [r.message for r in many.after(6_000, parse("timeout"))] == [
        "upstream TIMEOUT after 30 s"
    ]


def test_counts_are_exact_up_to_the_limit(loaded: LogStore):
    assert loaded.count(parse("")) == (len(RECORDS), True)
    assert loaded.count(parse("source:api")) == (3, True)
    assert loaded.count(parse("-source:api timeout")) == (0, True)
    start, end = T0 + timedelta(minutes=1), T0 + timedelta(minutes=3)
    assert loaded.count(parse(""), start, end) == (2, True)
    assert loaded.count(parse(""), exact_limit=len(RECORDS)) == (len(RECORDS), True)


def test_past_the_limit_a_count_is_an_estimate_never_below_it(store: LogStore):
    store.write(
        [
            LogEntry(
                T0 + timedelta(seconds=i), "error" if i % 4 == 0 else "info", "s", "h", f"m{i}"
            )
            for i in range(2000)
        ]
    )
    with store.engine.begin() as conn:
        conn.execute(text("ANALYZE log_records"))

    errors, exact = store.count(parse("level:error"), exact_limit=100)
    everything, _ = store.count(parse(""), exact_limit=100)

    assert not exact
    if store.dialect == "postgresql":  # the planner's estimates from the statistics
        assert 400 <= errors <= 600
        assert everything == 2000
    else:
        assert errors == everything == 100
    assert store.count(parse("level:error"), exact_limit=500) == (500, True)
