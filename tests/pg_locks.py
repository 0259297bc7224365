"""A monitored PostgreSQL database of a test's own, and a lock scene on it: one session
holding ``LOCK TABLE … IN ACCESS EXCLUSIVE MODE`` in an open transaction and two waiters,
each on its own connection in its own thread."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from sqlalchemy.engine import make_url

from tests.conftest import wait_until

WAITER_QUERIES = ("SELECT count(*) FROM pb_locked", "UPDATE pb_locked SET n = n + 1")


def libpq(url: str) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``admin_url`` (dropped afterwards): its URL."""
    name = f"pulseboard_watched_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(libpq(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with psycopg.connect(libpq(admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Waiter:
    """A connection running one statement in a thread, and how that statement ended."""

    conn: psycopg.Connection
    query: str
    pid: int = field(init=False)
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.pid = self.conn.info.backend_pid

    def run(self) -> None:
        """Run the statement (it waits for the lock), keeping the error it ends with."""
        try:
            self.conn.execute(self.query)
        except psycopg.Error as exc:
            self.error = exc
        finally:
            self.done.set()


@dataclass
class LockScene:
    """The holder's connection and the two waiters."""

    holder: psycopg.Connection
    waiters: list[Waiter]
    holder_pid: int = field(init=False)

    def __post_init__(self) -> None:
        self.holder_pid = self.holder.info.backend_pid


def blocked_pids(url: str, holder: int) -> set[int]:
    """The pids pg_blocking_pids says wait for ``holder``."""
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", (holder,)
        ).fetchall()
    return {pid for (pid,) in rows}


@contextmanager
def lock_scene(url: str) -> Iterator[LockScene]:
    """Holder and both waiters in place (both seen waiting for the holder); afterwards
    every connection is closed and every thread joined."""
    dsn = libpq(url)
    with psycopg.connect(dsn, autocommit=True) as setup:
        setup.execute("CREATE TABLE IF NOT EXISTS pb_locked (n int)")
        setup.execute("INSERT INTO pb_locked VALUES (0)")
    holder = psycopg.connect(dsn)
    holder.execute("LOCK TABLE pb_locked IN ACCESS EXCLUSIVE MODE")
    waiters = [
        Waiter(psycopg.connect(dsn, autocommit=True, options="-c lock_timeout=20s"), query)
        for query in WAITER_QUERIES
    ]
    threads = [threading.Thread(target=w.run, daemon=True) for w in waiters]
    try:
        for thread in threads:
            thread.start()
        expected = {w.pid for w in waiters}
        wait_until(lambda: blocked_pids(url, holder.info.backend_pid) == expected, 10)
        yield LockScene(holder, waiters)
    finally:
        with contextlib.suppress(psycopg.Error):  # a terminated holder has nothing to undo
            holder.rollback()
        holder.close()
        for waiter, thread in zip(waiters, threads, strict=True):
            thread.join(10)
            waiter.conn.close()
