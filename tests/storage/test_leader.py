"""Leader election: a file lock for SQLite and a PostgreSQL advisory lock."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from storage.db import upgrade
from storage.leader import FileLeaderLock, NotLeader, PostgresLeaderLock, make_leader_lock
from tests.conftest import wait_until
from tests.services import ThrowawayPostgres

HOLD_FILE_LOCK = """
import sys, time
from pathlib import Path
from storage.leader import FileLeaderLock
lock = FileLeaderLock(Path(sys.argv[1]))
print("held" if lock.try_acquire() else "refused", flush=True)
time.sleep(60)
"""


# -- file lock -----------------------------------------------------------------------------


def test_only_one_file_lock_on_a_path_is_acquired_until_it_is_released(tmp_path: Path):
    path = tmp_path / "scheduler.lock"
    first, second = FileLeaderLock(path), FileLeaderLock(path)

    assert first.try_acquire() is True
    assert second.try_acquire() is False
    assert first.try_acquire() is True  # asking again keeps it
    assert second.try_acquire() is False

    first.release()
    assert second.try_acquire() is True
    assert first.try_acquire() is False
    second.release()
    second.release()  # releasing twice is harmless


def test_a_file_lock_is_freed_when_its_holder_process_dies(tmp_path: Path):
    path = tmp_path / "scheduler.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_FILE_LOCK, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        ours = FileLeaderLock(path)
        assert ours.try_acquire() is False

        holder.kill()
        holder.wait(timeout=10)

        assert ours.try_acquire() is True
        ours.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)


def test_make_leader_lock_picks_the_lock_for_the_database(tmp_path: Path):
    assert isinstance(make_leader_lock(f"sqlite:///{tmp_path}/x.db", tmp_path), FileLeaderLock)
    assert isinstance(make_leader_lock("postgresql+psycopg://u@h/db", tmp_path), PostgresLeaderLock)


# -- PostgreSQL advisory lock --------------------------------------------------------------


@pytest.fixture
def lock_key() -> int:
    """An advisory lock key of this test's own, so no other test or app contends for it."""
    return random.randrange(1, 2**62)


@pytest.fixture
def admin(pg_url: str) -> Iterator[Engine]:
    """A plain engine on the test database, to look at locks and terminate backends."""
    engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    """An engine on the test database with transactions, for fenced writes."""
    eng = create_engine(pg_url)
    yield eng
    eng.dispose()


@pytest.fixture
def pg_locks(pg_url: str, lock_key: int) -> Iterator[tuple[PostgresLeaderLock, ...]]:
    """Two leader locks on the test database, as two Pulseboard processes would have."""
    locks = (PostgresLeaderLock(pg_url, key=lock_key), PostgresLeaderLock(pg_url, key=lock_key))
    yield locks
    for lock in locks:
        lock.release()


def holder_pids(admin: Engine, key: int) -> list[tuple[int, str]]:
    """(pid, application_name) of every backend of this database granted advisory ``key``."""
    with admin.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT l.pid, a.application_name FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND ((l.classid::bigint << 32) | l.objid::bigint) = :key"
            ),
            {"key": key},
        ).all()
    return [(pid, name) for pid, name in rows]


def test_only_one_postgres_lock_holds_leadership_until_it_is_released(
    pg_locks: tuple[PostgresLeaderLock, PostgresLeaderLock], admin: Engine, lock_key: int
):
    first, second = pg_locks

    assert first.try_acquire() is True
    assert second.try_acquire() is False
    assert first.try_acquire() is True
    assert second.try_acquire() is False
    [(_, application)] = holder_pids(admin, lock_key)
    assert application == "pulseboard-leader"

    first.release()
    assert second.try_acquire() is True
    assert first.try_acquire() is False
    assert len(holder_pids(admin, lock_key)) == 1


def test_a_released_postgres_lock_can_be_taken_at_once(
    pg_locks: tuple[PostgresLeaderLock, PostgresLeaderLock],
):
    holder, other = pg_locks
    assert holder.try_acquire() is True
    assert other.try_acquire() is False
    # A session with a temporary table drops it on exit before its locks go, so merely
    # closing the connection would leave the lock taken for a moment after release().
    assert holder._conn is not None
    holder._conn.execute("CREATE TEMPORARY TABLE slow_exit (x integer)")

    holder.release()

    assert other.try_acquire() is True
    assert holder.try_acquire() is False


def terminate(admin: Engine, pid: int) -> None:
    """End a backend as a crash of its client's connection would; wait until it is gone."""
    with admin.connect() as conn:
        # The timeout form waits until the backend is gone (PostgreSQL 14+).
        assert conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar()


def test_a_leader_whose_connection_is_cut_takes_the_lock_back_in_the_same_term(
    pg_locks: tuple[PostgresLeaderLock, PostgresLeaderLock], admin: Engine, lock_key: int
):
    first, second = pg_locks
    assert first.try_acquire() is True
    term = first.generation
    [(pid, _)] = holder_pids(admin, lock_key)

    terminate(admin, pid)

    assert first.try_acquire() is True  # reconnects at once: nobody took the lock meanwhile
    assert first.generation == term
    assert second.try_acquire() is False and second.generation is None
    [(new_pid, _)] = holder_pids(admin, lock_key)
    assert new_pid != pid


def test_a_dead_leader_is_followed_in_a_newer_term_and_its_writes_are_refused(
    pg_locks: tuple[PostgresLeaderLock, PostgresLeaderLock], admin: Engine, lock_key: int
):
    first, second = pg_locks
    assert first.try_acquire() is True
    term = first.generation
    [(pid, _)] = holder_pids(admin, lock_key)

    terminate(admin, pid)  # first is gone as far as the server can tell
    assert second.try_acquire() is True

    assert second.generation == term + 1
    with admin.connect() as conn:
        second.fence(conn)
        with pytest.raises(NotLeader):
            first.fence(conn)  # first still believes it leads: the database says no
    assert first.try_acquire() is False  # back, it finds the lock taken and steps down
    assert first.generation is None


def test_a_new_term_waits_for_the_former_leaders_write_in_flight(
    pg_locks: tuple[PostgresLeaderLock, PostgresLeaderLock], admin: Engine, lock_key: int, engine
):
    first, second = pg_locks
    assert first.try_acquire() is True
    [(pid, _)] = holder_pids(admin, lock_key)
    claimed = []
    with engine.begin() as write:
        first.fence(write)  # a write of first's term is under way
        terminate(admin, pid)
        taker = threading.Thread(target=lambda: claimed.append(second.try_acquire()))
        taker.start()
        wait_until(lambda: waiting_leader_backends(admin), 5)
        assert claimed == []
    taker.join(10)

    assert claimed == [True]
    with engine.begin() as conn, pytest.raises(NotLeader):
        first.fence(conn)


def waiting_leader_backends(admin: Engine) -> int:
    """Leader-lock backends waiting for a lock another session holds."""
    with admin.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE NOT l.granted AND a.application_name = 'pulseboard-leader' "
                "AND a.datname = current_database()"
            )
        ).scalar_one()


def test_after_a_server_restart_the_former_leader_gets_its_term_back_first(
    throwaway_postgres: ThrowawayPostgres,
):
    upgrade(throwaway_postgres.url)
    leader = PostgresLeaderLock(throwaway_postgres.url, restart_grace=600)
    other = PostgresLeaderLock(throwaway_postgres.url, restart_grace=600)
    impatient = PostgresLeaderLock(throwaway_postgres.url, restart_grace=0)
    try:
        assert leader.try_acquire() is True
        term = leader.generation

        throwaway_postgres.stop()
        assert leader.try_acquire() is True  # cut off, it still leads: nobody can take over
        assert other.try_acquire() is False
        throwaway_postgres.start()

        assert other.try_acquire() is False  # just restarted: the former leader may be back
        assert leader.try_acquire() is True
        assert leader.generation == term
        leader.release()
        assert impatient.try_acquire() is True
        assert impatient.generation == term + 1
    finally:
        for lock in (leader, other, impatient):
            lock.release()
