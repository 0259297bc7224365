"""Sending the demo: log batches through ``POST /api/v1/logs`` (NDJSON, gzipped when that
makes them smaller) and GET requests to Pulseboard's own endpoints, so the request-timing
collector has routes, statuses and latencies to show.
"""

from __future__ import annotations

import gzip
import http.client
import json
import math
import random
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from app.demo.shop import DemoLogs

FLUSH_EVERY = 0.5
PROGRESS_EVERY = 5.0
MAX_BATCH = 10_000
GZIP_FROM = 1024
TIMEOUT = 10.0
MAX_FAILURES_IN_A_ROW = 5
INGEST_PATH = "/api/v1/logs"
ERROR_LEVELS = ("error", "critical")
NO_ANSWER = (OSError, http.client.HTTPException)
"""Raised when a request got no (complete) answer; urllib's URLError is an OSError."""

Echo = Callable[[str], None]


class DemoError(Exception):
    """The demo cannot go on: a bad URL, an unreachable server or a refused token."""


@dataclass(frozen=True)
class DemoConfig:
    """Where to send, for how long (0: until interrupted), how much, and the random seed."""

    url: str = "http://127.0.0.1:8050"
    duration: float = 60.0
    rate: float = 50.0
    requests_per_second: float = 5.0
    incident_every: float = 60.0
    seed: int | None = None


@dataclass
class DemoStats:
    """What the demo got through: acknowledged lines, requests by status class, failures."""

    lines: int = 0
    error_lines: int = 0
    batches: int = 0
    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    failures: int = 0

    def describe(self) -> str:
        """One line for the progress report and the summary."""
        classes = ", ".join(f"{n} {c}" for c, n in sorted(self.statuses.items())) or "none"
        return (
            f"{self.lines} log lines ({self.error_lines} errors) in {self.batches} batches, "
            f"{self.requests} requests ({classes}), {self.failures} failures"
        )


VISITS = (
    ("/healthz", False),
    ("/api/v1/admin/monitoring/health", True),
    ("/api/v1/admin/monitoring/metrics", True),
    ("/api/v1/admin/monitoring/metrics?name=system_cpu_usage_percent&max_points=120", True),
    ("/api/v1/admin/logs?q=level%3Aerror&limit=50", True),
    ("/api/v1/admin/logs?q=source%3Aapi%20timeout&limit=50", True),
    ("/api/v1/admin/logs/histogram?q=-source%3Apulseboard", True),
    ("/api/v1/openapi.json", False),
    ("/metrics", False),
    ("/api/v1/admin/logs?q=%22unclosed", True),  # 400: a query with a mistake
    ("/api/v1/admin/monitoring/health", False),  # 401: no token
    ("/assets/pulseboard.js.map", False),  # 404: developer tools asking for a source map
    ("/assets/bootstrap.min.css.map", False),  # 404
)
VISIT_WEIGHTS = (6, 2, 2, 2, 3, 1, 1, 1, 1, 1, 1, 1, 1)


def check_url(url: str) -> str:
    """``url`` without a trailing slash, or DemoError when it is not an http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DemoError(f"not an http(s) URL: {url!r} (e.g. http://127.0.0.1:8050)")
    return url.rstrip("/")


class _Demo:
    def __init__(self, config: DemoConfig, echo: Echo) -> None:
        self.config = config
        self.base = check_url(config.url)
        self.token = ""
        self.echo = echo
        self.logs = DemoLogs(config.seed, config.incident_every)
        self.visits = random.Random(config.seed)
        self.stats = DemoStats()
        self.pending: list[dict] = []
        self.failures_in_a_row = 0

    def call(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, bytes] | None:
        """Status and body of one request, or None (counted) when no answer came."""
        try:
            answer = _fetch(self.base + path, method, body, headers)
        except NO_ANSWER as exc:
            self.stats.failures += 1
            self.failures_in_a_row += 1
            if self.failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
                raise DemoError(f"lost the connection to {self.base}: {_reason(exc)}") from None
            return None
        self.failures_in_a_row = 0
        return answer

    def check_reachable(self) -> None:
        """DemoError unless ``/healthz`` answers like a Pulseboard."""
        try:
            status, _ = _fetch(self.base + "/healthz")
        except NO_ANSWER as exc:
            raise DemoError(
                f"cannot reach Pulseboard at {self.base}: {_reason(exc)} "
                "(is `pulseboard serve` running there?)"
            ) from None
        if status != 200:
            raise DemoError(f"{self.base}/healthz answered {status}: is Pulseboard serving there?")

    def flush(self) -> None:
        """Send the pending records as one batch; keep them for the next try on 429/503."""
        if not self.pending:
            return
        body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in self.pending)
        data = body.encode()
        headers = {"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {self.token}"}
        if len(data) >= GZIP_FROM:
            packed = gzip.compress(data, compresslevel=5)
            if len(packed) < len(data):
                data, headers["Content-Encoding"] = packed, "gzip"
        answer = self.call("POST", INGEST_PATH, data, headers)
        if answer is None:
            self.pending = []
            return
        status, content = answer
        if status in (401, 403):
            raise DemoError(_refused(self.base, status, content))
        if status in (429, 503):
            return  # the writer is busy or the database away: retry with the next batch
        if status == 200:
            self.stats.lines += len(self.pending)
            self.stats.error_lines += sum(r["level"] in ERROR_LEVELS for r in self.pending)
            self.stats.batches += 1
        else:
            self.stats.failures += 1
            self.echo(f"a batch was refused ({status}): {_message(content)}")
        self.pending = []

    def visit(self) -> None:
        """One GET to Pulseboard, with or without the token."""
        path, authenticated = self.visits.choices(VISITS, VISIT_WEIGHTS)[0]
        headers = {"Authorization": f"Bearer {self.token}"} if authenticated else {}
        answer = self.call("GET", path, headers=headers)
        if answer is not None:
            self.stats.requests += 1
            self.stats.statuses[f"{answer[0] // 100}xx"] += 1

    def run(self, tokens: AbstractContextManager[str]) -> DemoStats:
        """Check the server answers, take a token from ``tokens``, then send."""
        self.check_reachable()
        with tokens as token:
            self.token = token
            return self.send()

    def send(self) -> DemoStats:
        """Send until the duration is over (or Ctrl-C), reporting progress; the totals."""
        config = self.config
        first = config.incident_every / 3
        length = "until Ctrl-C" if not config.duration else f"for {config.duration:g} s"
        self.echo(
            f"demo: ~{config.rate:g} log lines/s and {config.requests_per_second:g} requests/s "
            f"to {self.base} {length}; an incident every {config.incident_every:g} s, "
            f"the first after {first:g} s"
        )
        started, wall = time.monotonic(), time.time()
        end = started + config.duration if config.duration else math.inf
        visit_every = 1 / config.requests_per_second if config.requests_per_second else math.inf
        next_flush = started
        next_visit = started if config.requests_per_second else math.inf
        next_progress = started + PROGRESS_EVERY
        made = 0  # lines made (or skipped) so far; line k belongs at wall + k / rate
        try:
            while (now := time.monotonic()) < end:
                target = int((now - started) * config.rate) + 1
                # A stalled server: skip lines rather than pile them up.
                made = max(made, target - (MAX_BATCH - len(self.pending)))
                while made < target:
                    records = self.logs.event(wall + made / config.rate, made / config.rate)
                    self.pending += records
                    made += len(records)
                if now >= next_flush:
                    self.flush()
                    next_flush = now + FLUSH_EVERY
                if now >= next_visit:
                    self.visit()
                    next_visit = max(next_visit + visit_every, now)
                if now >= next_progress:
                    self.echo(f"[{now - started:5.0f}s] {self.stats.describe()}")
                    next_progress += PROGRESS_EVERY
                time.sleep(max(0.0, min(next_flush, next_visit, end) - time.monotonic()))
            self.flush()
        except KeyboardInterrupt:
            self.echo("demo: interrupted")
        self.echo(
            f"demo: done after {time.monotonic() - started:.0f} s: {self.stats.describe()}; "
            f"{len(self.logs.incidents)} incidents. See {self.base}/logs"
        )
        return self.stats


def _fetch(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None
) -> tuple[int, bytes]:
    """Status and body of the answer, whatever the status; NO_ANSWER errors when none came."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "reason", None) or exc)


def _message(content: bytes) -> str:
    """The error message of a JSON error body, else the start of the body."""
    try:
        return json.loads(content)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return content[:200].decode("utf-8", "replace")


def _refused(base: str, status: int, content: bytes) -> str:
    if status == 403:
        why = "its user may not send logs; use an ingest or admin token"
    else:
        why = (
            "pass a valid ingest or admin token with --token (the one the demo creates works "
            "only when this command uses the server's database)"
        )
    return f"{base} refused the token ({status}: {_message(content)}): {why}"


def run(config: DemoConfig, tokens: AbstractContextManager[str], echo: Echo) -> DemoStats:
    """Send demo logs and requests to the Pulseboard at ``config.url``; the token comes from
    ``tokens`` once the server answered (so none is created for a server that is not there)."""
    return _Demo(config, echo).run(tokens)
