"""The activity history: sessions of monitored PostgreSQL servers that were blocked,
blocking, running long or idle in a transaction, one row per session per collection."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import Engine, delete, insert, select

from storage.models import ActivitySample

TEXT_LIMITS = {"state": 32, "wait_event_type": 64, "wait_event": 64}
NAME_CHARS = 200
COLUMNS = (
    "ts",
    "target",
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


class ActivityStore:
    """Writes, reads and trims ``activity_samples``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, target: str, ts: float, sessions: Iterable[dict]) -> int:
        """Store ``sessions`` (as ``collectors.pg_activity.Session`` fields) seen on
        ``target`` at ``ts``; the number stored."""
        rows = [
            {
                "ts": ts,
                "target": target[:NAME_CHARS],
                "pid": s["pid"],
                **{key: (s[key] or "")[:size] for key, size in TEXT_LIMITS.items()},
                "query_s": s["query_s"],
                "xact_s": s["xact_s"],
                "blocked_by": json.dumps(list(s["blocked_by"])),
                "username": s["usename"][:NAME_CHARS],
                "application": s["application_name"][:NAME_CHARS],
                "client": s["client_addr"][:NAME_CHARS],
                "query": s["query"],
            }
            for s in sessions
        ]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(ActivitySample), rows)
        return len(rows)

    def read(self, target: str, start: float, end: float, limit: int = 1000) -> list[dict]:
        """The sessions stored for ``target`` from ``start`` to ``end``, newest first, at
        most ``limit``; ``blocked_by`` as a list of pids."""
        query = (
            select(*(getattr(ActivitySample, c) for c in COLUMNS))
            .where(
                ActivitySample.target == target,
                ActivitySample.ts >= start,
                ActivitySample.ts <= end,
            )
            .order_by(ActivitySample.ts.desc(), ActivitySample.pid)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
        for row in rows:
            row["blocked_by"] = json.loads(row["blocked_by"])
        return rows

    def trim(self, before: float) -> int:
        """Delete every session stored before ``before``; the number deleted."""
        with self.engine.begin() as conn:
            return conn.execute(delete(ActivitySample).where(ActivitySample.ts < before)).rowcount
