"""Log search for the API and (later) the Logs page: the query string into a store query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.runtime import Runtime
from app.services import FieldError
from app.services.timerange import DEFAULT_SPAN, check_range
from storage.logquery import LEVELS, Query, QueryError, level_rank, parse
from storage.logs import decode_cursor


def build_query(q: str, level: str | None, source: str | None, host: str | None) -> Query:
    """``q`` plus the shorthand filters; FieldError names ``q`` and the position."""
    if "\x00" in q:  # PostgreSQL cannot compare text holding one
        raise FieldError("q", "must not contain NUL characters")
    parts = [q]
    if level:
        if level_rank(level) < 0:
            raise FieldError("level", f"unknown level {level!r}; use one of {', '.join(LEVELS)}")
        parts.append(f"level>={level}")
    for field, value in (("source", source), ("host", host)):
        if value:
            parts.append(f"{field}:{_quoted(value)}")
    try:
        return parse(" ".join(p for p in parts if p))
    except QueryError as exc:  # the shorthands are checked or quoted: the mistake is in q
        raise FieldError("q", f"{exc.message} (at character {exc.position + 1})") from None


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _when(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def search(
    rt: Runtime,
    query: Query,
    start: float | None,
    end: float | None,
    cursor: str | None,
    limit: int,
) -> dict:
    """A page of matching records, newest first, as the API answers it:
    ``{"items": [...], "next_cursor": ...}``."""
    check_range(start, end)
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except ValueError:
            raise FieldError("cursor", "not a cursor from this API") from None
    items, next_cursor = rt.logs.search_items(
        query, start=_when(start), end=_when(end), cursor=cursor, limit=limit
    )
    return {"items": items, "next_cursor": next_cursor}


def histogram(
    rt: Runtime, query: Query, start: float | None, end: float | None, buckets: int, now: float
) -> dict:
    """Counts per level per bucket over the range (default: the last hour)."""
    end_dt = _when(end) or datetime.fromtimestamp(now, UTC)
    start_dt = _when(start) or end_dt - timedelta(seconds=DEFAULT_SPAN)
    check_range(start_dt.timestamp(), end_dt.timestamp())
    step, rows = rt.logs.histogram(query, start_dt, end_dt, buckets)
    return {"step": step, "buckets": rows}


def count(rt: Runtime, query: Query, start: float | None, end: float | None) -> dict:
    """How many records match over the range: ``{"count": n, "exact": bool}``; past
    ``storage.logs.EXACT_COUNT_LIMIT`` matches it is an estimate."""
    check_range(start, end)
    n, exact = rt.logs.count(query, _when(start), _when(end))
    return {"count": n, "exact": exact}
