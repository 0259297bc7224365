"""Log archives on both backends: whole days to verified gzip NDJSON, rows deleted only
after the check, nothing overwritten or lost, and restore refusing anything unsound."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete

from storage import log_archive
from storage.log_archive import ArchiveError, LogArchive, archive_name, parse_name, verify
from storage.logquery import Query
from storage.logs import MAX_MESSAGE, LogEntry, LogRecord, LogStore
from storage.models import LogRecord as LogRow

DAY1 = date(2026, 11, 12)
DAY2 = date(2026, 11, 13)
CUTOFF = datetime(2026, 11, 14, 9, 30, tzinfo=UTC)
"""Archives days before 2026-11-14; records of the 14th stay even before 09:30."""


def at(day: date, hour: int, minute: int = 0, micro: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, 0, micro, tzinfo=UTC)


OLD = [
    LogEntry(at(DAY1, 0), "debug", "api", "web-1", "first of the day"),
    LogEntry(
        at(DAY1, 13, 7, 123456),
        "error",
        "worker",
        "web-2",
        'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: ünïcødé 错误 🚀',
        {"user_id": 42, "nested": {"list": [1, "two", None, True], "empty": {}}, "ok": False},
    ),
    LogEntry(at(DAY1, 23, 59, 999999), "critical", "db", "db-1", "x" * MAX_MESSAGE),
    LogEntry(at(DAY2, 8), "warning", "api", "web-1", "y" * (MAX_MESSAGE + 10)),
    LogEntry(at(DAY2, 8), "info", "api", "web-1", 'quotes " and \\ and \t tab', {"k": "v"}),
]
NEW = [
    LogEntry(at(date(2026, 11, 14), 0), "info", "api", "web-1", "cutoff day, before the cutoff"),
    LogEntry(at(date(2026, 11, 15), 12), "info", "api", "web-1", "recent"),
]


@pytest.fixture
def store(engine: Engine) -> LogStore:
    """A log store on a fresh database of each backend."""
    return LogStore(engine)


@pytest.fixture
def archive(store: LogStore, tmp_path: Path) -> LogArchive:
    """An archiver of ``store`` into a fresh directory."""
    return LogArchive(store, tmp_path / "archives")


def everything(store: LogStore) -> list[LogRecord]:
    return list(store.stream(Query()))


def content(record: LogRecord) -> tuple:
    return (record.ts, record.level, record.source, record.host, record.message, record.attrs)


def lines(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_whole_old_days_become_one_file_each_and_newer_rows_stay(store, archive):
    store.write(OLD + NEW)
    before = everything(store)
    written = archive.archive_older_than(CUTOFF)
    assert [(a.name, a.records) for a in written] == [
        ("logs-2026-11-12.ndjson.gz", 3),
        ("logs-2026-11-13.ndjson.gz", 2),
    ]
    assert [r.message for r in everything(store)] == [e.message for e in NEW]
    archived = lines(archive.directory / written[0].name) + lines(
        archive.directory / written[1].name
    )
    assert archived == [r.to_dict() for r in before[:5]]  # ids included, oldest first
    for a in written:
        path = archive.directory / a.name
        assert a.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert a.size == path.stat().st_size
    assert archive.archives() == [written[1], written[0]]  # newest day first
    assert archive.archive_older_than(CUTOFF) == []  # nothing left to do


def test_archive_then_restore_round_trip_is_exact(store, archive, monkeypatch):
    monkeypatch.setattr(log_archive, "RESTORE_BATCH", 2)  # several write batches
    monkeypatch.setattr(log_archive, "_WRITE_BATCH", 2)
    store.write(OLD)
    before = [content(r) for r in everything(store)]
    assert before[3][5] == {"truncated_from": MAX_MESSAGE + 10}  # cut by the store, kept
    written = archive.archive_older_than(CUTOFF)
    assert everything(store) == []
    restored = [archive.restore(archive.directory / a.name) for a in written]
    assert [r.records for r in restored] == [3, 2]
    assert (restored[0].first, restored[0].last) == (OLD[0].ts, OLD[2].ts)
    assert [content(r) for r in everything(store)] == before


def test_a_failed_check_deletes_nothing_and_leaves_no_file(store, archive):
    class Truncating(LogArchive):
        def _write(self, raw, start, end):
            written = super()._write(raw, start, end)
            raw.truncate(raw.tell() - 5)  # the gzip trailer goes
            return written

    class Miscounting(LogArchive):
        def _write(self, raw, start, end):
            records, max_id = super()._write(raw, start, end)
            return records + 1, max_id

    store.write(OLD)
    for broken in (Truncating, Miscounting):
        with pytest.raises(ArchiveError):
            broken(store, archive.directory).archive_older_than(CUTOFF)
        assert len(everything(store)) == len(OLD)
        assert [p.name for p in archive.directory.iterdir()] == [".lock"]


def test_an_unwritable_archive_directory_deletes_nothing(store, tmp_path):
    blocked = tmp_path / "archives"
    blocked.write_text("a file where the directory should be")
    store.write(OLD)
    with pytest.raises(OSError):
        LogArchive(store, blocked).archive_older_than(CUTOFF)
    assert len(everything(store)) == len(OLD)


def test_late_records_of_an_archived_day_go_to_a_new_part(store, archive):
    store.write(OLD[:3])
    first = archive.archive_day(DAY1)
    original = (archive.directory / first.name).read_bytes()
    late = [LogEntry(at(DAY1, 6), "info", "late", "h", f"late {i}") for i in range(3)]
    store.write(late)
    second = archive.archive_day(DAY1)
    assert (second.name, second.part, second.records) == ("logs-2026-11-12.1.ndjson.gz", 1, 3)
    assert (archive.directory / first.name).read_bytes() == original
    third_batch = [LogEntry(at(DAY1, 7), "info", "later", "h", "later still")]
    store.write(third_batch)
    assert archive.archive_day(DAY1).name == "logs-2026-11-12.2.ndjson.gz"
    messages = {
        line["message"] for a in archive.archives() for line in lines(archive.directory / a.name)
    }
    assert messages == {e.message for e in OLD[:3] + late + third_batch}
    assert everything(store) == []


def test_a_file_already_under_the_name_is_never_overwritten(store, archive):
    archive.directory.mkdir()
    stranger = archive.directory / archive_name(DAY1)
    stranger.write_bytes(b"left by a run that stopped, or put there by hand")
    store.write(OLD[:3])
    written = archive.archive_day(DAY1)
    assert written.name == "logs-2026-11-12.1.ndjson.gz"
    assert stranger.read_bytes() == b"left by a run that stopped, or put there by hand"
    assert [line["message"] for line in lines(archive.directory / written.name)] == [
        e.message for e in OLD[:3]
    ]
    listed = {a.name: a.records for a in archive.archives()}
    assert listed == {"logs-2026-11-12.ndjson.gz": None, "logs-2026-11-12.1.ndjson.gz": 3}


def test_rows_that_change_while_archiving_are_all_kept(store, archive):
    class Raced(LogArchive):
        def _write(self, raw, start, end):
            written = super()._write(raw, start, end)
            with self.store.engine.begin() as conn:  # another run took one meanwhile
                conn.execute(delete(LogRow).where(LogRow.message == OLD[0].message))
            return written

    store.write(OLD[:3])
    assert Raced(store, archive.directory).archive_day(DAY1) is None
    assert [r.message for r in everything(store)] == [e.message for e in OLD[1:3]]
    assert archive.archives() == []
    assert archive.archive_day(DAY1).records == 2  # the next run takes the rest


def test_a_day_without_records_writes_nothing(store, archive):
    store.write(NEW)
    assert archive.archive_day(DAY1) is None
    assert archive.archive_older_than(CUTOFF) == []
    assert archive.archives() == []


def write_gzip(path: Path, text: str) -> Path:
    path.write_bytes(gzip.compress(text.encode()))
    return path


GOOD = json.dumps(
    {"ts": "2026-11-12T10:00:00+00:00", "level": "info", "source": "a", "host": "h", "message": "m"}
)


def good_with(**changes) -> str:
    return json.dumps({**json.loads(GOOD), **changes})


def gz(data: bytes) -> bytes:
    """``data`` gzipped with no time in its header: the same bytes (and test ids) in every
    process that collects the tests."""
    return gzip.compress(data, mtime=0)


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"plain text, not gzip\n", "not a valid gzip file"),
        (gz(GOOD.encode() * 3)[:-12], "not a valid gzip file"),
        (gz(b""), "holds no records"),
        (gz(b"{nope\n"), "line 1: not a JSON log record"),
        (gz(b"\xff\xfe\n"), "line 1: not a JSON log record"),
        (gz(b"[1, 2]\n"), "line 1: not a JSON object"),
        (gz(b"[" * 100_000 + b"\n"), "line 1"),
        (gz(f"{GOOD}\n\n".encode()), "line 2: not a JSON log record"),
        (gz(f"{GOOD}\n{good_with(level='loud')}\n".encode()), "unknown level"),
        (gz(good_with(ts="yesterday").encode()), "line 1"),
        (gz(good_with(ts="2026-11-12T10:00:00").encode()), "no UTC offset"),
        (gz(good_with(ts=5).encode()), "ts is not a string"),
        (gz(good_with(message="a\x00b").encode()), "NUL"),
        (gz(good_with(host="h" * 201).encode()), "host is longer"),
        (gz(good_with(attrs=[1]).encode()), "attrs is not a JSON object"),
    ],
)
def test_restore_refuses_an_unsound_file_and_writes_nothing(
    store, archive, tmp_path, body, complaint
):
    path = tmp_path / "suspect.ndjson.gz"
    path.write_bytes(body)
    with pytest.raises(ArchiveError, match=complaint):
        archive.restore(path)
    assert everything(store) == []


def test_restore_refuses_an_archive_that_does_not_match_its_checksum(store, archive):
    store.write(OLD[:3])
    path = archive.directory / archive.archive_day(DAY1).name
    write_gzip(path, GOOD + "\n")  # changed after it was written
    with pytest.raises(ArchiveError, match="checksum"):
        archive.restore(path)
    assert everything(store) == []


def test_restore_refuses_a_missing_file(archive, tmp_path):
    with pytest.raises(ArchiveError, match="cannot be read"):
        archive.restore(tmp_path / "nowhere.ndjson.gz")


def test_restore_reads_a_line_at_a_time_and_refuses_an_overlong_one(
    store, archive, tmp_path, monkeypatch
):
    monkeypatch.setattr(log_archive, "MAX_LINE", 1000)
    path = write_gzip(tmp_path / "long.ndjson.gz", f"{GOOD}\n{good_with(message='z' * 2000)}\n")
    with pytest.raises(ArchiveError, match="line 2 is longer than 1000 bytes"):
        archive.restore(path)
    assert everything(store) == []


def test_verify_names_what_is_wrong(tmp_path):
    path = write_gzip(tmp_path / "a.ndjson.gz", "one\ntwo\n")
    assert verify(path, 2) == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ArchiveError, match="2 lines where 3 records"):
        verify(path, 3)
    with pytest.raises(ArchiveError, match="cut off"):
        verify(write_gzip(tmp_path / "b.ndjson.gz", "one\ntwo"), 2)
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(ArchiveError, match="not a valid gzip file"):
        verify(path, 2)


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("logs-2026-11-13.ndjson.gz", (date(2026, 11, 13), 0)),
        ("logs-2026-11-13.1.ndjson.gz", (date(2026, 11, 13), 1)),
        ("logs-2026-11-13.9999.ndjson.gz", (date(2026, 11, 13), 9999)),
        ("logs-2026-11-13.0.ndjson.gz", None),
        ("logs-2026-11-13.01.ndjson.gz", None),
        ("logs-2026-11-13.10000.ndjson.gz", None),
        ("logs-2026-02-30.ndjson.gz", None),
        ("logs-2026-11-13.ndjson.gz.json", None),
        ("logs-\uff12\uff10\uff12\uff16-11-13.ndjson.gz", None),  # fullwidth digits
        ("logs-2026-11-1\u0663.ndjson.gz", None),  # an Arabic-Indic three
        ("logs-2026-11-13.ndjson.gz\n", None),
        ("logs-2026-11-13.ndjson.gz\x00", None),
        ("../logs-2026-11-13.ndjson.gz", None),
        ("logs-2026-11-13/../../secret_key", None),
        (".tmp-abc", None),
        ("", None),
    ],
)
def test_only_archive_names_parse(name, parsed):
    assert parse_name(name) == parsed
    if parsed:
        assert archive_name(*parsed) == name


def test_listing_skips_what_is_not_a_plain_archive_file(store, archive, tmp_path):
    store.write(OLD[:3])
    archive.archive_day(DAY1)
    secret = tmp_path / "secret_key"
    secret.write_text("do not serve")
    (archive.directory / "logs-2026-01-01.ndjson.gz").symlink_to(secret)
    (archive.directory / "logs-2026-01-02.ndjson.gz").mkdir()
    (archive.directory / "notes.txt").write_text("hello")
    assert [a.name for a in archive.archives()] == ["logs-2026-11-12.ndjson.gz"]
    assert archive.find("logs-2026-01-01.ndjson.gz") is None


def test_files_from_a_stopped_run_are_cleared_by_the_next(store, archive):
    archive.directory.mkdir()
    leftover = archive.directory / ".tmp-stopped"
    leftover.write_bytes(b"half a day")
    store.write(OLD)
    archive.archive_older_than(CUTOFF)
    assert not leftover.exists()


def test_restored_records_get_new_ids_after_the_existing_ones(store, archive):
    store.write(OLD[:3])
    path = archive.directory / archive.archive_day(DAY1).name
    store.write(NEW)
    newest = max(r.id for r in everything(store))
    archive.restore(path)
    restored = [r for r in everything(store) if r.ts < at(DAY2, 0)]
    assert [content(r) for r in restored] == [
        (e.ts, e.level, e.source, e.host, e.message, e.attrs) for e in OLD[:3]
    ]
    assert all(r.id > newest for r in restored)
