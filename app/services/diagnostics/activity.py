"""Activity and locks: the live sessions of a monitored PostgreSQL server, the blocking
forest built from ``pg_blocking_pids``, the history of the sessions worth remembering, and
the admin's cancel and terminate, every one audited.

In the forest a session blocked by several others appears once, under the first of its
blockers that pg_blocking_pids names (a holder of the lock it waits for comes before the
waiters queued ahead of it); each node lists all its blockers in ``blocked_by``.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import psycopg

from app.runtime import Runtime
from app.services import Forbidden, NotFound
from app.services.diagnostics import pg_targets
from app.services.downloads import Download, Table, file_name, table_download, utc_iso
from collectors import pg_activity
from collectors.pg_activity import Session
from storage.diagnostics.activity import ActivityStore

HISTORY_LIMIT = 500
SESSION_COLUMNS = (
    "pid",
    "datname",
    "usename",
    "application_name",
    "client_addr",
    "backend_type",
    "state",
    "wait_event_type",
    "wait_event",
    "query_s",
    "xact_s",
    "state_s",
    "long_running",
    "idle_in_transaction",
    "blocked_by",
    "query",
)
HISTORY_COLUMNS = (
    "time",
    "pid",
    "state",
    "wait_event_type",
    "wait_event",
    "query_s",
    "xact_s",
    "blocked_by",
    "username",
    "application",
    "client",
    "query",
)
EXPORT_PATH = "/api/v1/admin/diagnostics/activity/export"


def duration(session: Session) -> float | None:
    """How long the session has held what it holds: its transaction's age when in one,
    else its query's."""
    return session.xact_s if session.xact_s is not None else session.query_s


def by_interest(sessions: list[Session]) -> list[Session]:
    """Sessions worth a look (blocked, blocking, long) first, then the other client
    sessions, each longest first; server processes last."""
    blocking = {pid for s in sessions for pid in s.blocked_by}

    def key(s: Session) -> tuple:
        flagged = pg_activity.worth_remembering(s, blocking)
        client = s.backend_type == pg_activity.CLIENT_BACKEND
        return (not flagged, not client, -(duration(s) or 0.0), s.pid)

    return sorted(sessions, key=key)


def blocking_forest(sessions: list[Session]) -> list[dict]:
    """The blocking trees of ``sessions``: each root blocks others and waits for nobody
    shown; roots with the most sessions behind them first."""
    by_pid = {s.pid: s for s in sessions}
    parent = {
        s.pid: next(p for p in s.blocked_by if p in by_pid)
        for s in sessions
        if any(p in by_pid for p in s.blocked_by)
    }
    _break_cycles(parent)
    children: dict[int, list[int]] = {}
    for pid, blocker in parent.items():
        children.setdefault(blocker, []).append(pid)

    def node(pid: int) -> dict:
        s = by_pid[pid]
        return {
            "pid": pid,
            "query": s.query,
            "state": s.state,
            "wait_event": s.wait_event,
            "duration_s": duration(s),
            "usename": s.usename,
            "blocked_by": s.blocked_by,
            "blocked": [node(child) for child in sorted(children.get(pid, ()))],
        }

    roots = [node(pid) for pid in children if pid not in parent]
    roots.sort(key=lambda n: (-_size(n), n["pid"]))
    return roots


def _break_cycles(parent: dict[int, int]) -> None:
    """Make the smallest pid of each loop of ``parent`` a root (a deadlock lasts until
    PostgreSQL notices it, and a snapshot may catch one)."""
    for start in list(parent):
        seen: list[int] = []
        pid: int | None = start
        while pid is not None and pid in parent and pid not in seen:
            seen.append(pid)
            pid = parent.get(pid)
        if pid is not None and pid in seen:
            del parent[min(seen[seen.index(pid) :])]


def _size(node: dict) -> int:
    return 1 + sum(_size(child) for child in node["blocked"])


def forest_rows(forest: list[dict], depth: int = 0) -> Iterator[dict]:
    """The forest flattened depth first, each node with its ``depth`` (roots 0)."""
    for item in forest:
        yield {**{k: v for k, v in item.items() if k != "blocked"}, "depth": depth}
        yield from forest_rows(item["blocked"], depth + 1)


def activity(
    rt: Runtime, database: str | None, start: float, end: float, limit: int = HISTORY_LIMIT
) -> dict:
    """The sessions of ``database``'s server (flagged ones first, then client sessions by
    duration), its blocking forest and the remembered sessions from ``start`` to ``end``
    (newest first, at most ``limit``)."""
    name, conninfo = pg_targets.resolve(rt, database)
    with pg_targets.connected(name, conninfo) as conn:
        current = by_interest(pg_activity.sessions(conn))
    return {
        "database": name,
        "databases": list(pg_targets.targets(rt)),
        "long_seconds": pg_activity.LONG_SECONDS,
        "sessions": [s.as_dict() for s in current],
        "blocking": blocking_forest(current),
        "history": history(rt, name, start, end, limit),
    }


def history(rt: Runtime, name: str, start: float, end: float, limit: int) -> list[dict]:
    """The sessions remembered for target ``name`` in the range, newest first."""
    rows = ActivityStore(rt.engine).read(name, start, end, limit)
    return [{**row, "time": utc_iso(row["ts"])} for row in rows]


def page_view(rt: Runtime, database: str | None, start: float, end: float) -> dict:
    """``activity`` as the page shows it: grid rows keyed by ``id`` and the forest
    flattened into indented rows."""
    shown = activity(rt, database, start, end)
    return {
        **shown,
        "sessions": [{**s, "id": s["pid"]} for s in shown["sessions"]],
        "history": [{**h, "id": f"{h['ts']}-{h['pid']}"} for h in shown["history"]],
        "tree": list(forest_rows(shown["blocking"])),
    }


def export_href(database: str, table: str, start: float, end: float, fmt: str) -> str:
    """The address that downloads one of the section's tables as shown."""
    params = {"database": database, "table": table, "format": fmt}
    if table == "history":
        params.update({"from": f"{start:.0f}", "to": f"{end:.0f}"})
    return f"{EXPORT_PATH}?{urlencode(params)}"


def export(
    rt: Runtime,
    database: str | None,
    table: str,
    start: float,
    end: float,
    fmt: str,
    *,
    actor: str,
    remote_addr: str | None,
) -> Download:
    """The current sessions or the history of the range as CSV or JSON, audited."""
    shown = activity(rt, database, start, end, HISTORY_LIMIT)
    if table == "sessions":
        rows, columns, span = shown["sessions"], SESSION_COLUMNS, (None, end)
    else:
        rows, columns, span = shown["history"], HISTORY_COLUMNS, (start, end)
    what = f"activity-{table}-{shown['database']}"
    return table_download(
        rt,
        "diagnostics.activity.export",
        file_name(what, *span, fmt),
        Table(fmt, columns, rows),
        actor=actor,
        remote_addr=remote_addr,
        details={"database": shown["database"], "table": table, "format": fmt},
    )


def cancel(
    rt: Runtime, database: str | None, pid: int, actor: str, remote_addr: str | None
) -> dict:
    """Cancel the running query of backend ``pid`` (admin only, audited)."""
    return _signal(rt, database, pid, "cancel", actor, remote_addr)


def terminate(
    rt: Runtime, database: str | None, pid: int, actor: str, remote_addr: str | None
) -> dict:
    """End backend ``pid``'s session, rolling back its transaction (admin only, audited)."""
    return _signal(rt, database, pid, "terminate", actor, remote_addr)


def _signal(
    rt: Runtime, database: str | None, pid: int, action: str, actor: str, remote_addr: str | None
) -> dict:
    name, conninfo = pg_targets.resolve(rt, database)
    details: dict = {"database": name, "pid": pid}

    def audit(result: str, query: str | None = None) -> None:
        rt.accounts.audit(
            f"diagnostics.activity.{action}",
            actor=actor,
            target=f"postgres:{name}:pid:{pid}",
            remote_addr=remote_addr,
            details={**details, "query": query, "result": result},
        )

    with pg_targets.connected(name, conninfo) as conn:
        try:
            done = pg_activity.signal(conn, pid, action)
        except pg_activity.NoSuchBackend as exc:
            audit("no_such_backend")
            raise NotFound(f"No backend of {name} has pid {pid}.", {"pid": str(exc)}) from None
        except pg_activity.Refused as exc:
            audit(f"refused: {exc}", exc.query)
            raise Forbidden(f"Not done: {exc}.", {"pid": str(exc)}) from None
        except psycopg.errors.InsufficientPrivilege as exc:
            reason = str(exc).strip()[:300]
            audit(f"refused: {reason}")
            raise Forbidden(f"PostgreSQL refused: {reason}", {"pid": reason}) from None
    result = "delivered" if done.delivered else "not_delivered"
    audit(result, done.query)
    return {
        "database": name,
        "pid": pid,
        "action": action,
        "delivered": done.delivered,
        "query": done.query,
    }
