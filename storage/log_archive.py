"""Log archives: whole UTC days of old records to gzip NDJSON files, checked before their
rows are deleted, and loaded back by ``restore``.

Layout of the archive directory (``<data dir>/archives``):

* ``logs-YYYY-MM-DD.ndjson.gz``: the records of one UTC day, oldest first, one JSON object
  a line (``LogRecord.to_dict()``: id, ts, level, source, host, message, attrs).
* ``logs-YYYY-MM-DD.N.ndjson.gz`` (N = 1, 2, ...): a later part of the same day, written
  when records of an archived day reach the database again (a restore, a late producer),
  or when a run stopped between naming a file and deleting its rows (those records are
  then in two parts: duplicated, never lost). A file is never overwritten or appended to.
* ``<archive>.json`` beside each: its day, part, size, record count, SHA-256, creation time.

A day is written under a temporary name, flushed to disk and read back (a whole gzip stream
with one line per record read, then its SHA-256) before it is linked to its final name
(a link fails rather than replace a file) and only then are its rows deleted, in one
transaction that must delete exactly as many rows as the file holds or deletes none.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import itertools
import json
import logging
import os
import re
import stat
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select

from storage.accounts import utc
from storage.logquery import LEVELS, Query
from storage.logs import LogEntry, LogStore
from storage.models import LogRecord as LogRow

log = logging.getLogger(__name__)

ARCHIVE_NAME = re.compile(r"logs-([0-9]{4}-[0-9]{2}-[0-9]{2})(?:\.([1-9][0-9]{0,3}))?\.ndjson\.gz")
"""``logs-YYYY-MM-DD.ndjson.gz`` or ``logs-YYYY-MM-DD.N.ndjson.gz`` (ASCII digits only)."""
MAX_PARTS = 10_000
MAX_LINE = 64 * 1024 * 1024
"""Bytes of one archive line that restore reads; a longer one is refused, not buffered."""
RESTORE_BATCH = 5000
MAX_TEXT = 200  # source and host: the columns' width
ONE_DAY = timedelta(days=1)
_WRITE_BATCH = 1000
_TEMP_PREFIX = ".tmp-"
_SIDECAR_SUFFIX = ".json"
_LOCK_FILE = ".lock"
_EVERYTHING = Query()


class ArchiveError(ValueError):
    """A file that is not a sound archive, or an archive that failed its check."""


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """An archive in the directory; ``records`` and ``sha256`` are None when its sidecar
    is missing (a run stopped between writing the two)."""

    name: str
    day: date
    part: int
    size: int
    records: int | None
    sha256: str | None
    created: datetime

    def to_dict(self) -> dict:
        """JSON-ready data; the day as YYYY-MM-DD, the creation time as ISO 8601 UTC."""
        return {
            "name": self.name,
            "day": self.day.isoformat(),
            "part": self.part,
            "size": self.size,
            "records": self.records,
            "sha256": self.sha256,
            "created": self.created.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Restored:
    """What a restore loaded: the record count and the time span of the records."""

    records: int
    first: datetime
    last: datetime


def archive_name(day: date, part: int = 0) -> str:
    """The file name of ``part`` of ``day`` (part 0 has no number)."""
    return f"logs-{day.isoformat()}{f'.{part}' if part else ''}.ndjson.gz"


def parse_name(name: str) -> tuple[date, int] | None:
    """The (day, part) an archive name stands for; None for any other name."""
    match = ARCHIVE_NAME.fullmatch(name)
    if match is None:
        return None
    try:
        day = date.fromisoformat(match[1])
    except ValueError:  # 2026-02-30 and the like
        return None
    return day, int(match[2] or 0)


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime.combine(day, time.min, tzinfo=UTC)


class LogArchive:
    """Archives the records of ``store`` into ``directory``, lists the archives there and
    restores them."""

    def __init__(self, store: LogStore, directory: Path) -> None:
        self.store = store
        self.directory = directory

    # -- archiving ---------------------------------------------------------------------

    def archive_older_than(self, cutoff: datetime) -> list[ArchiveFile]:
        """Archive, then delete, the records of every whole UTC day before the day of
        ``cutoff``; the files written, oldest day first."""
        end = day_start(cutoff.astimezone(UTC).date())
        written: list[ArchiveFile] = []
        with self._locked():
            start = None
            while (day := self._next_day(start, end)) is not None:
                archive = self._archive_day(day)
                if archive is not None:
                    written.append(archive)
                start = day_start(day) + ONE_DAY
        return written

    def archive_day(self, day: date) -> ArchiveFile | None:
        """Archive, then delete, the records of one UTC day; the file, None if it had none."""
        with self._locked():
            return self._archive_day(day)

    def _next_day(self, start: datetime | None, end: datetime) -> date | None:
        """The day of the oldest record in [start, end), None if there is none."""
        stmt = select(func.min(LogRow.ts)).where(LogRow.ts < end)
        if start is not None:
            stmt = stmt.where(LogRow.ts >= start)
        with self.store.engine.connect() as conn:
            oldest = conn.execute(stmt).scalar_one()
        return None if oldest is None else utc(oldest).astimezone(UTC).date()

    def _archive_day(self, day: date) -> ArchiveFile | None:
        start = day_start(day)
        fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=self.directory)
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as raw:
                records, max_id = self._write(raw, start, start + ONE_DAY)
            if not records:
                return None
            digest = verify(temp, records)
            path, part = self._claim(temp, day)
        finally:
            temp.unlink(missing_ok=True)
        archive = ArchiveFile(
            path.name, day, part, path.stat().st_size, records, digest, datetime.now(UTC)
        )
        _write_atomically(_sidecar(path), json.dumps(archive.to_dict()).encode())
        _fsync_dir(self.directory)
        if not self._delete(start, max_id, records):
            # Our own rollback deleted nothing: every row the file holds is still in the
            # database (or, if another run deleted it, in that run's file), so it can go.
            _sidecar(path).unlink(missing_ok=True)
            path.unlink()
            _fsync_dir(self.directory)
            log.warning("log records of %s changed while archiving; left for the next run", day)
            return None
        return archive

    def _write(self, raw, start: datetime, end: datetime) -> tuple[int, int]:
        """Write the records in [start, end) to ``raw`` as gzip NDJSON and flush it to disk;
        the count and the highest id written."""
        records = max_id = 0
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz:
            stream = self.store.stream(_EVERYTHING, start, end)
            while batch := list(itertools.islice(stream, _WRITE_BATCH)):
                gz.write(
                    "".join(
                        json.dumps(r.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"
                        for r in batch
                    ).encode()
                )
                records += len(batch)
                max_id = max(max_id, *(r.id for r in batch))
        raw.flush()
        os.fsync(raw.fileno())
        return records, max_id

    def _claim(self, temp: Path, day: date) -> tuple[Path, int]:
        """Link ``temp`` to the first free name for ``day``; never replaces a file."""
        for part in range(MAX_PARTS):
            path = self.directory / archive_name(day, part)
            try:
                os.link(temp, path)
            except FileExistsError:
                continue
            return path, part
        raise ArchiveError(f"{day}: {MAX_PARTS} archive parts exist already")

    def _delete(self, start: datetime, max_id: int, expected: int) -> bool:
        """Delete the archived rows of the day starting at ``start``: all or nothing."""
        stmt = delete(LogRow).where(
            LogRow.ts >= start, LogRow.ts < start + ONE_DAY, LogRow.id <= max_id
        )
        with self.store.engine.connect() as conn, conn.begin() as transaction:
            # Another count means rows came or went since they were read (a record of that
            # day committed late with a lower id, or another run): keep them all.
            if conn.execute(stmt).rowcount != expected:
                transaction.rollback()
                return False
        return True

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the directory's lock (one archive run at a time on this host) and clear
        temporary files that a stopped run left behind."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.directory / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            for leftover in self.directory.glob(_TEMP_PREFIX + "*"):
                leftover.unlink(missing_ok=True)
            yield
        finally:
            os.close(fd)  # releases the lock

    # -- reading -----------------------------------------------------------------------

    def archives(self) -> list[ArchiveFile]:
        """Every archive in the directory, newest day first, parts in order."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            archive = self.find(name)
            if archive is not None:
                found.append(archive)
        return sorted(found, key=lambda a: (-a.day.toordinal(), a.part))

    def find(self, name: str) -> ArchiveFile | None:
        """The archive called ``name``; None unless that is an archive name and a regular
        file (not a link) of that name is in the directory."""
        parsed = parse_name(name)
        if parsed is None:
            return None
        path = self.directory / name
        try:
            info = path.lstat()
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        sidecar = _read_sidecar(path) or {}
        try:
            created = datetime.fromisoformat(sidecar["created"])
        except (KeyError, TypeError, ValueError):
            created = datetime.fromtimestamp(info.st_mtime, UTC)
        records = sidecar.get("records")
        digest = sidecar.get("sha256")
        return ArchiveFile(
            name,
            *parsed,
            info.st_size,
            records if isinstance(records, int) else None,
            digest if isinstance(digest, str) else None,
            created,
        )

    def path(self, archive: ArchiveFile) -> Path:
        """Where ``archive`` is on disk."""
        return self.directory / archive.name

    # -- restoring ---------------------------------------------------------------------

    def restore(self, path: Path) -> Restored:
        """Load an archive's records back into the store (with new ids). The whole file is
        checked before anything is written; ArchiveError says what is wrong with it."""
        sidecar = _read_sidecar(path)
        if sidecar is not None and sidecar.get("sha256") != file_sha256(path):
            raise ArchiveError(f"{path.name}: does not match the checksum in its .json file")
        records, first, last = 0, None, None
        for entry in read_entries(path):
            records += 1
            first = entry.ts if first is None else min(first, entry.ts)
            last = entry.ts if last is None else max(last, entry.ts)
        if first is None or last is None:
            raise ArchiveError(f"{path.name}: holds no records")
        entries = read_entries(path)
        while batch := list(itertools.islice(entries, RESTORE_BATCH)):
            self.store.write(batch)
        return Restored(records, first, last)


def verify(path: Path, expected: int) -> str:
    """Read an archive back: one whole gzip stream of ``expected`` lines, each ending in
    a newline. Its SHA-256; ArchiveError says what is wrong."""
    lines, last = 0, b"\n"
    try:
        with gzip.open(path, "rb") as gz:
            while chunk := gz.read(1024 * 1024):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
    except (OSError, EOFError, zlib.error) as exc:
        raise ArchiveError(f"{path.name}: not a valid gzip file ({exc})") from None
    if last != b"\n":
        raise ArchiveError(f"{path.name}: the last line is cut off")
    if lines != expected:
        raise ArchiveError(f"{path.name}: {lines} lines where {expected} records were written")
    return file_sha256(path)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, as hex."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def read_entries(path: Path) -> Iterator[LogEntry]:
    """The records of an archive as entries to store; ArchiveError names the first bad line."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise ArchiveError(f"{path}: cannot be read ({exc.strerror})") from None
    with raw, gzip.GzipFile(fileobj=raw, mode="rb") as gz:
        number = 0
        while True:
            try:
                line = gz.readline(MAX_LINE + 1)
            except (OSError, EOFError, zlib.error) as exc:
                raise ArchiveError(f"{path.name}: not a valid gzip file ({exc})") from None
            if not line:
                return
            number += 1
            if len(line) > MAX_LINE:
                raise ArchiveError(f"{path.name}: line {number} is longer than {MAX_LINE} bytes")
            try:
                entry = _entry(line)
            except (ValueError, TypeError, RecursionError) as exc:
                raise ArchiveError(f"{path.name}: line {number}: {exc}") from None
            yield entry


def _entry(line: bytes) -> LogEntry:
    """One archive line as an entry; ValueError or TypeError says what is wrong."""
    try:
        data = json.loads(line)
    except ValueError:
        raise ValueError("not a JSON log record") from None
    if not isinstance(data, dict):
        raise TypeError("not a JSON object")
    ts = datetime.fromisoformat(_text(data, "ts"))
    if ts.tzinfo is None:
        raise ValueError("ts has no UTC offset")
    level = _text(data, "level")
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}")
    attrs = data.get("attrs", {})
    if not isinstance(attrs, dict):
        raise TypeError("attrs is not a JSON object")
    return LogEntry(
        ts.astimezone(UTC),
        level,
        _text(data, "source", MAX_TEXT),
        _text(data, "host", MAX_TEXT),
        _text(data, "message"),
        attrs,
    )


def _text(data: dict, key: str, max_length: int | None = None) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    if "\x00" in value:  # PostgreSQL text cannot hold NUL
        raise ValueError(f"{key} contains a NUL character")
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"{key} is longer than {max_length} characters")
    return value


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + _SIDECAR_SUFFIX)


def _read_sidecar(path: Path) -> dict | None:
    """The sidecar of an archive; None when there is none (or it is not ours)."""
    try:
        data = json.loads(_sidecar(path).read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_atomically(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _fsync_dir(directory: Path) -> None:
    """Make renames and links in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
