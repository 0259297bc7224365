"""The CSV/JSON downloads of the Overview's series and the Settings audit log: exactly
the rows the series query and the audit log's filters give, streamed, named, audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from app.runtime import Runtime
from app.services import metrics
from app.services.downloads import Download, Table, file_name, table_download, utc_iso
from app.services.timerange import check_range

SERIES_COLUMNS = ("name", "host", "labels", "ts", "avg", "min", "max")
AUDIT_COLUMNS = ("id", "ts", "actor", "action", "target", "remote_addr", "details")
AUDIT_BATCH = 1000
"""Audit entries read per query while an export streams (keyset on the id)."""
NAMED_SERIES = 3
"""Up to this many metric names go into a file name; more are counted instead."""


def series_export(
    rt: Runtime,
    names: list[str],
    start: float | None,
    end: float | None,
    host: str | None,
    max_points: int,
    fmt: str,
    *,
    actor: str,
    remote_addr: str | None,
    now: float,
) -> Download:
    """The bucketed points of the series query for these parameters, one row a point:
    ``name, host, labels, ts, avg, min, max``. FieldError names a bad parameter."""
    result = metrics.series(rt, names, start, end, host, max_points, now)
    what = "+".join(names) if len(names) <= NAMED_SERIES else f"{len(names)}-metrics"
    filename = file_name(f"metrics-{what}", result["from"], result["to"], fmt)
    rows = (
        {
            "name": s["name"],
            "host": s["host"],
            "labels": s["labels"],
            "ts": utc_iso(ts),
            "avg": avg,
            "min": low,
            "max": high,
        }
        for s in result["series"]
        for ts, avg, low, high in s["points"]
    )
    table = Table(fmt, SERIES_COLUMNS, rows)
    details = {
        "name": names,
        "host": host,
        "from": utc_iso(result["from"]),
        "to": utc_iso(result["to"]),
        "max_points": max_points,
        "format": fmt,
        "file": filename,
    }
    return table_download(
        rt, "metrics.export", filename, table, actor=actor, remote_addr=remote_addr, details=details
    )


def audit_export(
    rt: Runtime,
    *,
    by: str | None,
    action: str | None,
    start: float | None,
    end: float | None,
    fmt: str,
    actor: str,
    remote_addr: str | None,
    now: float,
) -> Download:
    """Every audit entry matching the filters of the audit log (``by`` the acting user,
    ``action`` or a prefix ending in ``.``, ``start <= ts < end``), newest first, read
    from the database batch by batch as the download goes."""
    check_range(start, end)
    filename = file_name("audit", start, now if end is None else end, fmt)
    table = Table(fmt, AUDIT_COLUMNS, _audit_rows(rt, by, action, start, end))
    details = {
        "actor": by,
        "action": action,
        "from": None if start is None else utc_iso(start),
        "to": None if end is None else utc_iso(end),
        "format": fmt,
        "file": filename,
    }
    return table_download(
        rt, "audit.export", filename, table, actor=actor, remote_addr=remote_addr, details=details
    )


def _audit_rows(
    rt: Runtime, by: str | None, action: str | None, start: float | None, end: float | None
) -> Iterator[dict]:
    since, until = (None if t is None else datetime.fromtimestamp(t, UTC) for t in (start, end))
    before_id = None
    while True:
        batch = rt.accounts.list_audit(
            actor=by,
            action=action,
            since=since,
            until=until,
            before_id=before_id,
            limit=AUDIT_BATCH,
        )
        for record in batch:
            yield {
                "id": record.id,
                "ts": utc_iso(record.ts),
                "actor": record.actor,
                "action": record.action,
                "target": record.target,
                "remote_addr": record.remote_addr,
                "details": record.details,
            }
        if len(batch) < AUDIT_BATCH:
            return
        before_id = batch[-1].id
