"""The diagnostics summary (GET /api/v1/admin/monitoring/diagnostics): the top of each
section in one call, as the seed asks.

A part that cannot answer now (a watched server away) is left empty and named with its
reason under ``unavailable``: one outage never hides the rest of the summary.
"""

from __future__ import annotations

from collections.abc import Callable

from app.runtime import Runtime
from app.services import ServiceError, database_unreachable
from app.services.diagnostics import checks, endpoints, errors, statements
from app.services.downloads import utc_iso
from collectors.pool import pool_state

TOP = 10

Part = Callable[[Runtime, float, float], object]


def _slow_queries(rt: Runtime, start: float, end: float) -> list[dict]:
    ranking = statements.top(rt, start, end, limit=TOP)
    if not ranking["available"]:
        raise ServiceError(ranking.get("reason") or "pg_stat_statements is not available")
    return ranking["items"]


PARTS: dict[str, tuple[Part, object]] = {
    "slow_queries": (_slow_queries, []),
    "endpoints": (lambda rt, start, end: endpoints.summary(rt, start, end), []),
    "error_groups": (lambda rt, start, end: errors.groups(rt, start, end, limit=TOP), []),
    "dependencies": (lambda rt, start, end: checks.dependencies(rt), []),
}
"""Each part of the summary: how to read it, and what it shows when it cannot."""


def summary(rt: Runtime, start: float, end: float, now: float) -> dict:
    """The summary over [start, end]; see the module docstring for parts that fail."""
    out: dict[str, object] = {
        "generated_at": utc_iso(now),
        "from": utc_iso(start),
        "to": utc_iso(end),
    }
    unavailable: dict[str, str] = {}
    for key, (read, empty) in PARTS.items():
        try:
            out[key] = read(rt, start, end)
        except ServiceError as exc:
            out[key], unavailable[key] = empty, exc.message
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            out[key], unavailable[key] = empty, "the database does not answer now"
    out["db_pool"] = pool_state(rt.engine).to_dict()
    out["unavailable"] = unavailable
    return out
