"""Log export on both backends: every format round-trips hostile text exactly, CSV is the
same bytes everywhere, filters match the search, chunks stay small, and a stream closed
halfway hands its connection back."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from storage.log_export import CHUNK_BYTES, COLUMNS, LogExport
from storage.logquery import parse
from storage.logs import LogEntry, LogStore
from tests.storage.conftest import T0
from tests.storage.test_logquery import RECORDS

HOSTILE = [
    'she said "hi", then left',
    "two\nlines",
    "carriage\rreturn and crlf\r\nend",
    "",
    "<img src=x onerror=alert(1)>",
    '=HYPERLINK("http://evil.example","click")',
    "+1",
    "-1",
    "@SUM(A1:A9)",
    "ünïcødé ✓ 日本語 🎉",
    "back\\slash and \\. and \\N",
    "\\.",
    "tab\there ",
    " leading space",
    "'; DROP TABLE log_records; --",
]
ATTRS = {"user": 'a"b,c', "n": 42, "ok": True, "nested": {"k": [1, 2.5, None]}, "uni": "é"}


@pytest.fixture
def hostile(store: LogStore) -> list[dict]:
    """One record per hostile message, a second apart; what an export must give back."""
    entries = [
        LogEntry(T0 + timedelta(seconds=i), "warning", "api,v2", 'web "1"', message, ATTRS)
        for i, message in enumerate(HOSTILE)
    ]
    store.write(entries)
    return [
        {
            "id": i + 1,
            "ts": e.ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "level": e.level,
            "source": e.source,
            "host": e.host,
            "message": e.message,
            "attrs": e.attrs,
        }
        for i, e in enumerate(entries)
    ]


def export(store: LogStore, fmt: str, query: str = "", **bounds) -> bytes:
    """The whole export as one byte string."""
    return b"".join(LogExport(store, fmt, parse(query), **bounds))


def parsed(fmt: str, data: bytes) -> list[dict]:
    """An export read back with the standard parsers; CSV attrs decoded from their JSON."""
    text = data.decode("utf-8")
    if fmt == "json":
        return json.loads(text)
    if fmt == "ndjson":
        return [json.loads(line) for line in text.splitlines()]
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(COLUMNS)
    return [
        {**dict(zip(COLUMNS, row, strict=True)), "id": int(row[0]), "attrs": json.loads(row[6])}
        for row in rows[1:]
    ]


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_every_format_gives_back_hostile_text_exactly(store, hostile, fmt):
    assert parsed(fmt, export(store, fmt)) == hostile


def test_csv_is_the_same_bytes_on_both_backends(store: LogStore):
    store.write(
        [
            LogEntry(T0, "info", "api", "web-1", 'a "quoted", value', {"k": "é"}),
            LogEntry(T0 + timedelta(microseconds=250000), "error", "", "h", "cr\rlf\n", {}),
            LogEntry(T0 + timedelta(microseconds=1), "debug", "s", "h", "", {"n": 1}),
        ]
    )
    assert export(store, "csv").decode() == (
        "id,ts,level,source,host,message,attrs\n"
        '1,2026-01-05T12:00:00Z,info,api,web-1,"a ""quoted"", value","{""k"":""\\u00e9""}"\n'
        '3,2026-01-05T12:00:00.000001Z,debug,s,h,"","{""n"":1}"\n'
        '2,2026-01-05T12:00:00.25Z,error,"",h,"cr\rlf\n",{}\n'
    )


def test_json_and_ndjson_shapes(store: LogStore):
    assert export(store, "json") == b"[\n]\n"
    assert export(store, "ndjson") == b""
    assert export(store, "csv") == b"id,ts,level,source,host,message,attrs\n"
    store.write([LogEntry(T0, "info", "s", "h", m) for m in ("one", "two")])
    assert export(store, "json").decode() == (
        '[\n{"id":1,"ts":"2026-01-05T12:00:00Z","level":"info","source":"s","host":"h",'
        '"message":"one","attrs":{}},\n'
        '{"id":2,"ts":"2026-01-05T12:00:00Z","level":"info","source":"s","host":"h",'
        '"message":"two","attrs":{}}\n]\n'
    )


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
@pytest.mark.parametrize(
    "query",
    [
        "",
        "level>=warning",
        "level<info",
        "host:web-1 source:api",
        "attrs.user_id:42",
        "-attrs.user_id:42",
        "timeout",
        '"connection reset"',
        "-source:api",
        "100%",
        "under_score",
    ],
)
def test_filters_and_time_range_match_the_search(loaded, fmt, query):
    store = loaded
    q = parse(query)
    everything = [r["message"] for r in RECORDS.values() if q.matches(r)]
    assert [r["message"] for r in parsed(fmt, export(store, fmt, query))] == everything

    start, end = T0 + timedelta(minutes=1), T0 + timedelta(minutes=4)
    window = [r["message"] for i, r in enumerate(RECORDS.values()) if 1 <= i < 4 and q.matches(r)]
    within = parsed(fmt, export(store, fmt, query, start=start, end=end))
    assert [r["message"] for r in within] == window


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_output_comes_in_chunks_of_about_64_kib_and_rows_are_counted(store, fmt):
    store.write(
        [
            LogEntry(T0 + timedelta(seconds=i), "info", "s", "h", f"{i:05d} " + "x" * 200)
            for i in range(2000)
        ]
    )
    records = LogExport(store, fmt, parse(""))
    sizes = [len(chunk) for chunk in records]
    assert len(sizes) > 5
    assert all(CHUNK_BYTES <= size < CHUNK_BYTES + 1024 for size in sizes[:-1])
    assert records.rows == 2000


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_closing_a_stream_halfway_hands_the_connection_back(store, engine, fmt):
    store.write([LogEntry(T0, "info", "s", "h", "y" * 500) for _ in range(3000)])
    records = LogExport(store, fmt, parse(""))
    chunks = iter(records)
    next(chunks)
    assert engine.pool.checkedout() == 1
    chunks.close()
    assert engine.pool.checkedout() == 0
    assert 0 < records.rows < 3000
    assert store.latest_id() == 3000  # and the connection still works


def test_an_unknown_format_is_refused(store: LogStore):
    with pytest.raises(ValueError, match="xml"):
        LogExport(store, "xml", parse(""))
