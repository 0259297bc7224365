"""Live sessions of a monitored PostgreSQL server (pg_stat_activity with pg_blocking_pids),
cancelling and terminating a backend, and the history of the sessions worth remembering.

Every read runs on a connection with a short statement_timeout and lock_timeout, as the
PostgreSQL collector's do, so a stuck server costs a request a couple of seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import psycopg

from collectors.postgres import LOCK_TIMEOUT_MS, STATEMENT_TIMEOUT_MS
from storage.diagnostics.activity import ActivityStore

log = logging.getLogger(__name__)

APPLICATION_NAME = "pulseboard-diagnostics"
OWN_APPLICATION = "pulseboard"
"""Application name of the store's pool; Pulseboard's collectors are ``pulseboard-…``.
Backends named so are never cancelled or terminated from Pulseboard."""
CLIENT_BACKEND = "client backend"
QUERY_CHARS = 2000
LONG_SECONDS = 5.0
"""A query running, or a transaction idle, longer than this is worth a look (and a row in
the activity history)."""
MAX_PID = 2**31 - 1

_SESSIONS = f"""
SELECT pid, COALESCE(datname, ''), COALESCE(usename, ''), COALESCE(application_name, ''),
  COALESCE(host(client_addr), ''), COALESCE(state, ''), COALESCE(wait_event_type, ''),
  COALESCE(wait_event, ''), COALESCE(backend_type, ''),
  EXTRACT(EPOCH FROM now() - query_start)::float8,
  EXTRACT(EPOCH FROM now() - xact_start)::float8,
  EXTRACT(EPOCH FROM now() - state_change)::float8,
  left(COALESCE(query, ''), {QUERY_CHARS}), pg_blocking_pids(pid)
FROM pg_stat_activity
WHERE pid <> pg_backend_pid()
ORDER BY pid
"""
_ONE_SESSION = (
    "SELECT COALESCE(backend_type, ''), COALESCE(application_name, ''), "
    f"left(COALESCE(query, ''), {QUERY_CHARS}), pid = pg_backend_pid() "
    "FROM pg_stat_activity WHERE pid = %s"
)
SIGNALS = {"cancel": "pg_cancel_backend", "terminate": "pg_terminate_backend"}


@dataclass(frozen=True, slots=True)
class Session:
    """One backend as pg_stat_activity shows it; durations in seconds (None when unset)."""

    pid: int
    datname: str
    usename: str
    application_name: str
    client_addr: str
    state: str
    wait_event_type: str
    wait_event: str
    backend_type: str
    query_s: float | None
    xact_s: float | None
    state_s: float | None
    query: str
    blocked_by: list[int]
    """The pids this one waits for, in pg_blocking_pids order (lock holders first)."""

    @property
    def long_running(self) -> bool:
        """An active query running for longer than ``LONG_SECONDS``."""
        return self.state == "active" and (self.query_s or 0) > LONG_SECONDS

    @property
    def idle_in_transaction(self) -> bool:
        """Idle inside a transaction (holding its locks) for longer than ``LONG_SECONDS``."""
        return self.state.startswith("idle in transaction") and (self.state_s or 0) > LONG_SECONDS

    def as_dict(self) -> dict:
        """The session as plain values, with its two flags."""
        return {
            **asdict(self),
            "long_running": self.long_running,
            "idle_in_transaction": self.idle_in_transaction,
        }


class Refused(Exception):
    """The backend may not be signalled from Pulseboard; the message says why."""

    def __init__(self, reason: str, query: str) -> None:
        super().__init__(reason)
        self.query = query


class NoSuchBackend(LookupError):
    """No backend has that pid."""


@dataclass(frozen=True, slots=True)
class Signalled:
    """What signalling a backend did: the query it was running and whether PostgreSQL
    delivered the signal."""

    pid: int
    query: str
    delivered: bool


def open_connection(conninfo: str) -> psycopg.Connection:
    """An autocommit connection to ``conninfo`` under short timeouts, named as Pulseboard's."""
    return psycopg.connect(
        conninfo,
        autocommit=True,
        connect_timeout=3,
        application_name=APPLICATION_NAME,
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={LOCK_TIMEOUT_MS}",
    )


@contextmanager
def connect(conninfo: str) -> Iterator[psycopg.Connection]:
    """``open_connection(conninfo)``, closed afterwards."""
    conn = open_connection(conninfo)
    try:
        yield conn
    finally:
        conn.close()


def sessions(conn: psycopg.Connection) -> list[Session]:
    """Every backend of the server but the reading one, by pid."""
    return [Session(*row[:13], blocked_by=list(row[13] or ())) for row in conn.execute(_SESSIONS)]


def signal(conn: psycopg.Connection, pid: int, action: str) -> Signalled:
    """Cancel the query of (``action`` "cancel") or terminate (``"terminate"``) backend
    ``pid``; ``Refused`` for Pulseboard's own and non-client backends, ``NoSuchBackend`` when
    no backend has that pid."""
    row = conn.execute(_ONE_SESSION, (pid,)).fetchone()
    if row is None:
        raise NoSuchBackend(f"no backend has pid {pid}")
    backend_type, application, query, is_self = row
    if is_self or application == OWN_APPLICATION or application.startswith(f"{OWN_APPLICATION}-"):
        raise Refused(
            f"pid {pid} is Pulseboard's own connection ({application or 'this one'})", query
        )
    if backend_type != CLIENT_BACKEND:
        raise Refused(
            f"pid {pid} is a {backend_type or 'server'} process, not a client session", query
        )
    delivered = conn.execute(f"SELECT {SIGNALS[action]}(%s)", (pid,)).fetchone()[0]
    return Signalled(pid, query, bool(delivered))


def worth_remembering(session: Session, blocking: set[int]) -> bool:
    """Blocked, blocking others, running long, or idle in a transaction for long."""
    return (
        bool(session.blocked_by)
        or session.pid in blocking
        or session.long_running
        or session.idle_in_transaction
    )


class ActivityHistory:
    """The leader's job: at each run, store each target's sessions worth remembering, and
    trim what is older than ``retention`` seconds once per ``trim_every``."""

    def __init__(
        self,
        conninfo: dict[str, str],
        store: ActivityStore,
        retention: float,
        trim_every: float = 3600.0,
    ) -> None:
        self.conninfo = conninfo
        self.store = store
        self.retention = retention
        self.trim_every = trim_every
        self._connections: dict[str, psycopg.Connection] = {}
        self._trimmed_at = 0.0

    def run(self, now: float | None = None) -> int:
        """One pass over every target; the number of sessions stored."""
        now = time.time() if now is None else now
        stored = 0
        for target in self.conninfo:
            try:
                current = sessions(self._connection(target))
            except psycopg.Error as exc:
                log.warning("activity of %s not read: %s", target, exc)
                self._drop(target)
                continue
            blocking = {pid for s in current for pid in s.blocked_by}
            kept = [s for s in current if worth_remembering(s, blocking)]
            stored += self.store.write(target, now, [asdict(s) for s in kept])
        if now - self._trimmed_at >= self.trim_every:
            self.store.trim(now - self.retention)
            self._trimmed_at = now
        return stored

    def close(self) -> None:
        """Close the connections this job keeps open."""
        for target in list(self._connections):
            self._drop(target)

    def _connection(self, target: str) -> psycopg.Connection:
        conn = self._connections.get(target)
        if conn is None or conn.closed or conn.broken:
            conn = open_connection(self.conninfo[target])
            self._connections[target] = conn
        return conn

    def _drop(self, target: str) -> None:
        conn = self._connections.pop(target, None)
        if conn is not None and not conn.closed:
            conn.close()
