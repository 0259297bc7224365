"""Log export: the records a query matches, oldest first, as CSV, JSON or NDJSON bytes.

On PostgreSQL, CSV comes straight from ``COPY (SELECT ...) TO STDOUT``; everything else is
encoded in Python from the store's server-side cursor. Either way the output arrives in
chunks of about ``CHUNK_BYTES`` and memory stays flat whatever the number of records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Text, cast, func, select

from storage.log_text import clean_attrs_text
from storage.logquery import Query
from storage.logs import LogStore
from storage.models import LogRecord as LogRow

FORMATS = ("csv", "json", "ndjson")
COLUMNS = ("id", "ts", "level", "source", "host", "message", "attrs")
CHUNK_BYTES = 64 * 1024
CSV_HEADER = ",".join(COLUMNS) + "\n"

_CSV_QUOTE = re.compile(r'[,"\r\n]')
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class LogExport:
    """The records matching ``query`` within [start, end), oldest first, encoded as
    ``fmt``; iterating yields chunks of bytes and ``rows`` counts the records in the chunks
    handed out so far."""

    def __init__(
        self,
        store: LogStore,
        fmt: str,
        query: Query,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown export format {fmt!r}")
        self.store = store
        self.fmt = fmt
        self.query = query
        self.start = start
        self.end = end
        self.rows = 0

    def __iter__(self) -> Iterator[bytes]:
        if self.fmt == "csv" and self.store.dialect == "postgresql":
            return self._copy_csv()
        return self._encoded()

    def _copy_csv(self) -> Iterator[bytes]:
        # The text of a UTC ``timestamp`` in DateStyle ISO, with a T and a Z: the same as
        # iso_time() below, and far cheaper for the server than to_char().
        ts = func.replace(cast(func.timezone("UTC", LogRow.ts), Text), " ", "T") + "Z"
        columns = [
            LogRow.id,
            ts.label("ts"),
            LogRow.level,
            LogRow.source,
            LogRow.host,
            LogRow.message,
            LogRow.attrs,
        ]
        stmt = self.store.matching(select(*columns), self.query, self.start, self.end)
        compiled = stmt.order_by(LogRow.ts, LogRow.id).compile(
            dialect=self.store.engine.dialect, compile_kwargs={"render_postcompile": True}
        )
        # COPY takes no server-side parameters: psycopg binds these client-side, quoting
        # each value as a literal for the connection's encoding.
        sql = f"COPY ({compiled.string}) TO STDOUT WITH (FORMAT csv)"
        buffer, rows = bytearray(CSV_HEADER.encode()), 0
        with (
            self.store.engine.connect() as conn,
            conn.connection.driver_connection.cursor() as cur,
        ):
            cur.execute("SET LOCAL DateStyle TO ISO")
            with cur.copy(sql, compiled.params) as copy:
                for row in copy:  # libpq hands over exactly one row per block
                    buffer += row
                    rows += 1
                    if len(buffer) >= CHUNK_BYTES:
                        self.rows = rows
                        yield bytes(buffer)
                        buffer.clear()
        self.rows = rows
        if buffer:
            yield bytes(buffer)

    def _encoded(self) -> Iterator[bytes]:
        opening, encode, separator, closing = _ENCODINGS[self.fmt]
        parts, size, rows = [opening], len(opening), 0
        for row in self.store.stream_rows(self.query, self.start, self.end):
            text = separator + encode(row) if rows else encode(row)
            parts.append(text)
            size += len(text)
            rows += 1
            if size >= CHUNK_BYTES:
                self.rows = rows
                yield "".join(parts).encode()
                parts, size = [], 0
        self.rows = rows
        parts.append(closing)
        if tail := "".join(parts):
            yield tail.encode()


def iso_time(ts: datetime) -> str:
    """A UTC time as PostgreSQL writes it above: ``2026-11-28T10:00:00Z``, with a fraction
    (no trailing zeros) only when there is one: ``2026-11-28T10:00:00.25Z``."""
    text = ts.isoformat()[:-6]  # without "+00:00"
    return (text.rstrip("0") if ts.microsecond else text) + "Z"


def csv_field(text: str) -> str:
    """``text`` as one RFC 4180 CSV field."""
    # Quoted exactly when PostgreSQL's COPY quotes, so both backends give the same bytes
    # (Python's csv module leaves a bare CR unquoted and the empty string bare).
    if text and not _CSV_QUOTE.search(text):
        return text
    return '"' + text.replace('"', '""') + '"'


def _csv_line(row: tuple) -> str:
    row_id, ts, level, source, host, message, attrs = row
    fields = (level, source, host, message, attrs)  # attrs: the JSON text as stored
    return f"{row_id},{iso_time(ts)}," + ",".join(map(csv_field, fields)) + "\n"


def _json_object(row: tuple) -> str:
    row_id, ts, level, source, host, message, attrs = row
    # The stored attrs are already compact JSON: embed them instead of parsing and
    # encoding each again (most of an export's time otherwise); only text an older version
    # stored unclean (a NaN would make the whole file invalid JSON) is encoded again.
    head = _JSON.encode(
        {"id": row_id, "ts": iso_time(ts), "level": level, "source": source, "host": host}
    )
    return f'{head[:-1]},"message":{_JSON.encode(message)},"attrs":{clean_attrs_text(attrs)}}}'


# format -> (opening, one record, between records, closing)
_ENCODINGS = {
    "csv": (CSV_HEADER, _csv_line, "", ""),
    "json": ("[", lambda row: "\n" + _json_object(row), ",", "\n]\n"),
    "ndjson": ("", lambda row: _json_object(row) + "\n", "", ""),
}
