"""Log export for the API and the Logs page: a named, optionally gzipped, audited download."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from app.runtime import Runtime
from app.services import FieldError, database_unreachable
from app.services.log_search import build_query
from storage.log_export import LogExport

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "ndjson": "application/x-ndjson",
}
GZIP_TYPE = "application/gzip"
GZIP_LEVEL = 6
GZIP_WBITS = 31  # deflate with a gzip header and trailer: a valid .gz file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Download:
    """What to send: the file name, its content type and the body in chunks."""

    filename: str
    content_type: str
    chunks: Iterator[bytes]


def export(
    rt: Runtime,
    *,
    q: str,
    level: str | None,
    source: str | None,
    host: str | None,
    start: float | None,
    end: float | None,
    fmt: str,
    gzip: bool,
    actor: str,
    remote_addr: str | None,
    now: float,
) -> Download:
    """The records matching the filters within [start, end) (end defaults to ``now``),
    oldest first, as a download; audited when it starts and again when it ends."""
    query = build_query(q, level, source, host)
    end = now if end is None else end
    if start is not None and start >= end:
        raise FieldError("from", "must be earlier than 'to' (default: now)")
    start_dt = None if start is None else datetime.fromtimestamp(start, UTC)
    end_dt = datetime.fromtimestamp(end, UTC)
    filename = f"pulseboard-logs-{_stamp(start_dt)}-{_stamp(end_dt)}.{fmt}" + (
        ".gz" if gzip else ""
    )
    details = {
        "q": q,
        "level": level,
        "source": source,
        "host": host,
        "from": None if start_dt is None else start_dt.isoformat(),
        "to": end_dt.isoformat(),
        "format": fmt,
        "gzip": gzip,
        "file": filename,
    }
    rt.accounts.audit("logs.export", actor=actor, remote_addr=remote_addr, details=details)
    records = LogExport(rt.logs, fmt, query, start_dt, end_dt)
    body = gzipped(iter(records)) if gzip else iter(records)
    return Download(
        filename,
        GZIP_TYPE if gzip else CONTENT_TYPES[fmt],
        _audit_end(rt, body, records, actor, remote_addr, details),
    )


def gzipped(chunks: Generator[bytes, None, None]) -> Iterator[bytes]:
    """``chunks`` compressed incrementally into one gzip file."""
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS)
    try:
        for chunk in chunks:
            if packed := packer.compress(chunk):
                yield packed
    finally:
        chunks.close()  # a client gone mid-download hands the connection back at once
    yield packer.flush()


def _audit_end(
    rt: Runtime,
    body: Iterator[bytes],
    records: LogExport,
    actor: str,
    remote_addr: str | None,
    details: dict,
) -> Iterator[bytes]:
    completed = False
    try:
        yield from body
        completed = True
    finally:
        end = {**details, "rows": records.rows, "completed": completed}
        try:
            rt.accounts.audit("logs.export.end", actor=actor, remote_addr=remote_addr, details=end)
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            # Whatever stopped the export (or nothing) is what the caller must hear about.
            log.error("logs.export.end by %s not audited, the database is away: %s", actor, end)


def _stamp(moment: datetime | None) -> str:
    return "start" if moment is None else moment.strftime("%Y%m%dT%H%M%SZ")
