"""Connections to watched PostgreSQL databases: their shown names and short timeouts.

Every query runs under a short statement_timeout and lock_timeout, so a locked catalog or
a stuck server costs one collection a couple of seconds, never a hung collector.
"""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url

STATEMENT_TIMEOUT_MS = 2000
LOCK_TIMEOUT_MS = 1000


def target_name(url: str) -> str:
    """``host:port/db`` of a database URL, never its password."""
    parts = make_url(url)
    return f"{parts.host or 'localhost'}:{parts.port or 5432}/{parts.database or ''}"


def libpq_url(url: str) -> str:
    """The libpq connection URL of a SQLAlchemy database URL (password kept)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def connect(conninfo: str, statement_timeout_ms: int = STATEMENT_TIMEOUT_MS) -> psycopg.Connection:
    """An autocommit connection to a watched database under short statement and lock
    timeouts, named ``pulseboard-collector`` in pg_stat_activity."""
    return psycopg.connect(
        conninfo,
        autocommit=True,
        connect_timeout=3,
        application_name="pulseboard-collector",
        options=f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={LOCK_TIMEOUT_MS}",
    )
