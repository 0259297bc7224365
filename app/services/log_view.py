"""What the Logs page shows: the search it runs, blocks of rows for its grid, the level
histogram and the detail of one record."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlencode

from app.runtime import Runtime
from app.services import FieldError
from app.services.downloads import utc_iso
from app.services.log_search import build_query, histogram
from app.services.timerange import parse_timestamp, preset_window
from storage.logquery import LEVELS, Query
from storage.logs import decode_cursor, encode_cursor

HISTOGRAM_BUCKETS = 60
MAX_BLOCK_ROWS = 1000
"""The most rows one grid block may ask for (the page asks for 100 at a time)."""
MAX_CURSORS = 500
"""Cursors the grid remembers (one per block it has read), so scrolling on stays keyset."""
NO_SEARCH = "No results: correct the query above to search again."
"""The line under the histogram while the query has a mistake."""
SURROUNDING_SPAN = 300.0
"""Seconds either side of a record that "show surrounding lines" covers."""
_ATTR_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_MAX_ATTR_PATH = 64
_BARE_VALUE = re.compile(r'[^\s"\\]+')


def logs_href(
    query: str,
    *,
    range_key: str | None = None,
    start: float | None = None,
    end: float | None = None,
) -> str:
    """A link to the Logs page searching ``query`` over [start, end] when both are given,
    else over the preset ``range_key`` (the page's default without one)."""
    params = {"q": query}
    if start is not None and end is not None:
        params |= {"from": utc_iso(start), "to": utc_iso(end)}
    elif range_key:
        params["range"] = range_key
    return "/logs?" + urlencode(params)


def url_window(start: object, end: object) -> dict | None:
    """The window a link to the Logs page names with ``from`` and ``to`` (ISO 8601 or epoch
    seconds), or None when it names none or one that does not run forward."""
    try:
        lo, hi = parse_timestamp(start), parse_timestamp(end)
    except ValueError:
        return None
    return {"from": lo, "to": hi} if lo < hi else None


def view(
    text: str | None,
    levels: list[str] | None,
    range_key: str | None,
    window: dict | None,
    now: float,
) -> dict:
    """The search the page runs: the query typed plus one ``-level:x`` per level switched
    off, over a fixed time range (a preset ends now, so later blocks agree with the first).

    FieldError names ``q`` with the position of a mistake.
    """
    text = (text or "").strip()
    shown = [lv for lv in LEVELS if lv in (levels or [])]
    hidden = " ".join(f"-level:{lv}" for lv in LEVELS if lv not in shown)
    q = " ".join(part for part in (text, hidden) if part)
    # Checked as it will run: the negations can push the text past the length or term
    # limits, and the grid and histogram would only fail later.
    build_query(q, None, None, None)
    if window:
        start, end = float(window["from"]), float(window["to"])
    else:
        start, end = preset_window(range_key, now)
    return {
        "text": text,
        "q": q,
        "levels": shown,
        "from": start,
        "to": end,
    }


def window_from_bar(click: dict | None, step: float) -> dict | None:
    """The time range of the histogram bar that was clicked, or None (also for a click
    the chart would not have sent)."""
    try:
        start = float(click["points"][0]["customdata"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return {"from": start, "to": start + step}


def grid_block(
    rt: Runtime, state: dict, start_row: int, end_row: int, cursors: dict[str, str]
) -> tuple[list[dict], int | None, dict[str, str]]:
    """Rows ``start_row``..``end_row`` of the search, newest first; the total when this
    block reached the end (else None), and the cursors updated with the next block's.

    A block that follows one already read continues from its cursor; a jump further
    down starts from the nearest known cursor and skips the rest. Everything here comes
    back from the browser: FieldError names what the page would not have sent.
    """
    if not isinstance(start_row, int) or start_row < 0:
        raise FieldError("startRow", "must be a row number, 0 or more")
    if not isinstance(end_row, int) or not start_row < end_row <= start_row + MAX_BLOCK_ROWS:
        raise FieldError("endRow", f"must be 1 to {MAX_BLOCK_ROWS} rows past startRow")
    query, start, end = _search(state)
    base = max((row for row in _rows(cursors) if row <= start_row), default=0)
    page = rt.logs.search(
        query,
        start=start,
        end=end,
        cursor=cursors.get(str(base)),
        limit=end_row - start_row,
        offset=start_row - base,
    )
    rows = [record.to_dict() for record in page.records]
    updated = dict(cursors)
    if page.records:
        updated[str(start_row + len(rows))] = encode_cursor(page.records[-1])
    if len(updated) > MAX_CURSORS:
        for row in sorted(updated, key=int)[: len(updated) - MAX_CURSORS]:
            del updated[row]
    total = None if page.next_cursor else start_row + len(rows)
    return rows, total, updated


def level_histogram(rt: Runtime, state: dict, now: float) -> dict:
    """Counts per level per bucket over the page's range: ``{"step", "buckets"}``."""
    query, start, end = _search(state)
    return histogram(rt, query, start.timestamp(), end.timestamp(), HISTOGRAM_BUCKETS, now)


def _search(state: dict) -> tuple[Query, datetime, datetime]:
    """The query and range of a search ``view`` made; FieldError names ``view`` when
    the browser sent back something else."""
    try:
        start, end = (datetime.fromtimestamp(float(state[k]), UTC) for k in ("from", "to"))
        text = state["q"]
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise FieldError("view", "not a search this page made") from None
    if not isinstance(text, str):
        raise FieldError("view", "not a search this page made")
    return build_query(text, None, None, None), start, end


def _rows(cursors: dict[str, str]) -> list[int]:
    """The rows the cursors lead to; FieldError when one is not a cursor of this page."""
    try:
        for cursor in cursors.values():
            decode_cursor(cursor)
        return [int(row) for row in cursors]
    except (TypeError, ValueError, AttributeError, OverflowError, OSError):
        raise FieldError("cursors", "not cursors this page made") from None


def detail(row: dict | None) -> dict | None:
    """The record as the detail panel shows it: its fields, the time readable (UTC) and
    as given, the full message, the attributes as indented JSON, and the query terms a
    click on a value adds (``source``, ``host`` and each plain attribute)."""
    if not isinstance(row, dict) or not isinstance(row.get("id"), int):
        return None
    attrs = row.get("attrs") if isinstance(row.get("attrs"), dict) else {}
    source, host = str(row.get("source", "")), str(row.get("host", ""))
    return {
        "id": row.get("id"),
        "ts": row.get("ts"),
        "time": readable_time(row.get("ts")),
        "level": row.get("level"),
        "source": source,
        "host": host,
        "message": str(row.get("message", "")),
        "attrs": json.dumps(attrs, indent=2, ensure_ascii=False, sort_keys=True),
        "terms": {
            "source": query_term("source", source),
            "host": query_term("host", host),
            "attrs": [query_term(f"attrs.{path}", value) for path, value in _attr_values(attrs)],
        },
    }


def readable_time(ts: object) -> str:
    """An ISO 8601 time as ``2026-03-01 08:00:00.250 UTC`` (milliseconds only when there
    are some); anything else as it came."""
    try:
        moment = datetime.fromisoformat(str(ts))
    except ValueError:
        return str(ts or "")
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return f"{text} UTC"


def query_term(field: str, value: object) -> str:
    """``field:value`` in the query language, the value quoted (and escaped) when it has
    a space, a quote or a backslash, so the term matches exactly that value."""
    text = _plain(value)
    if _BARE_VALUE.fullmatch(text):
        return f"{field}:{text}"
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'{field}:"{escaped}"'


def add_term(text: str | None, term: str) -> str:
    """The query ``text`` with ``term`` added (ANDed), unless it has that term already."""
    text = (text or "").strip()
    if term in text.split():
        return text
    return f"{text} {term}".strip()


def surrounding(record: dict | None) -> tuple[str, dict] | None:
    """The search for the lines around a record: the query for its host and source and a
    window of ``SURROUNDING_SPAN`` seconds either side of its time (None for no record)."""
    if not isinstance(record, dict):
        return None
    try:
        ts = datetime.fromisoformat(str(record["ts"])).timestamp()
    except (KeyError, ValueError):
        return None
    terms = (query_term(field, record.get(field, "")) for field in ("host", "source"))
    return " ".join(terms), {"from": ts - SURROUNDING_SPAN, "to": ts + SURROUNDING_SPAN}


def _plain(value: object) -> str:
    # As the query language compares attribute values: booleans as true/false.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _attr_values(attrs: Mapping, prefix: str = "") -> list[tuple[str, object]]:
    """(dotted path, value) of every non-empty string, number and boolean in ``attrs``
    that an ``attrs.`` term can name."""
    found: list[tuple[str, object]] = []
    for key in sorted(attrs, key=str):
        path = f"{prefix}{key}"
        if not _ATTR_KEY.fullmatch(str(key)) or len(path) > _MAX_ATTR_PATH:
            continue
        value = attrs[key]
        if isinstance(value, Mapping):
            found += _attr_values(value, f"{path}.")
        elif isinstance(value, str | int | float) and _plain(value) != "":
            found.append((path, value))
    return found


def summary(state: dict, data: dict) -> str:
    """The line under the histogram: how many records match, over which range (UTC)."""
    total = sum(bucket["count"] for bucket in data["buckets"])
    start, end = (datetime.fromtimestamp(state[k], UTC) for k in ("from", "to"))
    noun = "record" if total == 1 else "records"
    return (
        f"{total:,} matching {noun} from {start:%Y-%m-%d %H:%M:%S} to {end:%Y-%m-%d %H:%M:%S} UTC"
    )
