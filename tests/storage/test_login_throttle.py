"""The login throttle's counters on both backends: lockouts of a (user, address) pair and of
an address, a user only slowed down, successes given back and trusted, parallel attempts
counted before they are checked, old rows pruned. Time comes from a clock the test moves."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from storage.db import make_engine
from storage.login_throttle import LoginPolicy, LoginThrottle, Refusal, Verdict
from storage.models import LoginCounter
from tests.conftest import truncate_tables

NO_SLOWDOWN = LoginPolicy(slow_down_after=1_000)
"""The default limits without the per-user slowdown, to watch one counter at a time."""


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move ``seconds`` on."""
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    """A clock of the test's own."""
    return Clock()


def throttle(engine, clock: Clock, policy: LoginPolicy | None = None) -> LoginThrottle:
    """A throttle on ``engine`` reading ``clock``."""
    return LoginThrottle(engine, policy, clock)


def fail_until_refused(logins: LoginThrottle, name: str, address: str) -> list[Verdict]:
    """Reserve attempts for ``name`` from ``address`` until one is refused; every verdict."""
    verdicts = [logins.reserve(name, address)]
    while verdicts[-1].allowed:
        verdicts.append(logins.reserve(name, address))
    return verdicts


def test_a_user_at_one_address_is_locked_out_after_five_failures_for_the_lockout(engine, clock):
    logins = throttle(engine, clock, NO_SLOWDOWN)
    verdicts = fail_until_refused(logins, "alice", "203.0.113.9")
    assert len(verdicts) == 6
    assert verdicts[-1] == Verdict(Refusal.LOCKED, 900, 5, 5)
    assert logins.reserve("alice", "198.51.100.7").allowed  # the same user elsewhere
    assert logins.reserve("bob", "203.0.113.9").allowed  # another user from there
    clock.advance(899)
    assert logins.reserve("alice", "203.0.113.9") == Verdict(Refusal.LOCKED, 1, 6, 6)
    clock.advance(1)
    assert logins.reserve("alice", "203.0.113.9") == Verdict(None, 0, 0, 0)


def test_an_address_is_locked_out_after_twenty_failures_for_any_users(engine, clock):
    logins = throttle(engine, clock, NO_SLOWDOWN)
    allowed = [logins.reserve(f"user-{i}", "203.0.113.9").allowed for i in range(20)]
    assert allowed == [True] * 20
    refused = logins.reserve("someone-else", "203.0.113.9")
    assert (refused.refusal, refused.retry_after) == (Refusal.ADDRESS_LOCKED, 900)
    assert logins.reserve("someone-else", "198.51.100.7").allowed


def test_a_user_failing_from_many_addresses_is_slowed_down_never_locked_out(engine, clock):
    logins = throttle(engine, clock)
    waits = []
    for attempt in range(12):
        address = f"203.0.113.{attempt + 1}"  # a new address each time: no pair, no address
        verdict = logins.reserve("alice", address)
        if not verdict.allowed:
            assert verdict.refusal is Refusal.SLOW_DOWN
            waits.append(verdict.retry_after)
            clock.advance(verdict.retry_after)
            assert logins.reserve("alice", address).allowed
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30, 30]


def test_a_success_gives_its_failure_back_and_spares_its_address_the_slowdown(engine, clock):
    logins = throttle(engine, clock)
    for _ in range(2):
        assert logins.reserve("alice", "198.51.100.7").allowed  # two typos at home
    assert logins.reserve("alice", "198.51.100.7").allowed
    logins.succeeded("alice", "198.51.100.7")
    # An attacker elsewhere makes the user wait the longest delay between checks.
    for attempt in range(10):
        clock.advance(30)
        assert logins.reserve("alice", f"203.0.113.{attempt // 5 + 1}").allowed
    assert logins.reserve("alice", "192.0.2.50").refusal is Refusal.SLOW_DOWN
    home = logins.reserve("alice", "198.51.100.7")
    assert home.allowed and home.user_failures == 12  # 2 typos + 10 guesses, the success back
    logins.succeeded("alice", "198.51.100.7")
    assert logins.reserve("alice", "198.51.100.7").allowed


def test_a_success_unlocks_an_address_its_own_attempt_had_locked(engine, clock):
    logins = throttle(engine, clock, NO_SLOWDOWN)
    for i in range(19):
        assert logins.reserve(f"user-{i}", "203.0.113.9").allowed
    assert logins.reserve("owner", "203.0.113.9").allowed  # the 20th: counted until known
    logins.succeeded("owner", "203.0.113.9")
    assert logins.reserve("another", "203.0.113.9").allowed


@pytest.mark.parametrize(
    ("names", "allowed"),
    [(["alice"] * 12, 5), ([f"user-{i}" for i in range(30)], 20)],
    ids=["one user", "thirty users"],
)
def test_parallel_attempts_from_one_address_are_counted_before_any_is_checked(
    engine, clock, names, allowed
):
    logins = throttle(engine, clock, NO_SLOWDOWN)
    start = threading.Barrier(len(names))
    verdicts: list[Verdict] = []

    def attempt(name: str) -> None:
        start.wait()
        verdicts.append(logins.reserve(name, "203.0.113.9"))

    threads = [threading.Thread(target=attempt, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(v.allowed for v in verdicts) == allowed
    assert len(verdicts) == len(names)


def test_counters_whose_window_and_lockout_are_over_are_pruned(engine, clock):
    logins = throttle(engine, clock)
    fail_until_refused(logins, "alice", "203.0.113.9")
    logins.reserve("bob", "198.51.100.7")
    logins.succeeded("bob", "198.51.100.7")  # trusted for 30 days: kept
    clock.advance(15 * 60)
    logins.reserve("carol", "192.0.2.1")
    with engine.connect() as conn:
        rows = conn.execute(select(LoginCounter.scope, LoginCounter.subject)).all()
        assert conn.execute(select(func.count()).select_from(LoginCounter)).scalar_one() == 4
    assert sorted(rows) == [
        ("address", "192.0.2.1"),
        ("pair", "192.0.2.1 carol"),
        ("pair", "198.51.100.7 bob"),
        ("user", "carol"),
    ]


def test_pruning_never_waits_for_a_row_another_attempt_holds(pg_url, clock):
    # PostgreSQL only: SQLite has one writer, so no two attempts ever hold rows at once.
    truncate_tables(pg_url)
    engine = make_engine(pg_url)
    logins = throttle(engine, clock)
    logins.reserve("alice", "203.0.113.9")
    clock.advance(15 * 60)  # alice's rows are expired now, and another attempt holds one
    done = threading.Event()

    def another_attempt() -> None:
        logins.reserve("bob", "198.51.100.7")
        done.set()

    worker = threading.Thread(target=another_attempt)
    try:
        with engine.connect() as holder:
            user = LoginCounter.scope == "user"
            holder.execute(select(LoginCounter).where(user).with_for_update()).all()
            worker.start()
            # Waiting for that row could deadlock with its holder pruning bob's: skipped.
            assert done.wait(10)
            holder.rollback()
        worker.join()
        with engine.connect() as conn:
            kept = conn.execute(select(LoginCounter.scope, LoginCounter.subject)).all()
        assert ("user", "alice") in kept and ("pair", "203.0.113.9 alice") not in kept
    finally:
        engine.dispose()
