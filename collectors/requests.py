"""Request timing: a histogram the web layer records into, and the collector reading it.

Recording is a dict update under a lock (about a microsecond). Each collection turns the
change since the previous one into requests/s, error ratios and latency percentiles.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from collectors.base import Field, Sample
from storage.diagnostics.endpoints import SlowRequest
from storage.models import LATENCY_BUCKETS

QUANTILES = (0.5, 0.95, 0.99)
UNMATCHED_ROUTE = "<unmatched>"
OTHER_ROUTE = "<other>"
MAX_ROUTES = 500
"""Distinct route labels kept; later ones count as ``<other>`` so labels cannot explode."""
SLOW_BUFFER = 1000
"""Slow requests held between two flushes; beyond that the oldest go (counted)."""


@dataclass
class Histogram:
    """Counts per latency bucket (the last one is +Inf), with the sum of durations."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0

    @property
    def count(self) -> int:
        """How many requests were observed."""
        return sum(self.counts)

    def observe(self, seconds: float) -> None:
        """Count one request that took ``seconds``."""
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds

    def minus(self, earlier: Histogram) -> Histogram:
        """What was observed since ``earlier``."""
        return Histogram(
            [a - b for a, b in zip(self.counts, earlier.counts, strict=True)],
            self.total - earlier.total,
        )

    def plus(self, other: Histogram) -> Histogram:
        """Both histograms merged."""
        return Histogram(
            [a + b for a, b in zip(self.counts, other.counts, strict=True)],
            self.total + other.total,
        )

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile, interpolated inside its bucket as Prometheus does."""
        count = self.count
        if count == 0:
            return None
        rank = q * count
        seen = 0
        for index, in_bucket in enumerate(self.counts):
            if seen + in_bucket >= rank and in_bucket:
                if index == len(LATENCY_BUCKETS):  # +Inf: the best answer is the largest bound
                    return LATENCY_BUCKETS[-1]
                lower = LATENCY_BUCKETS[index - 1] if index else 0.0
                return lower + (LATENCY_BUCKETS[index] - lower) * (rank - seen) / in_bucket
            seen += in_bucket
        return LATENCY_BUCKETS[-1]


_STATUS_CLASSES = {n: f"{n}xx" for n in range(1, 6)}

Key = tuple[str, str, str]
"""(route template, method, status class such as 2xx)."""


class RequestTimings:
    """Thread-safe latency histograms per route template, method and status class."""

    def __init__(
        self,
        max_routes: int = MAX_ROUTES,
        slow_threshold: float = 1.0,
        slow_buffer: int = SLOW_BUFFER,
    ) -> None:
        self._histograms: dict[Key, Histogram] = {}
        self._routes: set[str] = set()
        self._max_routes = max_routes
        self._lock = threading.Lock()
        self.slow_threshold = slow_threshold
        """Seconds from which a request is also kept on its own (see ``record_slow``)."""
        self._slow: deque[SlowRequest] = deque(maxlen=slow_buffer)
        self.slow_dropped = 0

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        with self._lock:
            if route not in self._routes:
                if len(self._routes) >= self._max_routes:
                    route = OTHER_ROUTE
                self._routes.add(route)
            key = (route, method, _STATUS_CLASSES.get(status // 100, "other"))
            histogram = self._histograms.get(key)
            if histogram is None:
                histogram = self._histograms[key] = Histogram()
            histogram.observe(seconds)

    def snapshot(self) -> dict[Key, Histogram]:
        """A copy of every histogram (cumulative since start)."""
        with self._lock:
            return {k: Histogram(list(h.counts), h.total) for k, h in self._histograms.items()}

    def record_slow(self, slow: SlowRequest) -> None:
        """Keep one request slower than ``slow_threshold`` until the next ``take_slow``."""
        with self._lock:
            if len(self._slow) == self._slow.maxlen:
                self.slow_dropped += 1
            self._slow.append(slow)

    def take_slow(self) -> list[SlowRequest]:
        """The slow requests kept since the last call, oldest first."""
        with self._lock:
            taken = list(self._slow)
            self._slow.clear()
            return taken


FIELDS: tuple[Field, ...] = (
    Field("http_requests_per_second", "requests/s", "Requests served", labels=()),
    Field(
        "http_route_requests_per_second",
        "requests/s",
        "Requests served per route",
        labels=("route", "method"),
    ),
    Field(
        "http_request_errors_ratio",
        "ratio",
        "Share of requests answered 4xx or 5xx",
        labels=("class",),
    ),
    Field(
        "http_request_duration_seconds",
        "seconds",
        "Latency percentile of all requests",
        labels=("quantile",),
    ),
    Field(
        "http_route_request_duration_seconds",
        "seconds",
        "Latency percentile per route",
        labels=("route", "method", "quantile"),
    ),
    Field(
        "http_requests_total",
        "requests",
        "Requests served since start",
        kind="counter",
        labels=("route", "method", "status"),
    ),
)


class RequestCollector:
    """Turns the timings recorded since the last collection into samples."""

    name = "requests"
    fields = FIELDS

    def __init__(self, host: str, timings: RequestTimings) -> None:
        self.host = host
        self.timings = timings
        self._previous: dict[Key, Histogram] = {}
        self._previous_at: float | None = None

    def collect(self, now: float) -> list[Sample]:
        """Rates, error ratios and percentiles over the interval since the last call."""
        current = self.timings.snapshot()
        previous, previous_at = self._previous, self._previous_at
        self._previous, self._previous_at = current, now
        out = [
            Sample(
                now,
                self.host,
                "http_requests_total",
                float(h.count),
                {"route": r, "method": m, "status": s},
            )
            for (r, m, s), h in current.items()
        ]
        if previous_at is None or now <= previous_at:
            return out
        elapsed = now - previous_at
        deltas = {k: h.minus(previous.get(k, Histogram())) for k, h in current.items()}
        overall = _merge(deltas.values())
        out.append(Sample(now, self.host, "http_requests_per_second", overall.count / elapsed))
        for status_class in ("4xx", "5xx"):
            errors = sum(h.count for (_, _, s), h in deltas.items() if s == status_class)
            ratio = errors / overall.count if overall.count else 0.0
            out.append(
                Sample(now, self.host, "http_request_errors_ratio", ratio, {"class": status_class})
            )
        out += _percentiles(now, self.host, "http_request_duration_seconds", overall, {})
        per_route: dict[tuple[str, str], list[Histogram]] = {}
        for (route, method, _), h in deltas.items():
            per_route.setdefault((route, method), []).append(h)
        for (route, method), histograms in per_route.items():
            merged = _merge(histograms)
            if not merged.count:
                continue
            labels = {"route": route, "method": method}
            out.append(
                Sample(
                    now, self.host, "http_route_requests_per_second", merged.count / elapsed, labels
                )
            )
            out += _percentiles(
                now, self.host, "http_route_request_duration_seconds", merged, labels
            )
        return out


def _merge(histograms: Iterable[Histogram]) -> Histogram:
    merged = Histogram()
    for h in histograms:
        merged = merged.plus(h)
    return merged


def _percentiles(
    now: float, host: str, name: str, histogram: Histogram, labels: dict[str, str]
) -> list[Sample]:
    out = []
    for q in QUANTILES:
        value = histogram.quantile(q)
        if value is not None:
            out.append(Sample(now, host, name, value, {**labels, "quantile": str(q)}))
    return out
