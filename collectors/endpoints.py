"""Endpoint histograms: each run stores what the request timings counted since the last
one, per route and method (status classes merged), for the busiest routes; the rest are
summed as ``<other>``. The slow requests the timing hook kept go with them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import Connection

from collectors.requests import OTHER_ROUTE, Histogram, Key, RequestTimings
from storage.diagnostics.endpoints import EndpointCounts, EndpointStore, SlowRequest

STORED_ROUTES = 100
"""Routes (route and method) stored per interval, the busiest; the others become ``<other>``."""
PENDING_SLOW = 5000
"""Slow requests held while the database refuses writes; beyond that the oldest go."""
MAX_GAP = 60.0
"""Seconds without a run after which the next one starts from a fresh baseline."""


def route_counts(deltas: dict[Key, Histogram]) -> dict[tuple[str, str], EndpointCounts]:
    """Histograms per (route, method, status class) merged into counts per route and method."""
    out: dict[tuple[str, str], EndpointCounts] = {}
    for (route, method, status_class), h in deltas.items():
        if not h.count:
            continue
        counts = EndpointCounts(
            route,
            method,
            h.count,
            h.count if status_class == "4xx" else 0,
            h.count if status_class == "5xx" else 0,
            h.total,
            tuple(h.counts),
        )
        known = out.get((route, method))
        out[(route, method)] = counts if known is None else known.plus(counts)
    return out


def bounded(
    counts: dict[tuple[str, str], EndpointCounts], limit: int = STORED_ROUTES
) -> list[EndpointCounts]:
    """The ``limit`` busiest routes as they are, every other one summed into ``<other>``
    (one per method)."""
    ranked = sorted(counts.values(), key=lambda c: (-c.requests, c.route, c.method))
    kept = {(c.route, c.method): c for c in ranked[:limit]}
    for c in ranked[limit:]:
        key = (OTHER_ROUTE, c.method)
        folded = replace(c, route=OTHER_ROUTE)
        kept[key] = folded if key not in kept else kept[key].plus(folded)
    return list(kept.values())


class EndpointRecorder:
    """The leader job writing endpoint histograms and slow requests.

    It keeps its own previous snapshot of the timings (the request collector keeps
    another), and moves it on only once a write committed: after a failed write, the next
    run stores the whole longer interval. A run more than ``max_gap`` seconds after the
    previous one (or after ``started``) only takes a new baseline: meanwhile this process
    did not lead, and what it answered then cannot be placed in time.
    """

    def __init__(
        self,
        host: str,
        timings: RequestTimings,
        store: EndpointStore,
        fence: Callable[[Connection], None] | None = None,
        *,
        max_routes: int = STORED_ROUTES,
        max_gap: float = MAX_GAP,
        started: float | None = None,
    ) -> None:
        self.host = host
        self.timings = timings
        self.store = store
        self.fence = fence
        self.max_routes = max_routes
        self.max_gap = max_gap
        self._previous: dict[Key, Histogram] = {}
        self._last_run = time.time() if started is None else started
        self._pending_slow: list[SlowRequest] = []

    def run(self, now: float) -> int:
        """Store the change since the last run and the slow requests kept meanwhile;
        return the rows written."""
        current = self.timings.snapshot()
        self._pending_slow = (self._pending_slow + self.timings.take_slow())[-PENDING_SLOW:]
        counts: list[EndpointCounts] = []
        if now - self._last_run <= self.max_gap:
            previous = self._previous
            deltas = {k: h.minus(previous.get(k, Histogram())) for k, h in current.items()}
            counts = bounded(route_counts(deltas), self.max_routes)
        self._last_run = now
        written = self.store.write(self.host, now, counts, self._pending_slow, fence=self.fence)
        self._previous = current
        self._pending_slow = []
        return written
