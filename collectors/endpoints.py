"""Endpoint histograms: each run stores what the request timings counted since the last
one, per route and method (status classes merged), for the busiest routes; the rest are
summed as ``<other>``. The slow requests the timing hook kept go with them."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from collectors.requests import OTHER_ROUTE, Histogram, Key, RequestTimings
from storage.diagnostics.endpoints import EndpointCounts, EndpointStore, SlowRequest

STORED_ROUTES = 100
"""Routes (route and method) stored per interval, the busiest; the others become ``<other>``."""
PENDING_SLOW = 5000
"""Slow requests held while the database refuses writes; beyond that the oldest go."""


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
        folded = EndpointCounts(OTHER_ROUTE, c.method, *_values(c))
        kept[key] = folded if key not in kept else kept[key].plus(folded)
    return list(kept.values())


def _values(c: EndpointCounts) -> tuple:
    return c.requests, c.client_errors, c.server_errors, c.seconds, c.buckets


class EndpointRecorder:
    """The leader job writing endpoint histograms and slow requests.

    It keeps its own previous snapshot of the timings (the request collector keeps
    another), and moves it on only once a write committed: after a failed write, the next
    run stores the whole longer interval.
    """

    def __init__(
        self,
        host: str,
        timings: RequestTimings,
        store: EndpointStore,
        fence: Callable[[Connection], None] | None = None,
        max_routes: int = STORED_ROUTES,
    ) -> None:
        self.host = host
        self.timings = timings
        self.store = store
        self.fence = fence
        self.max_routes = max_routes
        self._previous: dict[Key, Histogram] | None = None
        self._pending_slow: list[SlowRequest] = []

    def run(self, now: float) -> int:
        """Store the change since the last run (the first run only takes the baseline) and
        the slow requests kept meanwhile; return the rows written."""
        current = self.timings.snapshot()
        self._pending_slow = (self._pending_slow + self.timings.take_slow())[-PENDING_SLOW:]
        previous = self._previous
        counts: list[EndpointCounts] = []
        if previous is not None:
            deltas = {k: h.minus(previous.get(k, Histogram())) for k, h in current.items()}
            counts = bounded(route_counts(deltas), self.max_routes)
        written = self.store.write(self.host, now, counts, self._pending_slow, fence=self.fence)
        self._previous = current
        self._pending_slow = []
        return written
