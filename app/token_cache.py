"""A short-lived cache of bearer-token lookups, cleared whenever accounts change.

Checking a token costs a database round trip; programs send one with every request. The
cache keeps a positive answer for a few seconds, and every process drops all answers at
once when a token is revoked or a user changes (the live bus carries the news; without
Redis the news stays in the process, and the TTL bounds what another process may miss).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from storage.accounts import Account
from storage.live import AUTH_CHANNEL, LiveBus

DEFAULT_TTL = 5.0
MAX_ENTRIES = 10_000


class TokenCache:
    """Token digest -> account, for ``ttl`` seconds."""

    def __init__(self, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, Account]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> Account | None:
        """The cached account for ``digest``, if still fresh."""
        entry = self._entries.get(digest)
        if entry is None or entry[0] < self._clock():
            return None
        return entry[1]

    def put(self, digest: str, account: Account) -> None:
        """Remember ``account`` for ``digest``."""
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = (self._clock() + self._ttl, account)

    def clear(self) -> None:
        """Forget every answer."""
        with self._lock:
            self._entries.clear()


def follow_auth_changes(bus: LiveBus, cache: TokenCache) -> threading.Thread:
    """Clear ``cache`` whenever any process announces an account change on ``bus``."""
    subscription = bus.subscribe(AUTH_CHANNEL, maxsize=10)

    def run() -> None:
        while not subscription.closed:
            if subscription.get(timeout=1.0) is not None:
                cache.clear()

    thread = threading.Thread(target=run, name="pulseboard-auth-changes", daemon=True)
    thread.start()
    return thread
