"""Leader election: exactly one process runs the collectors and jobs at a time.

On PostgreSQL a session advisory lock on a dedicated connection; on SQLite an exclusive
file lock next to the database. Both are released by the operating system or the server
when the holder dies, so a follower takes over at its next attempt.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Protocol

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

LOCK_KEY = 0x50554C5345  # "PULSE": the advisory lock id shared by every Pulseboard process


class LeaderLock(Protocol):
    """A lock held by at most one process; ``try_acquire`` is polled by every process."""

    def try_acquire(self) -> bool: ...

    def release(self) -> None: ...


class PostgresLeaderLock:
    """A session-level ``pg_try_advisory_lock`` held on a connection of its own."""

    def __init__(self, database_url: str, key: int = LOCK_KEY) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._key = key
        self._conn: psycopg.Connection | None = None
        self._held = False

    def try_acquire(self) -> bool:
        """True if this process holds the lock (checking that its connection still lives)."""
        try:
            if self._conn is None or self._conn.closed:
                self._held = False
                self._conn = psycopg.connect(
                    self._conninfo,
                    autocommit=True,
                    connect_timeout=5,
                    keepalives=1,
                    keepalives_idle=5,
                    keepalives_interval=2,
                    keepalives_count=2,
                    application_name="pulseboard-leader",
                )
            if self._held:
                self._conn.execute("SELECT 1")
            else:
                row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
                self._held = bool(row and row[0])
        except psycopg.Error as exc:
            log.warning("leader lock connection failed: %s", exc)
            self._drop_connection()
        return self._held

    def release(self) -> None:
        """Give up leadership: the lock is free for others when this returns.

        Closing the connection alone frees the lock only once the server backend has
        exited, which happens after ``close()`` returns; so unlock explicitly first.
        """
        if self._held and self._conn is not None and not self._conn.closed:
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
            except psycopg.Error:
                log.debug("unlocking the leader lock failed", exc_info=True)
        self._drop_connection()

    def _drop_connection(self) -> None:
        self._held = False
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                log.debug("closing the leader connection failed", exc_info=True)
        self._conn = None


class FileLeaderLock:
    """An exclusive ``flock`` on a file in the data dir, for the embedded SQLite setup."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

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
        return True

    def release(self) -> None:
        """Unlock and close the lock file."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def make_leader_lock(database_url: str, data_dir: Path) -> LeaderLock:
    """The advisory lock on Postgres, else a file lock beside the SQLite database."""
    if database_url.startswith("postgresql"):
        return PostgresLeaderLock(database_url)
    return FileLeaderLock(data_dir / "scheduler.lock")
