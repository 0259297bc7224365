"""The monitored PostgreSQL databases the diagnostics read: the PostgreSQL collector's
targets (the store when it is PostgreSQL, and every ``PULSEBOARD_MONITOR_POSTGRES`` URL),
chosen by the ``database`` parameter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from app.runtime import Runtime
from app.services import NotFound, Unavailable
from collectors import pg_activity
from collectors.postgres import PostgresCollector

RETRY_AFTER = 5
NO_TARGET = (
    "No PostgreSQL database is monitored: the store is SQLite and PULSEBOARD_MONITOR_POSTGRES "
    "is empty. Set it to the URLs of the databases to watch."
)


def targets(rt: Runtime) -> dict[str, str]:
    """Target name (``host:port/db``) -> connection string, in the collector's order."""
    for collector in rt.collectors:
        if isinstance(collector, PostgresCollector):
            return collector.conninfo
    return {}


def resolve(rt: Runtime, database: str | None) -> tuple[str, str]:
    """The name and connection string of ``database``, or of the first target when None;
    ``NotFound`` naming ``database`` for an unknown one or when none is monitored."""
    known = targets(rt)
    if not known:
        raise NotFound(NO_TARGET, {"database": "no PostgreSQL database is monitored"})
    name = database if database is not None else next(iter(known))
    if name not in known:
        raise NotFound(
            f"No monitored PostgreSQL database is named {name[:200]!r}.",
            {"database": f"not one of: {', '.join(known)}"[:300]},
        )
    return name, known[name]


@contextmanager
def connected(name: str, conninfo: str) -> Iterator[psycopg.Connection]:
    """A short-timeout connection to the target; a failure to reach it (or a read that
    timed out) is ``Unavailable``, said with the target's name."""
    try:
        with pg_activity.connect(conninfo) as conn:
            yield conn
    except psycopg.OperationalError as exc:
        raise Unavailable(
            f"PostgreSQL database {name} did not answer: {str(exc).strip()[:300]}", RETRY_AFTER
        ) from None
