"""Error groups for the Diagnostics page and its API: the groups of a range, one group in
detail, the link to its records on the Logs page, and the download."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode

from app.runtime import Runtime
from app.services import FieldError, NotFound
from app.services.downloads import Download, Table, file_name, table_download, utc_iso
from app.services.log_view import logs_href
from app.services.timerange import RANGES, check_range
from storage.diagnostics.errors import ErrorGroupStore
from storage.logquery import FINGERPRINT, Query, QueryError, parse

MAX_GROUPS = 1000
"""Groups one answer or download lists at most."""
EXPORT_COLUMNS = (
    "fingerprint",
    "title",
    "level",
    "first_seen",
    "last_seen",
    "count",
    "total",
    "hosts",
    "sources",
    "new",
    "regressed",
    "sample",
)


def _query(text: str | None) -> Query:
    try:
        return parse(text or "")
    except QueryError as exc:
        raise FieldError("q", str(exc)) from None


def logs_link(fingerprint: str, span: float) -> str:
    """The Logs page showing a group's records over the shortest preset range that covers
    ``span`` seconds back from now (within a minute: the range was chosen a moment ago),
    or the longest there is."""
    fits = (key for key, seconds in RANGES.items() if seconds + 60 >= span)
    preset = next(fits, list(RANGES)[-1])
    return logs_href(f"fingerprint:{fingerprint}", range_key=preset)


def _item(group: dict) -> dict:
    return {
        "fingerprint": group["fingerprint"],
        "title": group["title"],
        "level": group["level"],
        "first_seen": utc_iso(group["first_seen"]),
        "last_seen": utc_iso(group["last_seen"]),
        "count": group["in_range"],
        "total": group["total"],
        "hosts": group["hosts"],
        "sources": group["sources"],
        "sample": group["sample"],
        "new": group["new"],
        "regressed": group["regressed"],
        "sparkline": group["sparkline"],
    }


def groups(
    rt: Runtime,
    start: float,
    end: float,
    limit: int = 10,
    query: str | None = None,
    new_only: bool = False,
) -> list[dict]:
    """The error groups with records in [start, end) (matching the log ``query``), most
    records in the range first: ``count`` in the range, ``total`` ever, ``new`` when first
    seen in it, ``regressed`` when back in it after a quiet day, a ``sparkline`` of counts."""
    check_range(start, end)
    if not 1 <= limit <= MAX_GROUPS:
        raise FieldError("limit", f"must be 1 to {MAX_GROUPS}")
    store = ErrorGroupStore(rt.logs)
    found = store.groups(start, end, limit, _query(query), new_only=new_only)
    return [_item(g) for g in found]


def group(
    rt: Runtime, fingerprint: str, start: float, end: float, epoch_times: bool = False
) -> dict:
    """One group over [start, end): ``groups``' fields plus its ``series`` of counts per
    ``step`` seconds (``{"ts", "count"}``, bucket starts in ISO 8601, or epoch seconds with
    ``epoch_times``, as charts take them), when it regressed and the link to its records."""
    check_range(start, end)
    if not FINGERPRINT.fullmatch(fingerprint):
        raise FieldError("fingerprint", "must be 1 to 32 lowercase hex digits")
    found = ErrorGroupStore(rt.logs).group(fingerprint, start, end)
    if found is None:
        raise NotFound(f"No error group {fingerprint}.")
    return {
        **_item(found),
        "source": found["source"],
        "regressed_at": None if found["regressed_at"] is None else utc_iso(found["regressed_at"]),
        "step": found["step"],
        "series": [
            {"ts": ts if epoch_times else utc_iso(ts), "count": n} for ts, n in found["series"]
        ],
        "logs_url": logs_link(fingerprint, time.time() - start),
    }


def export(
    rt: Runtime,
    *,
    start: float,
    end: float,
    limit: int,
    query: str | None,
    new_only: bool,
    fmt: str,
    actor: str,
    remote_addr: str | None,
) -> Download:
    """The groups ``groups`` lists as a CSV or JSON download named after the range, audited."""
    rows = groups(rt, start, end, limit, query, new_only)
    filename = file_name("error-groups", start, end, fmt)
    details = {
        "from": utc_iso(start),
        "to": utc_iso(end),
        "limit": limit,
        "q": query,
        "new_only": new_only,
        "format": fmt,
        "file": filename,
    }
    return table_download(
        rt,
        "diagnostics.errors.export",
        filename,
        Table(fmt, EXPORT_COLUMNS, rows),
        actor=actor,
        remote_addr=remote_addr,
        details=details,
    )


# -- the page ---------------------------------------------------------------------------------

EXPORT = "/api/v1/admin/diagnostics/errors/export"
PAGE_LIMIT = 200
"""Groups the page lists."""
_BARS = "▁▂▃▄▅▆▇█"


def sparkline_text(counts: list[int]) -> str:
    """Counts as a line of block characters (a grid cell can show text, not a chart);
    a space where there were none."""
    peak = max(counts, default=0)
    if not peak:
        return " " * len(counts)
    return "".join(" " if n == 0 else _BARS[min(7, (n * 8 - 1) // peak)] for n in counts)


def grid_rows(items: list[dict]) -> list[dict]:
    """``groups``' items as the page's grid shows them."""
    return [
        {
            "id": item["fingerprint"],
            "title": item["title"],
            "badges": " ".join(
                name for name, on in (("New", item["new"]), ("Regressed", item["regressed"])) if on
            ),
            "level": item["level"],
            "count": item["count"],
            "total": item["total"],
            "trend": sparkline_text(item["sparkline"]),
            "hosts": ", ".join(item["hosts"]),
            "sources": ", ".join(item["sources"]),
            "last_seen": item["last_seen"],
        }
        for item in items
    ]


def linked_group(search: str | None) -> list[dict] | None:
    """The grid row to select for a page address (``?fingerprint=``), as the grid takes
    a selection; None when it names no valid fingerprint."""
    wanted = parse_qs((search or "").removeprefix("?")).get("fingerprint", [""])[0]
    return [{"id": wanted}] if FINGERPRINT.fullmatch(wanted) else None


def export_href(start: float, end: float, new_only: bool, fmt: str) -> str:
    """The download of the groups the page shows."""
    params = {"from": f"{start:.0f}", "to": f"{end:.0f}", "limit": PAGE_LIMIT, "format": fmt}
    if new_only:
        params["new_only"] = "true"
    return f"{EXPORT}?{urlencode(params)}"


def summary(items: list[dict]) -> str:
    """One line over the grid: how many groups, records, new and regressed ones."""
    if not items:
        return "No records at error or above in this range."
    records = sum(i["count"] for i in items)
    new = sum(i["new"] for i in items)
    regressed = sum(i["regressed"] for i in items)
    more = " (the busiest shown)" if len(items) >= PAGE_LIMIT else ""
    return f"{len(items)} groups{more}, {records} records; {new} new, {regressed} regressed."
