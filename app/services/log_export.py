"""Log export for the API and the Logs page: a named, optionally gzipped, audited download."""

from __future__ import annotations

import zlib
from collections.abc import Generator, Iterator
from datetime import UTC, datetime

from app.runtime import Runtime
from app.services import FieldError
from app.services.downloads import CONTENT_TYPES, Download, audited, file_name
from app.services.log_search import build_query
from storage.log_export import LogExport

GZIP_TYPE = "application/gzip"
GZIP_LEVEL = 6
GZIP_WBITS = 31  # deflate with a gzip header and trailer: a valid .gz file


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
    filename = file_name("logs", start, end, fmt) + (".gz" if gzip else "")
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
    records = LogExport(rt.logs, fmt, query, start_dt, end_dt)
    body = gzipped(iter(records)) if gzip else iter(records)
    return Download(
        filename,
        GZIP_TYPE if gzip else CONTENT_TYPES[fmt],
        audited(
            rt,
            "logs.export",
            body,
            lambda: records.rows,
            actor=actor,
            remote_addr=remote_addr,
            details=details,
        ),
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
