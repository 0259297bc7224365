"""One hostile log record cannot break the log store for everyone, on both backends.

Records with NUL, lone surrogates or non-finite numbers are stored cleaned; records an
older version stored unclean (inserted here with raw SQL, past the cleaning) are read,
searched by attribute, counted, tailed and exported along with all the others."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import insert

from storage.log_export import FORMATS, LogExport
from storage.logquery import parse
from storage.logs import LogEntry, LogStore
from storage.models import LogRecord as LogRow
from tests.storage.conftest import T0

HOSTILE_ATTRS = {
    "user_id": 42,
    "nul": "a\x00b",
    "key\x00": "a NUL in the key",
    "high": "\ud800",
    "low": "x\udc00y",
    "emoji": "🎉",
    "nested": {"deep": ["\x00", "\udfff", float("nan")]},
    "ratio": float("inf"),
}
CLEANED_ATTRS = {
    "user_id": 42,
    "nul": "a\ufffdb",
    "key\ufffd": "a NUL in the key",
    "high": "\ufffd",
    "low": "x\ufffdy",
    "emoji": "🎉",
    "nested": {"deep": ["\ufffd", "\ufffd", None]},
    "ratio": None,
}
# attrs text as older versions wrote it (json.dumps, ASCII escapes), and as it reads now.
LEGACY = {
    r'{"user_id":42,"bad":"\u0000"}': {"user_id": 42, "bad": "\ufffd"},
    r'{"user_id":42,"bad":"\ud800 \udc00","k\u0000":1}': {
        "user_id": 42,
        "bad": "\ufffd \ufffd",
        "k\ufffd": 1,
    },
    '{"user_id":42,"bad":NaN,"worse":[-Infinity,Infinity]}': {
        "user_id": 42,
        "bad": None,
        "worse": [None, None],
    },
    # Clean text that only looks suspicious comes back as it was.
    r'{"user_id":42,"emoji":"\ud83c\udf89","text":"\\u0000 is NUL in JSON","word":"NaN"}': {
        "user_id": 42,
        "emoji": "🎉",
        "text": "\\u0000 is NUL in JSON",
        "word": "NaN",
    },
}


def strict_json(text: str):
    """``text`` decoded as strict JSON: no NaN or Infinity, no lone surrogate in a string."""

    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    value = json.loads(text, parse_constant=refuse)
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # raises on a lone surrogate
    return value


def insert_legacy(store: LogStore) -> None:
    """The ``LEGACY`` records, written with raw SQL as an older version stored them."""
    with store.engine.begin() as conn:
        conn.execute(
            insert(LogRow),
            [
                {
                    "ts": T0 + timedelta(minutes=i),
                    "level": "error",
                    "source": "legacy",
                    "host": "web-1",
                    "message": f"legacy {i}",
                    "attrs": text,
                }
                for i, text in enumerate(LEGACY)
            ],
        )


@pytest.fixture
def mixed(store: LogStore) -> LogStore:
    """Legacy records, one hostile record written today, and two ordinary ones."""
    insert_legacy(store)
    store.write(
        [
            LogEntry(T0 + timedelta(minutes=10), "info", "api", "web-1", "fine", {"user_id": 42}),
            LogEntry(T0 + timedelta(minutes=11), "info", "api", "web-1", "other", {"user_id": 7}),
            LogEntry(
                T0 + timedelta(minutes=12),
                "warning",
                "api\x00",
                "web\ud800",
                "hostile\x00 text \udc00",
                HOSTILE_ATTRS,
            ),
        ]
    )
    return store


USER_42 = ["legacy 0", "legacy 1", "legacy 2", "legacy 3", "fine", "hostile\ufffd text \ufffd"]


def test_a_hostile_record_is_stored_cleaned_and_kept(store: LogStore):
    written = store.write(
        [
            LogEntry(
                T0, "warning", "api\x00", "web\ud800", "hostile\x00 text \udc00", HOSTILE_ATTRS
            ),
            LogEntry(T0, "info", "api", "web-1", "fine", {"user_id": 42}),
        ]
    )

    records = store.search(parse(""), limit=10).records
    assert written == 2
    hostile = next(r for r in records if r.message.startswith("hostile"))
    assert (hostile.message, hostile.source, hostile.host) == (
        "hostile\ufffd text \ufffd",
        "api\ufffd",
        "web\ufffd",
    )
    assert hostile.attrs == CLEANED_ATTRS


def test_records_stored_unclean_by_older_versions_read_cleaned(store: LogStore):
    insert_legacy(store)

    records = store.search(parse("source:legacy"), limit=10).records

    assert {r.message: r.attrs for r in records} == {
        f"legacy {i}": attrs for i, attrs in enumerate(LEGACY.values())
    }


def test_an_attribute_search_finds_every_record_whatever_the_others_hold(mixed: LogStore):
    found = mixed.search(parse("attrs.user_id:42"), limit=20).records
    others = mixed.search(parse("-attrs.user_id:42"), limit=20).records

    assert sorted(r.message for r in found) == sorted(USER_42)
    assert [r.message for r in others] == ["other"]
    assert mixed.count(parse("attrs.user_id:42")) == (6, True)
    _, buckets = mixed.histogram(parse("attrs.user_id:42"), T0, T0 + timedelta(hours=1))
    assert sum(b["count"] for b in buckets) == 6


def test_the_tail_reads_pass_over_no_record(mixed: LogStore):
    query = parse("attrs.user_id:42")
    newest = mixed.latest_id()

    backlog = mixed.latest(query, newest, 100)
    missed = mixed.after(0, query, 100)
    everything = mixed.after(0, parse(""), 100)

    assert sorted(r.message for r in backlog) == sorted(USER_42)
    assert [r.id for r in missed] == [r.id for r in backlog]
    assert len(everything) == 7
    for record in everything:
        strict_json(json.dumps(record.to_dict()))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("text", ["", "attrs.user_id:42"])
def test_every_export_format_holds_every_matching_record_as_valid_json(
    mixed: LogStore, fmt: str, text: str
):
    data = b"".join(LogExport(mixed, fmt, parse(text))).decode("utf-8")

    if fmt == "json":
        rows = strict_json(data)
    elif fmt == "ndjson":
        rows = [strict_json(line) for line in data.splitlines()]
    else:  # CSV gives attrs as stored: what was unclean is still valid to Python's json
        rows = [
            {"message": row["message"], "attrs": json.loads(row["attrs"])}
            for row in csv.DictReader(io.StringIO(data, newline=""))
        ]
    expected = USER_42 if text else [*USER_42, "other"]
    assert sorted(row["message"] for row in rows) == sorted(expected)
    if fmt != "csv":
        assert {row["message"]: row["attrs"] for row in rows}["legacy 2"] == LEGACY[
            '{"user_id":42,"bad":NaN,"worse":[-Infinity,Infinity]}'
        ]
