"""Leader election: exactly one process runs the collectors and jobs at a time.

On PostgreSQL a session advisory lock on a dedicated connection; on SQLite an exclusive
file lock next to the database. Both are released by the operating system or the server
when the holder dies, so a follower takes over at its next attempt.

Each holding of a lock is a *term*, numbered by a generation. On PostgreSQL the lock's
connection can break while its process lives on (the server restarts, the network goes):
the leader then keeps its term and goes on collecting, since nobody can take the lock
while the database is out of reach. When it reconnects it takes the lock again and, if
nobody claimed a newer term meanwhile, carries on with the same one; otherwise it no longer
leads. The generation lives in ``leader_terms``: a new leader claims the next one while
holding the lock, and every write of a leader checks its own inside the write transaction
(``fence``), so a process that lost the lock can never write after a successor started.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import Protocol

import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

LOCK_KEY = 0x50554C5345  # "PULSE": the advisory lock id shared by every Pulseboard process
CONNECT_TIMEOUT = 3
CLAIM_LOCK_TIMEOUT_MS = 5000
"""How long claiming a term waits for the former leader's writes still in flight."""

_CLAIM = (
    "INSERT INTO leader_terms (lock_key, generation) VALUES (%s, 1) "
    "ON CONFLICT (lock_key) DO UPDATE SET generation = leader_terms.generation + 1 "
    "RETURNING generation"
)
_TERM_AND_UPTIME = (
    "SELECT (SELECT generation FROM leader_terms WHERE lock_key = %s), "
    "EXTRACT(EPOCH FROM now() - pg_postmaster_start_time())"
)


class NotLeader(RuntimeError):
    """A write was refused: this process's term of the leader lock is over."""


class LeaderLock(Protocol):
    """A lock held by at most one process; ``try_acquire`` is polled by every process."""

    @property
    def generation(self) -> int | None:
        """The term this process leads (None: it does not lead)."""
        ...

    def try_acquire(self) -> bool:
        """Take or keep the lock; True while this process leads."""
        ...

    def release(self) -> None:
        """Give up leadership."""
        ...

    def fence(self, conn: Connection) -> None:
        """Raise ``NotLeader`` unless this process's term is current, inside ``conn``'s
        transaction and until it ends."""
        ...


class PostgresLeaderLock:
    """A session-level ``pg_try_advisory_lock`` held on a connection of its own, with the
    terms of ``leader_terms`` (see the module docstring)."""

    def __init__(self, database_url: str, key: int = LOCK_KEY, restart_grace: float = 15) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._key = key
        self._restart_grace = restart_grace
        self._conn: psycopg.Connection | None = None
        self._held = False
        self._generation: int | None = None
        self._mutex = threading.Lock()

    @property
    def generation(self) -> int | None:
        """The term this process leads, kept while only its connection is lost."""
        return self._generation

    def try_acquire(self) -> bool:
        """True if this process leads: it holds the lock, or held it and cannot reach the
        database to tell (a broken connection is retried once at once)."""
        with self._mutex:
            for attempt in (1, 2):
                try:
                    self._acquire()
                    break
                except psycopg.Error as exc:
                    self._drop_connection()
                    if attempt == 2:
                        log.warning("leader lock connection failed: %s", exc)
            return self._generation is not None

    def _acquire(self) -> None:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._held = False
            self._conn = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                keepalives=1,
                keepalives_idle=5,
                keepalives_interval=2,
                keepalives_count=2,
                application_name="pulseboard-leader",
                options=f"-c lock_timeout={CLAIM_LOCK_TIMEOUT_MS}",
            )
        if self._held:
            self._conn.execute("SELECT 1")
            return
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
        if not (row and row[0]):
            if self._generation is not None:
                log.warning("another process took the leader lock: this one no longer leads")
            self._generation = None
            return
        self._held = True
        self._generation = self._claim(self._conn)
        if self._generation is None:
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
            self._held = False

    def _claim(self, conn: psycopg.Connection) -> int | None:
        """The term to lead under, the lock just taken; None to leave it to an earlier
        leader for now."""
        current, uptime = conn.execute(_TERM_AND_UPTIME, (self._key,)).fetchone()
        if current is not None and current == self._generation:
            return current  # nobody led since this process lost its connection
        if current is not None and self._generation is None and uptime < self._restart_grace:
            # The server has just (re)started: the leader from before may be alive with a
            # backlog to write; give it the chance to take its term back first.
            return None
        (generation,) = conn.execute(_CLAIM, (self._key,)).fetchone()
        return generation

    def fence(self, conn: Connection) -> None:
        """Raise ``NotLeader`` unless this process's term is the current one. The row stays
        share-locked until ``conn``'s transaction ends, so a successor's claim waits for it."""
        current = conn.execute(
            text("SELECT generation FROM leader_terms WHERE lock_key = :key FOR SHARE"),
            {"key": self._key},
        ).scalar()
        if self._generation is None or current != self._generation:
            raise NotLeader(f"leader term {self._generation} is over (current: {current})")

    def release(self) -> None:
        """Give up leadership: the lock is free for others when this returns.

        Closing the connection alone frees the lock only once the server backend has
        exited, which happens after ``close()`` returns; so unlock explicitly first.
        """
        with self._mutex:
            if self._held and self._conn is not None and not self._conn.closed:
                try:
                    self._conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
                except psycopg.Error:
                    log.debug("unlocking the leader lock failed", exc_info=True)
            self._drop_connection()
            self._generation = None

    def _drop_connection(self) -> None:
        self._held = False
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                log.debug("closing the leader connection failed", exc_info=True)
        self._conn = None


class FileLeaderLock:
    """An exclusive ``flock`` on a file in the data dir, for the embedded SQLite setup.

    The lock cannot be lost while its process lives, so the fence only checks it is held.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self._terms = 0

    @property
    def generation(self) -> int | None:
        """How many times this process took the lock, while it holds it."""
        return self._terms if self._fd is not None else None

    def try_acquire(self) -> bool:
        """True if this process holds the lock."""
        if self._fd is not None:
            return True
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        self._terms += 1
        return True

    def fence(self, conn: Connection) -> None:
        """Raise ``NotLeader`` unless this process holds the lock."""
        if self._fd is None:
            raise NotLeader("this process does not hold the leader lock")

    def release(self) -> None:
        """Unlock and close the lock file."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def make_leader_lock(database_url: str, data_dir: Path, ttl: float = 15) -> LeaderLock:
    """The advisory lock on Postgres, else a file lock beside the SQLite database.

    ``ttl`` bounds how long, after the database server (re)starts, a process that did not
    lead waits for the earlier leader to take its term back.
    """
    if database_url.startswith("postgresql"):
        return PostgresLeaderLock(database_url, restart_grace=ttl)
    return FileLeaderLock(data_dir / "scheduler.lock")
