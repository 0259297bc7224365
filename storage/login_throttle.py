"""Failed logins counted per (user, address), per address and per user, atomically.

An attempt first *reserves* its check: one short transaction locks the three counters it
touches (``INSERT … ON CONFLICT DO UPDATE`` takes the row locks on PostgreSQL and the single
write lock on SQLite), decides, and counts the attempt as a failure before the password is
checked; a success gives that failure back. So parallel guesses cannot all pass before any
of them is counted, and no lock is held while the slow password hash is checked.

The rules (``LoginPolicy``): a (user, address) pair is locked out after 5 failures in the
window, an address after 20; a user name is never locked out, whatever the address, but
once it has a few failures its attempts are checked at most once per a growing delay, so
guesses from many addresses slow down while its owner, from an address they logged in
from before, is not held up at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, Engine, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.accounts import utc
from storage.models import LoginCounter

MAX_ADDRESS = 64
"""Longest remote address kept (as in the audit log)."""


class Scope(StrEnum):
    """What a counter counts the failures of."""

    ADDRESS = "address"
    PAIR = "pair"
    USER = "user"


class Refusal(StrEnum):
    """Why an attempt is not checked."""

    LOCKED = "locked"
    """Too many failures for this user from this address."""
    ADDRESS_LOCKED = "address-locked"
    """Too many failures from this address, for any users."""
    SLOW_DOWN = "slow-down"
    """This user had failures from somewhere: wait a little before the next try."""


@dataclass(frozen=True)
class LoginPolicy:
    """How many failures each counter allows within the window, and what follows."""

    window: timedelta = timedelta(minutes=15)
    pair_limit: int = 5
    address_limit: int = 20
    lockout: timedelta = timedelta(minutes=15)
    slow_down_after: int = 3
    first_delay: float = 1.0
    max_delay: float = 30.0
    trust: timedelta = timedelta(days=30)
    """How long an address a user logged in from is spared that user's slowdown."""

    def user_delay(self, failures: int) -> float:
        """Seconds between two checked attempts for a user with ``failures`` in the window."""
        if failures < self.slow_down_after:
            return 0.0
        return min(self.first_delay * 2 ** (failures - self.slow_down_after), self.max_delay)


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may be checked; if not, why and how many seconds to wait. The
    failure counts are those of the user and the address before this attempt."""

    refusal: Refusal | None = None
    retry_after: int = 0
    user_failures: int = 0
    address_failures: int = 0

    @property
    def allowed(self) -> bool:
        """Whether the password may be checked."""
        return self.refusal is None


@dataclass
class _Counter:
    """One counter row as read under its lock, changed in memory, then written back."""

    scope: str
    subject: str
    failures: int
    window_start: datetime | None
    last_checked_at: datetime | None
    locked_until: datetime | None
    trusted_until: datetime | None

    def current_failures(self, now: datetime, window: timedelta) -> int:
        """Failures in the window (a window that has passed counts none)."""
        if self.window_start is None or now >= self.window_start + window:
            return 0
        return self.failures

    def count_failure(self, now: datetime, policy: LoginPolicy, limit: int | None) -> None:
        """Count one more failure; reaching ``limit`` locks the counter out."""
        if self.current_failures(now, policy.window) == 0:
            self.failures, self.window_start = 0, now
        self.failures += 1
        self.last_checked_at = now
        if limit is not None and self.failures >= limit:
            self.locked_until = now + policy.lockout

    def forgive(self, limit: int | None) -> None:
        """Take back a failure counted for an attempt that succeeded."""
        self.failures = max(self.failures - 1, 0)
        if limit is not None and self.failures < limit:
            self.locked_until = None

    def expires_at(self, policy: LoginPolicy) -> datetime:
        """When the row holds nothing any more: window over, no lockout, no trust."""
        times = [self.window_start + policy.window] if self.window_start else []
        times += [t for t in (self.locked_until, self.trusted_until) if t is not None]
        return max(times, default=datetime.min.replace(tzinfo=UTC))


def _now() -> datetime:
    return datetime.now(UTC)


def _seconds(wait: float) -> int:
    """Whole seconds to wait, at least one (a ``Retry-After`` of 0 invites a tight loop)."""
    return max(math.ceil(wait), 1)


class LoginThrottle:
    """Decides which login attempts are checked, counting failures in the database."""

    def __init__(
        self,
        engine: Engine,
        policy: LoginPolicy | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.engine = engine
        self.policy = policy or LoginPolicy()
        self.clock = clock

    def reserve(self, name: str, address: str | None) -> Verdict:
        """Whether ``name`` from ``address`` may have a password checked now; if so, the
        attempt is counted as a failure until ``succeeded`` takes it back."""
        policy, now = self.policy, self.clock()
        with self.engine.begin() as conn:
            counters = self._lock(conn, name, address, now)
            pair, by_address, user = (counters[s] for s in (Scope.PAIR, Scope.ADDRESS, Scope.USER))
            user_failures = user.current_failures(now, policy.window)
            address_failures = by_address.current_failures(now, policy.window)
            refused = self._refusal(now, pair, by_address, user)
            if refused is not None:
                return Verdict(refused[0], _seconds(refused[1]), user_failures, address_failures)
            pair.count_failure(now, policy, policy.pair_limit)
            by_address.count_failure(now, policy, policy.address_limit)
            user.count_failure(now, policy, None)
            self._write(conn, counters.values())
            self._prune(conn, now)
        return Verdict(None, 0, user_failures, address_failures)

    def succeeded(self, name: str, address: str | None) -> None:
        """The attempt ``reserve`` allowed was right: give its failure back, clear this
        user's failures from this address and trust the address for this user."""
        policy, now = self.policy, self.clock()
        with self.engine.begin() as conn:
            counters = self._lock(conn, name, address, now)
            pair = counters[Scope.PAIR]
            pair.failures, pair.window_start, pair.locked_until = 0, None, None
            pair.trusted_until = now + policy.trust
            counters[Scope.ADDRESS].forgive(policy.address_limit)
            counters[Scope.USER].forgive(None)
            self._write(conn, counters.values())

    def _refusal(
        self, now: datetime, pair: _Counter, by_address: _Counter, user: _Counter
    ) -> tuple[Refusal, float] | None:
        """Why not to check this attempt and for how many seconds, or None to check it."""
        for counter, refusal in ((pair, Refusal.LOCKED), (by_address, Refusal.ADDRESS_LOCKED)):
            if counter.locked_until is not None and now < counter.locked_until:
                return refusal, (counter.locked_until - now).total_seconds()
        trusted = pair.trusted_until is not None and now < pair.trusted_until
        delay = self.policy.user_delay(user.current_failures(now, self.policy.window))
        if not trusted and delay and user.last_checked_at is not None:
            wait = delay - (now - user.last_checked_at).total_seconds()
            if wait > 0:
                return Refusal.SLOW_DOWN, wait
        return None

    def _lock(
        self, conn: Connection, name: str, address: str | None, now: datetime
    ) -> dict[str, _Counter]:
        """The attempt's three counters, created if new and locked until commit."""
        address = (address or "unknown")[:MAX_ADDRESS]
        keys = sorted(
            [(Scope.ADDRESS, address), (Scope.PAIR, f"{address} {name}"), (Scope.USER, name)]
        )
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(LoginCounter).values(
            [{"scope": s, "subject": k, "failures": 0, "expires_at": now} for s, k in keys]
        )
        # Rows are written in one order by every attempt, so two cannot deadlock; the no-op
        # update makes the statement lock (and return) rows that exist already.
        upsert = insert.on_conflict_do_update(
            index_elements=[LoginCounter.scope, LoginCounter.subject],
            set_={"failures": LoginCounter.failures},
        ).returning(
            LoginCounter.scope,
            LoginCounter.subject,
            LoginCounter.failures,
            LoginCounter.window_start,
            LoginCounter.last_checked_at,
            LoginCounter.locked_until,
            LoginCounter.trusted_until,
        )
        counters = {}
        for row in conn.execute(upsert):
            counters[row.scope] = _Counter(
                row.scope,
                row.subject,
                row.failures,
                utc(row.window_start),
                utc(row.last_checked_at),
                utc(row.locked_until),
                utc(row.trusted_until),
            )
        return counters

    def _prune(self, conn: Connection, now: datetime) -> None:
        """Delete rows whose window, lockout and trust are over: they hold nothing."""
        key = tuple_(LoginCounter.scope, LoginCounter.subject)
        # Rows another attempt holds are left for later: waiting for them could deadlock
        # with that attempt pruning a row this one holds.
        expired = (
            select(LoginCounter.scope, LoginCounter.subject)
            .where(LoginCounter.expires_at <= now)
            .with_for_update(skip_locked=True)
        )
        conn.execute(delete(LoginCounter).where(key.in_(expired)))

    def _write(self, conn: Connection, counters) -> None:
        for c in counters:
            conn.execute(
                update(LoginCounter)
                .where(LoginCounter.scope == c.scope, LoginCounter.subject == c.subject)
                .values(
                    failures=c.failures,
                    window_start=c.window_start,
                    last_checked_at=c.last_checked_at,
                    locked_until=c.locked_until,
                    trusted_until=c.trusted_until,
                    expires_at=c.expires_at(self.policy),
                )
            )
