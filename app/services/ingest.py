"""Log ingest over HTTP: read a capped (optionally gzipped) body, validate the whole batch,
write it in one transaction.

The body is NDJSON (one record a line) or a JSON array of records. A batch is all or
nothing: any bad record refuses it with the bad ones named (``line N`` for NDJSON,
``record N`` for an array, counted from 1). Messages longer than the store keeps
(``storage.logs.MAX_MESSAGE``) are cut by the store, which notes the original length in
``attrs.truncated_from``.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import IO, Annotated, Any, Required

from pydantic import ConfigDict, StringConstraints, TypeAdapter, with_config
from pydantic_core import from_json
from typing_extensions import TypedDict  # on Python 3.11 pydantic reads only this one

from app.runtime import Runtime
from app.services import FieldError, Invalid, Saturated, TooLarge, TooManyRecords, UnsupportedMedia
from app.services.timerange import EARLIEST, LATEST, parse_timestamp
from storage.logquery import LEVEL_ALIASES, LEVELS
from storage.logs import LogEntry

NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")
JSON_TYPE = "application/json"
GZIP_ENCODINGS = ("gzip", "x-gzip")
MAX_RECORDS = 50_000
MAX_REPORTED = 20
MAX_TEXT = 200  # source and host: the columns' width
FUTURE_SLACK = timedelta(minutes=10)
DEFAULT_SOURCE = "api"
DEFAULT_LEVEL = "info"
RETRY_AFTER = 1
_CHUNK = 64 * 1024


class _BadRecord(ValueError):
    """One record's problem, as ``field: what is wrong``."""


def _too_large(max_bytes: int, what: str = "Request body") -> TooLarge:
    return TooLarge(f"{what} larger than {max_bytes} bytes.")


def read_body(stream: IO[bytes], content_length: int | None, max_bytes: int) -> bytes:
    """The raw body, refusing (413) more than ``max_bytes`` before and while reading it."""
    if content_length is not None and content_length > max_bytes:
        raise _too_large(max_bytes)
    chunks, size = [], 0
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def gunzip(data: bytes, max_bytes: int) -> bytes:
    """Decompress gzip ``data`` without ever holding more than ``max_bytes`` of output."""
    out, size = [], 0
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            while data:
                piece = inflater.decompress(data, max_bytes - size + 1)
                size += len(piece)
                if size > max_bytes:
                    raise _too_large(max_bytes, "Decompressed body")
                out.append(piece)
                data = inflater.unconsumed_tail
                if inflater.eof:
                    break
                if not piece and not data:
                    break
        except zlib.error:
            raise FieldError("body", "not valid gzip data") from None
        if not inflater.eof:
            raise FieldError("body", "gzip data is truncated")
        data = inflater.unused_data  # another gzip member may follow
    return b"".join(out)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
"""Made once: ``json.loads`` with an option builds a decoder per call, which cost more
than decoding a typical NDJSON line."""


def _loads(data: bytes) -> Any:
    """``json.loads(data, parse_constant=_reject_constant)``.

    pydantic-core's decoder reads plain UTF-8 JSON several times faster; what it refuses
    (other encodings, a lone surrogate escape, NaN, bad JSON) is read as before, so the
    answer and the error are the standard library's."""
    try:
        return from_json(data, allow_inf_nan=False)
    except ValueError:
        return _DECODER.decode(data.decode(json.detect_encoding(data), "surrogatepass"))


def _ndjson_lines(body: bytes) -> list[bytes]:
    """The non-blank lines."""
    return [line for line in body.split(b"\n") if line.strip()]


def _ndjson_records(body: bytes) -> Iterator[tuple[str, Any]]:
    """(label, decoded value or the decoding problem) of each non-blank line."""
    for number, line in enumerate(body.split(b"\n"), 1):
        if not line.strip():
            continue
        label = f"line {number}"
        try:
            yield label, _loads(line)
        except (ValueError, RecursionError):
            yield label, _BadRecord("not valid JSON")


def _array_records(body: bytes) -> list[tuple[str, Any]]:
    try:
        data = _loads(body)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise FieldError("body", f"not valid JSON ({where})") from None
    except (ValueError, RecursionError):
        raise FieldError("body", "not valid JSON") from None
    if not isinstance(data, list):
        raise FieldError("body", "expected a JSON array of records")
    return [(f"record {number}", value) for number, value in enumerate(data, 1)]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(record: dict, key: str, default: str) -> str:
    value = record.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _BadRecord(f"{key}: must be a string")
    if not value.strip():
        raise _BadRecord(f"{key}: must not be empty")
    if len(value) > MAX_TEXT:
        raise _BadRecord(f"{key}: longer than {MAX_TEXT} characters")
    return value


def _level(record: dict) -> str:
    value = record.get("level")
    if value is None:
        return DEFAULT_LEVEL
    if not isinstance(value, str):
        raise _BadRecord("level: must be a string")
    level = value.strip().lower()
    level = LEVEL_ALIASES.get(level, level)
    if level not in LEVELS:
        raise _BadRecord(f"level: unknown {_short(value)} (one of {', '.join(LEVELS)})")
    return level


def _ts(record: dict, now: datetime, oldest: datetime, retention_days: int) -> datetime:
    value = record.get("ts")
    if value is None:
        return now
    try:
        seconds = parse_timestamp(value)
        if not math.isfinite(seconds):
            raise ValueError("not a finite number")
        ts = datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise _BadRecord(f"ts: {exc}") from None
    if ts > now + FUTURE_SLACK:
        minutes = int(FUTURE_SLACK.total_seconds() // 60)
        raise _BadRecord(f"ts: {ts.isoformat()} is more than {minutes} minutes in the future")
    if ts < oldest:
        raise _BadRecord(
            f"ts: {ts.isoformat()} is older than the log retention ({retention_days} days)"
        )
    return ts


def _entry(
    value: Any, *, now: datetime, oldest: datetime, retention_days: int, host: str
) -> LogEntry:
    if isinstance(value, _BadRecord):
        raise value
    if not isinstance(value, dict):
        raise _BadRecord("not a JSON object")
    message = value.get("message")
    if message is None:
        raise _BadRecord("message: required")
    if not isinstance(message, str):
        raise _BadRecord("message: must be a string")
    attrs = value.get("attrs")
    if attrs is None:
        attrs = {}
    elif not isinstance(attrs, dict):
        raise _BadRecord("attrs: must be a JSON object")
    return LogEntry(
        ts=_ts(value, now, oldest, retention_days),
        level=_level(value),
        source=_text(value, "source", DEFAULT_SOURCE),
        host=_text(value, "host", host),
        message=message,
        attrs=attrs,
    )


_Name = Annotated[str, StringConstraints(max_length=MAX_TEXT, pattern="[!-~]")]
"""A source or host that ``_text`` accepts for sure: it holds a visible ASCII character, so
it is not blank whichever characters count as space."""


@with_config(ConfigDict(strict=True))
class _Record(TypedDict, total=False):
    """A record as producers usually send it, checked by pydantic-core as it reads the JSON:
    each value of the JSON type ``_entry`` asks for. What does not fit here (or holds an
    unusual level or a bad time) is read again by ``_entry``, which takes more forms and
    words each problem."""

    ts: str | int | float | None
    level: str | None
    source: _Name | None
    host: _Name | None
    message: Required[str]
    attrs: dict[str, Any] | None


_RECORD = TypeAdapter(_Record)
_RECORDS = TypeAdapter(list[_Record])
_LEVEL_SPELLINGS: dict[str | None, str] = {
    None: DEFAULT_LEVEL,
    **{
        spelling: LEVEL_ALIASES.get(name, name)
        for name in (*LEVELS, *LEVEL_ALIASES)
        for spelling in (name, name.upper(), name.title())
    },
}
"""The level as commonly written (``info``, ``INFO``, ``Warn``, or none) -> the level
stored, as ``_level`` finds it."""


_NON_FINITE = (b"NaN", b"Infinity")
"""What pydantic-core reads as numbers inside any JSON value, where ``_loads`` refuses them."""


def _non_finite(data: bytes) -> bool:
    return _NON_FINITE[0] in data or _NON_FINITE[1] in data


def _checked_line(line: bytes) -> _Record:
    """One NDJSON line read and checked as a ``_Record`` (ValueError if it is not one)."""
    if _non_finite(line):
        return _RECORD.validate_python(_loads(line))
    return _RECORD.validate_json(line)


_EARLIEST, _LATEST = (datetime.fromtimestamp(seconds, UTC) for seconds in (EARLIEST, LATEST))


def _usual_ts(record: _Record, now: datetime, oldest: datetime, retention_days: int) -> datetime:
    """``_ts`` of a record, sooner for the usual ISO 8601 time: read at once as a time, it
    is the same instant (as UTC) that ``_ts`` reaches through epoch seconds. Any other
    form, or a time that ``_ts`` would refuse, is left to ``_ts``."""
    value = record.get("ts")
    if type(value) is not str or value[4:5] != "-":
        return _ts(record, now, oldest, retention_days)
    ts = datetime.fromisoformat(value)
    ts = ts.astimezone(UTC) if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    if oldest <= ts <= now + FUTURE_SLACK and _EARLIEST <= ts <= _LATEST:
        return ts
    return _ts(record, now, oldest, retention_days)


def _checked_array(body: bytes) -> Iterator[_Record]:
    if _non_finite(body):
        yield from _RECORDS.validate_python(_loads(body))
    else:
        yield from _RECORDS.validate_json(body)


def _checked_entries(
    records: Iterable[_Record], *, now: datetime, oldest: datetime, retention_days: int, host: str
) -> list[LogEntry] | None:
    """The entries ``_entry`` would make of ``records``, or None as soon as one record
    (or the body) is not of the usual form, for ``_entry`` to read them all again."""
    try:
        return [
            LogEntry(
                _usual_ts(record, now, oldest, retention_days),
                _LEVEL_SPELLINGS[record.get("level")],
                record.get("source") or DEFAULT_SOURCE,
                record.get("host") or host,
                record["message"],
                record.get("attrs") or {},
            )
            for record in records
        ]
    except (ValueError, KeyError, RecursionError):  # ValidationError and _BadRecord too
        return None


def parse_batch(
    body: bytes,
    ndjson: bool,
    *,
    host: str,
    retention_days: int,
    now: datetime | None = None,
) -> list[LogEntry]:
    """Every record of ``body`` as a LogEntry, or Invalid naming the bad ones."""
    now = now or datetime.now(UTC)
    oldest = now - timedelta(days=retention_days)
    given = {"now": now, "oldest": oldest, "retention_days": retention_days, "host": host}
    if ndjson:
        lines = _ndjson_lines(body)
        if len(lines) > MAX_RECORDS:
            raise _too_many(len(lines))
        # Lines are checked one by one only where the body has words that need it.
        check = _checked_line if _non_finite(body) else _RECORD.validate_json
        checked = _checked_entries(map(check, lines), **given)
    else:
        checked = _checked_entries(_checked_array(body), **given)
        if checked is not None and len(checked) > MAX_RECORDS:
            raise _too_many(len(checked))
    if checked:
        return checked
    # Read again the slow way, which words every problem (or takes the unusual forms).
    records: Any = _ndjson_records(body) if ndjson else _array_records(body)
    if not ndjson and len(records) > MAX_RECORDS:
        raise _too_many(len(records))
    entries: list[LogEntry] = []
    bad: dict[str, str] = {}
    bad_count = 0
    for label, value in records:
        try:
            entries.append(_entry(value, **given))
        except _BadRecord as exc:
            bad_count += 1
            if len(bad) < MAX_REPORTED:
                bad[label] = str(exc)
    if bad_count:
        more = f" (the first {len(bad)} are named)" if bad_count > len(bad) else ""
        raise Invalid(f"{bad_count} bad record(s); nothing was stored{more}.", bad)
    if not entries:
        raise FieldError("body", "no records in the batch")
    return entries


def _too_many(count: int) -> TooManyRecords:
    return TooManyRecords(f"{count} records in one batch; send at most {MAX_RECORDS} per request.")


def write_batch(rt: Runtime, entries: list[LogEntry]) -> int:
    """Write ``entries`` in one committed transaction; Saturated when every write slot is
    busy (a database error propagates: nothing was stored)."""
    if not rt.ingest_slots.acquire(blocking=False):
        raise Saturated("The log writer is saturated; retry shortly.", RETRY_AFTER)
    try:
        return rt.logs.write(entries)
    finally:
        rt.ingest_slots.release()


def ingest(
    rt: Runtime,
    stream: IO[bytes],
    *,
    content_type: str | None,
    content_encoding: str | None,
    content_length: int | None,
    remote_addr: str | None,
) -> int:
    """Read, validate and store one batch; the number of records committed."""
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    if mimetype not in (*NDJSON_TYPES, JSON_TYPE):
        raise UnsupportedMedia(
            "Send application/x-ndjson (one record a line) or application/json (an array).",
            {"body": f"unsupported Content-Type {_short(mimetype or 'none')}"},
        )
    encoding = (content_encoding or "identity").strip().lower()
    if encoding not in ("identity", *GZIP_ENCODINGS):
        raise UnsupportedMedia(
            "Content-Encoding must be gzip or absent.",
            {"body": f"unsupported Content-Encoding {_short(encoding)}"},
        )
    max_bytes = rt.settings.ingest_max_bytes
    body = read_body(stream, content_length, max_bytes)
    if encoding in GZIP_ENCODINGS:
        body = gunzip(body, max_bytes)
    entries = parse_batch(
        body,
        mimetype in NDJSON_TYPES,
        host=(remote_addr or "unknown")[:MAX_TEXT],
        retention_days=rt.settings.log_retention_days,
    )
    return write_batch(rt, entries)
