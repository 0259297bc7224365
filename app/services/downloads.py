"""Downloads of what the pages show: one streaming CSV/JSON writer for tables of rows, file
names that say what and when, and the audit entries around every export."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from app.runtime import Runtime
from app.services import database_unreachable
from storage.log_export import CHUNK_BYTES, csv_field, iso_time

log = logging.getLogger(__name__)

TABLE_FORMATS = ("csv", "json")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "ndjson": "application/x-ndjson",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]+")
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class Download:
    """What to send: the file name, its content type and the body in chunks."""

    filename: str
    content_type: str
    chunks: Iterator[bytes]


def canonical_json(value: object) -> str:
    """``value`` as compact JSON with sorted keys: one text for one value."""
    return _JSON.encode(value)


def utc_iso(ts: float | datetime) -> str:
    """Epoch seconds or an aware datetime as ISO 8601 UTC, as every export writes times
    (``2026-11-28T10:00:00Z``, a fraction only when there is one)."""
    moment = ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, UTC)
    return iso_time(moment.astimezone(UTC))


def file_stamp(moment: float | datetime | None) -> str:
    """A time for a file name (``20261128T100000Z``), ``start`` for an open start."""
    if moment is None:
        return "start"
    when = moment if isinstance(moment, datetime) else datetime.fromtimestamp(moment, UTC)
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def file_name(what: str, start: float | None, end: float, ext: str) -> str:
    """``pulseboard-<what>-<from>-<to>.<ext>``, ``what`` reduced to file-name-safe text."""
    return f"pulseboard-{_UNSAFE.sub('_', what)}-{file_stamp(start)}-{file_stamp(end)}.{ext}"


class Table:
    """Rows of ``columns`` encoded as CSV (header row, RFC 4180 quoting as the log export
    writes it) or JSON (one array of objects), in chunks of about ``CHUNK_BYTES``;
    ``rows`` counts the rows in the chunks handed out so far.

    Each row is a dict of JSON values; in CSV a dict or list value is written as its
    canonical JSON text and None as an empty field.
    """

    def __init__(self, fmt: str, columns: tuple[str, ...], rows: Iterable[dict]) -> None:
        if fmt not in TABLE_FORMATS:
            raise ValueError(f"unknown table format {fmt!r}")
        self.fmt = fmt
        self.columns = columns
        self.source = rows
        self.rows = 0

    def __iter__(self) -> Iterator[bytes]:
        csv = self.fmt == "csv"
        parts = [",".join(self.columns) + "\n" if csv else "["]
        size, count = len(parts[0]), 0
        for row in self.source:
            if csv:
                text = self._csv_line(row)
            else:
                text = ("\n" if count == 0 else ",\n") + self._json_object(row)
            parts.append(text)
            size += len(text)
            count += 1
            if size >= CHUNK_BYTES:
                self.rows = count
                yield "".join(parts).encode()
                parts, size = [], 0
        self.rows = count
        if not csv:
            parts.append("\n]\n")
        if tail := "".join(parts):
            yield tail.encode()

    def _csv_line(self, row: dict) -> str:
        return ",".join(csv_field(_csv_text(row[c])) for c in self.columns) + "\n"

    def _json_object(self, row: dict) -> str:
        # Keys in column order; values (labels, details) canonical.
        return "{" + ",".join(f'"{c}":{_JSON.encode(row[c])}' for c in self.columns) + "}"


def _csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | bool):
        return canonical_json(value)
    return str(value)


def audited(
    rt: Runtime,
    action: str,
    body: Iterator[bytes],
    rows: Callable[[], int],
    *,
    actor: str,
    remote_addr: str | None,
    details: dict,
) -> Iterator[bytes]:
    """``body`` passed through, with ``action`` in the audit log when it starts and
    ``action.end`` (rows sent, completed or not) when it ends; the first entry is written
    at once, before a byte is sent."""
    rt.accounts.audit(action, actor=actor, remote_addr=remote_addr, details=details)

    def passed_through() -> Iterator[bytes]:
        completed = False
        try:
            yield from body
            completed = True
        finally:
            end = {**details, "rows": rows(), "completed": completed}
            try:
                rt.accounts.audit(
                    f"{action}.end", actor=actor, remote_addr=remote_addr, details=end
                )
            except Exception as exc:
                if not database_unreachable(exc):
                    raise
                # Whatever stopped the download (or nothing) is what the caller must hear about.
                log.error("%s.end by %s not audited, the database is away: %s", action, actor, end)

    return passed_through()


def table_download(
    rt: Runtime,
    action: str,
    filename: str,
    table: Table,
    *,
    actor: str,
    remote_addr: str | None,
    details: dict,
) -> Download:
    """``table`` as a download named ``filename``, audited as ``action`` (see ``audited``)."""
    body = audited(
        rt,
        action,
        iter(table),
        lambda: table.rows,
        actor=actor,
        remote_addr=remote_addr,
        details=details,
    )
    return Download(filename, CONTENT_TYPES[table.fmt], body)
