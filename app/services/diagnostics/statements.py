"""Diagnostics · Statements: the PostgreSQL databases watched, whether pg_stat_statements
can be read on them (and what to change when not), statement rankings over a range, one
statement's history, EXPLAIN, and the ranking's download."""

from __future__ import annotations

import math
import re
from urllib.parse import urlencode

import psycopg

from app.runtime import Runtime
from app.services import FieldError, Forbidden, NotFound, Unavailable
from app.services.accounts import Actor
from app.services.diagnostics import pg_targets
from app.services.downloads import Download, Table, file_name, table_download, utc_iso
from app.services.timerange import check_range
from app.settings import Settings
from collectors import pg_explain, pg_statements
from storage.diagnostics.statements import ORDERS, StatementStore

HISTORY_POINTS = 120
"""Buckets of a statement's history chart."""
MAX_LIMIT = 500
WATCHED_RETRY_AFTER = 10
"""Seconds a caller is told to wait when a watched database does not answer."""
QUERYID = re.compile(r"^-?[0-9]{1,20}$")
NO_POSTGRES = (
    "Pulseboard watches no PostgreSQL database: its own store is SQLite and "
    "PULSEBOARD_MONITOR_POSTGRES is empty. Set PULSEBOARD_MONITOR_POSTGRES to the URL of "
    "each database to watch (comma-separated, e.g. postgresql://monitor:secret@db:5432/app) "
    "and restart Pulseboard; each needs pg_stat_statements preloaded and created."
)
EXPORT_PATH = "/api/v1/admin/diagnostics/statements/export"
EXPORT_COLUMNS = (
    "database",
    "queryid",
    "query",
    "calls",
    "total_time_ms",
    "mean_time_ms",
    "rows",
    "shared_blks_hit",
    "shared_blks_read",
    "share_of_total",
)


def store(rt: Runtime) -> StatementStore:
    """The statement store of the runtime's database."""
    return StatementStore(rt.engine)


def _chosen(rt: Runtime, database: str | None) -> dict[str, str]:
    watched = pg_targets.targets(rt)
    if database is None:
        return watched
    if database not in watched:
        names = ", ".join(watched) or "none"
        raise FieldError("database", f"not a watched database (watched: {names})")
    return {database: watched[database]}


def availability(rt: Runtime, database: str | None = None) -> tuple[bool, str | None]:
    """Whether pg_stat_statements can be read on the chosen database (on at least one,
    when none is named), and what to change on each where it cannot (None: nothing)."""
    chosen = _chosen(rt, database)
    if not chosen:
        return False, NO_POSTGRES
    reasons = {name: pg_statements.check(conninfo) for name, conninfo in chosen.items()}
    missing = {name: reason for name, reason in reasons.items() if reason is not None}
    if not missing:
        return True, None
    many = len(chosen) > 1
    text = " ".join(f"{name}: {reason}" if many else reason for name, reason in missing.items())
    return len(missing) < len(chosen), text


def _check_order(order: str, limit: int) -> None:
    if order not in ORDERS:
        raise FieldError("order", f"must be one of {', '.join(ORDERS)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise FieldError("limit", f"must be between 1 and {MAX_LIMIT}")


def top(
    rt: Runtime,
    start: float,
    end: float,
    order: str = "total_time",
    limit: int = 10,
    database: str | None = None,
) -> dict:
    """The statements that did most of ``order`` in [start, end) on ``database`` (every
    watched one when None): ``{"available", "reason"?, "items": [...]}``."""
    check_range(start, end)
    _check_order(order, limit)
    chosen = _chosen(rt, database)
    available, reason = availability(rt, database)
    ranked = store(rt).rank(start, end, list(chosen), order, limit)
    out: dict = {"available": available}
    if reason is not None:
        out["reason"] = reason
    out["items"] = [
        {
            "database": r.target,
            "queryid": r.queryid,
            "query": r.query,
            "calls": r.calls,
            "total_time_ms": r.total_time_ms,
            "mean_time_ms": r.mean_time_ms,
            "rows": r.rows,
            "shared_blks_hit": r.shared_blks_hit,
            "shared_blks_read": r.shared_blks_read,
            "share_of_total": r.share_of_total,
        }
        for r in ranked
    ]
    return out


def detail(
    rt: Runtime, queryid: str, start: float, end: float, database: str | None = None
) -> dict:
    """One statement: its text and its calls, total and mean time over [start, end)."""
    check_range(start, end)
    if not QUERYID.fullmatch(queryid):
        raise FieldError("queryid", "must be a pg_stat_statements queryid (an integer)")
    watched = _chosen(rt, database)
    found = [s for s in store(rt).statement(database, queryid) if s.target in watched]
    if not found:
        raise NotFound(f"no statement {queryid} is stored")
    if len(found) > 1:
        names = ", ".join(s.target for s in found)
        raise FieldError("database", f"statement {queryid} is in several databases: {names}")
    info = found[0]
    step = max(60, math.ceil((end - start) / HISTORY_POINTS))
    history = store(rt).history(info.target, queryid, start, end, step)
    return {
        "database": info.target,
        "queryid": queryid,
        "query": info.query,
        "username": info.username,
        "first_seen": info.first_seen,
        "last_seen": info.last_seen,
        "from": start,
        "to": end,
        "step": step,
        "calls": sum(p["calls"] for p in history),
        "total_time_ms": sum(p["total_time_ms"] for p in history),
        "history": history,
    }


def explain(rt: Runtime, database: str, query: str, analyze: bool, actor: Actor) -> dict:
    """The plan of ``query`` on ``database``; with ``analyze`` (admins only, audited) the
    statement runs, in a read-only transaction that is rolled back."""
    conninfo = _chosen(rt, database)[database]
    if analyze and actor.account.role != "admin":
        raise Forbidden("EXPLAIN ANALYZE runs the statement: only an admin may ask for it")
    try:
        pg_explain.inspect(query, analyze)
        if analyze:  # audited before it runs: a statement cancelled half-way ran too
            rt.accounts.audit(
                "diagnostics.explain.analyze",
                actor=actor.account.name,
                target=database,
                remote_addr=actor.remote_addr,
                details={"query": query[:2000]},
            )
        plan = pg_explain.explain(conninfo, query, analyze)
    except pg_explain.Refused as exc:
        raise FieldError("query", str(exc)) from None
    except psycopg.errors.QueryCanceled:
        seconds = pg_explain.EXPLAIN_TIMEOUT_MS / 1000
        raise FieldError("query", f"took longer than {seconds:g} s and was cancelled") from None
    except psycopg.Error as exc:
        if exc.sqlstate is None:  # no answer from the server: it is away, not the query
            message = f"{database} could not be reached: {exc}".strip()[:300]
            raise Unavailable(message, WATCHED_RETRY_AFTER) from None
        raise FieldError("query", f"PostgreSQL refused it: {exc}".strip()[:500]) from None
    return {
        "database": database,
        "query": query,
        "analyze": plan.analyze,
        "generic": plan.generic,
        "server_version": plan.server_version,
        "plan": plan.plan,
        "text": plan.text,
    }


def export_href(start: float, end: float, order: str, database: str | None, fmt: str) -> str:
    """The address of the ranking's download for these filters."""
    params = {"from": start, "to": end, "order": order, "format": fmt}
    if database:
        params["database"] = database
    return f"{EXPORT_PATH}?{urlencode(params)}"


def export(
    rt: Runtime,
    start: float,
    end: float,
    order: str,
    limit: int,
    database: str | None,
    fmt: str,
    *,
    actor: str,
    remote_addr: str | None,
) -> Download:
    """The ranking ``top`` gives, as a CSV or JSON download; audited."""
    result = top(rt, start, end, order, limit, database)
    filename = file_name(f"statements-{order}", start, end, fmt)
    table = Table(fmt, EXPORT_COLUMNS, result["items"])
    details = {
        "database": database,
        "order": order,
        "limit": limit,
        "from": utc_iso(start),
        "to": utc_iso(end),
        "format": fmt,
        "file": filename,
    }
    return table_download(
        rt,
        "diagnostics.statements.export",
        filename,
        table,
        actor=actor,
        remote_addr=remote_addr,
        details=details,
    )


MAINTAIN_INTERVAL = 600
"""Seconds between two rollups and trims of the statement history."""


def maintain(settings: Settings, statements: StatementStore, now: float) -> int:
    """Roll complete hours up and delete what is past the metrics' raw and rollup
    retention; return the rows deleted."""
    statements.rollup(now)
    return statements.trim(
        now,
        raw_retention=settings.raw_retention_hours * 3600,
        rollup_retention=settings.rollup_retention_days * 86400,
    )
