"""``pulseboard demo``: realistic logs and HTTP traffic sent to a running Pulseboard.

Everything goes through the real paths: log batches through ``POST /api/v1/logs`` (NDJSON,
gzipped when that makes them smaller) and GET requests to Pulseboard's own endpoints, so
the request-timing collector has routes, statuses and latencies to show.

The logs are those of a small web shop: an nginx access log and an API on ``web-1`` and
``web-2``, a job worker and a scheduler on ``worker-1``, auth and database client logs.
Once per ``incident_every`` seconds (the first a third of the way in) the shop has a short
incident: the database pool runs dry, requests fail with stack traces, jobs fail, the
access log fills with 5xx.
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
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from storage.accounts import AccountStore
from storage.db import make_engine

WEB_HOSTS = ("web-1", "web-2")
WORKER_HOST = "worker-1"
INCIDENT_SECONDS = 8.0
"""Longest incident; shorter when incidents come more often than every 32 s."""
FLUSH_EVERY = 0.5
PROGRESS_EVERY = 5.0
MAX_BATCH = 10_000
GZIP_FROM = 1024
TIMEOUT = 10.0
MAX_FAILURES_IN_A_ROW = 5
TOKEN_NAME = "demo"
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


# -- what the shop logs ----------------------------------------------------------------

ROUTES = (
    ("GET", "/api/products"),
    ("GET", "/api/products/{id}"),
    ("GET", "/api/cart"),
    ("POST", "/api/cart/items"),
    ("GET", "/api/orders/{id}"),
    ("POST", "/api/checkout"),
    ("GET", "/healthz"),
)
ROUTE_WEIGHTS = (30, 25, 12, 8, 8, 4, 10)
VIEWS = {
    "/api/products": ("catalog", "list_products", 31),
    "/api/products/{id}": ("catalog", "show_product", 52),
    "/api/cart": ("cart", "show_cart", 24),
    "/api/cart/items": ("cart", "add_item", 47),
    "/api/orders/{id}": ("orders", "get_order", 88),
    "/api/checkout": ("checkout", "checkout", 61),
}
STATUSES = (200, 304, 404, 401, 422, 500)
STATUS_WEIGHTS = (90, 3, 3, 1.5, 1, 0.3)
AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "shop-ios/4.12.1 CFNetwork/1496.0.7 Darwin/23.5.0",
    "kube-probe/1.30",
)
JOBS = ("send_receipt_email", "resize_image", "sync_inventory", "charge_card")
SCHEDULED = ("cleanup_sessions", "refresh_search_index", "nightly_report", "expire_carts")
USER_NAMES = ("alice", "bob", "chen", "dana", "eve", "farid", "grace", "hiro")

POOL_TIMEOUT = """Unhandled exception on {method} {path} (trace {trace})
Traceback (most recent call last):
  File "/srv/shop/shop/views/{module}.py", line {line}, in {function}
    rows = repo.fetch(request.args, user=request.user)
  File "/srv/shop/shop/repo/base.py", line 41, in fetch
    with self.pool.connection(timeout=2.0) as conn:
  File "/usr/lib/python3.12/contextlib.py", line 137, in __enter__
    return next(self.gen)
  File "/srv/shop/.venv/lib/python3.12/site-packages/psycopg_pool/pool.py", line 170, in connection
    conn = self.getconn(timeout=timeout)
  File "/srv/shop/.venv/lib/python3.12/site-packages/psycopg_pool/pool.py", line 204, in getconn
    raise PoolTimeout(f"couldn't get a connection after {{timeout:.2f}} sec")
psycopg_pool.PoolTimeout: couldn't get a connection after 2.00 sec"""

MISSING_CURRENCY = """Unhandled exception on {method} {path} (trace {trace})
Traceback (most recent call last):
  File "/srv/shop/.venv/lib/python3.12/site-packages/flask/app.py", line 917, in full_dispatch
    rv = self.dispatch_request()
  File "/srv/shop/shop/views/{module}.py", line {line}, in {function}
    total = pricing.total(cart, currency=session["currency"])
  File "/srv/shop/.venv/lib/python3.12/site-packages/flask/sessions.py", line 83, in __getitem__
    return super().__getitem__(key)
KeyError: 'currency'"""

JOB_FAILED = """Job {job} {job_id} failed (attempt {attempt}/5)
Traceback (most recent call last):
  File "/srv/shop/shop/worker/runner.py", line 57, in run_job
    result = handler(**job.kwargs)
  File "/srv/shop/shop/worker/jobs.py", line 112, in {job}
    stock = db.execute(STOCK_QUERY, {{"sku": sku}}).all()
  File "/srv/shop/.venv/lib/python3.12/site-packages/psycopg/connection.py", line 119, in connect
    raise last_ex.with_traceback(None)
psycopg.OperationalError: connection failed: connection to server at "10.0.2.5", port 5432 \
failed: timeout expired"""


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def _record(level: str, source: str, host: str, message: str, **attrs: object) -> dict:
    return {"level": level, "source": source, "host": host, "message": message, "attrs": attrs}


class DemoLogs:
    """Log records of the shop; the same seed gives the same records in the same order."""

    def __init__(self, seed: int | None = None, incident_every: float = 60.0) -> None:
        self.rng = random.Random(seed)
        self.incident_every = incident_every
        self.incident_length = min(INCIDENT_SECONDS, incident_every / 4)
        self.incidents: set[int] = set()
        """Numbers of the incidents that produced records so far."""

    def in_incident(self, elapsed: float) -> bool:
        """Whether ``elapsed`` seconds into the demo falls inside an incident."""
        phase = elapsed % self.incident_every - self.incident_every / 3
        return 0 <= phase < self.incident_length

    def event(self, ts: float, elapsed: float) -> list[dict]:
        """The records of one thing happening at ``ts``, ``elapsed`` seconds into the demo."""
        incident = self.in_incident(elapsed)
        if incident:
            self.incidents.add(int(elapsed // self.incident_every))
            weights = (50, 15, 25, 5, 2, 3)
        else:
            weights = (55, 12, 10, 8, 3, 12)
        make = self.rng.choices(
            (self._request, self._job, self._database, self._auth, self._scheduler, self._cache),
            weights,
        )[0]
        return [{"ts": _iso(ts), **r} for r in make(ts, incident)]

    def _trace(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    def _request(self, ts: float, incident: bool) -> list[dict]:
        rng = self.rng
        host = rng.choice(WEB_HOSTS)
        method, route = rng.choices(ROUTES, ROUTE_WEIGHTS)[0]
        path = route.replace("{id}", str(rng.randint(1, 99_999)))
        if route == "/healthz":
            status, duration = 200, round(rng.uniform(0.5, 3.0), 1)
        elif incident and rng.random() < 0.5:
            status, duration = rng.choice((500, 502, 504)), round(rng.uniform(2000, 5000), 1)
        else:
            status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
            duration = round(rng.lognormvariate(3.0, 0.9), 1)
        trace, user_id = self._trace(), rng.randint(1, 5000)
        attrs = {"route": route, "status": status, "duration_ms": duration, "trace_id": trace}
        if status >= 500:
            module, function, line = VIEWS[route]
            template = POOL_TIMEOUT if incident else MISSING_CURRENCY
            message = template.format(
                method=method, path=path, trace=trace, module=module, function=function, line=line
            )
            level = "error"
        elif duration > 1000:
            level, message = "warning", f"slow request {method} {path} took {duration:.0f} ms"
        else:
            level = "debug" if route == "/healthz" else "info"
            message = f"{method} {path} {status} in {duration:.0f} ms"
        client_ip = f"10.0.{rng.randint(0, 9)}.{rng.randint(2, 254)}"
        stamp = datetime.fromtimestamp(ts, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
        access = (
            f'{client_ip} - - [{stamp}] "{method} {path} HTTP/1.1" {status} '
            f'{rng.randint(120, 48_000)} "-" "{rng.choice(AGENTS)}" {duration / 1000:.3f}'
        )
        access_level = "error" if status >= 500 else "warning" if status >= 400 else "info"
        return [
            _record(level, "api", host, message, user_id=user_id, method=method, **attrs),
            _record(access_level, "nginx", host, access, client_ip=client_ip, **attrs),
        ]

    def _job(self, _ts: float, incident: bool) -> list[dict]:
        rng = self.rng
        job, job_id = rng.choice(JOBS), rng.randint(100_000, 999_999)
        attrs = {"job": job, "job_id": job_id, "queue": "default", "trace_id": self._trace()}
        if incident and rng.random() < 0.6:
            attempt = rng.randint(1, 5)
            message = JOB_FAILED.format(job=job, job_id=job_id, attempt=attempt)
            return [_record("error", "worker", WORKER_HOST, message, attempt=attempt, **attrs)]
        duration = round(rng.lognormvariate(5.5, 0.7), 1)
        if rng.random() < 0.04:
            message = f"job {job} {job_id} timed out after {duration:.0f} ms, retrying in 30 s"
            return [
                _record("warning", "worker", WORKER_HOST, message, duration_ms=duration, **attrs)
            ]
        return [
            _record("debug", "worker", WORKER_HOST, f"picked up job {job} {job_id}", **attrs),
            _record(
                "info",
                "worker",
                WORKER_HOST,
                f"job {job} {job_id} done in {duration:.0f} ms",
                duration_ms=duration,
                **attrs,
            ),
        ]

    def _database(self, _ts: float, incident: bool) -> list[dict]:
        rng = self.rng
        host = rng.choice((*WEB_HOSTS, WORKER_HOST))
        if incident:
            if rng.random() < 0.08:
                message = "circuit breaker open for the primary database: 50 failures in 10 s"
                return [_record("critical", "db", host, message, breaker="db-primary")]
            waiting = rng.randint(5, 80)
            message = f"connection pool exhausted: 20 of 20 in use, {waiting} waiting"
            return [_record("error", "db", host, message, pool_in_use=20, waiting=waiting)]
        roll = rng.random()
        if roll < 0.1:
            duration = round(rng.uniform(500, 3000), 1)
            query = "SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC"
            message = f"slow query ({duration:.0f} ms): {query}"
            return [_record("warning", "db", host, message, duration_ms=duration, query=query)]
        if roll < 0.5:
            duration = round(rng.uniform(0.2, 15), 2)
            message = f"SELECT id, name, price FROM products WHERE id = $1 ({duration} ms)"
            return [_record("debug", "db", host, message, duration_ms=duration)]
        in_use = rng.randint(1, 12)
        message = f"pool stats: {in_use} of 20 connections in use"
        return [_record("debug", "db", host, message, pool_in_use=in_use)]

    def _auth(self, _ts: float, incident: bool) -> list[dict]:
        rng = self.rng
        host, user_id = rng.choice(WEB_HOSTS), rng.randint(1, 5000)
        trace = self._trace()
        if incident and rng.random() < 0.3:
            message = "session store unavailable: timed out reading from redis:6379 after 500 ms"
            return [_record("error", "auth", host, message, user_id=user_id, trace_id=trace)]
        roll = rng.random()
        if roll < 0.15:
            name = rng.choice(USER_NAMES)
            client_ip = f"203.0.113.{rng.randint(1, 254)}"
            return [
                _record(
                    "warning",
                    "auth",
                    host,
                    f"login failed for {name!r}: wrong password",
                    user=name,
                    client_ip=client_ip,
                    trace_id=trace,
                )
            ]
        if roll < 0.25:
            return [_record("debug", "auth", host, "session refreshed", user_id=user_id)]
        method = rng.choice(("password", "password", "sso"))
        message = f"user {user_id} logged in ({method})"
        return [_record("info", "auth", host, message, user_id=user_id, trace_id=trace)]

    def _scheduler(self, ts: float, _incident: bool) -> list[dict]:
        rng = self.rng
        job = rng.choice(SCHEDULED)
        duration = round(rng.uniform(20, 4000), 1)
        next_run = datetime.fromtimestamp(ts + 3600, UTC).strftime("%H:%M:%S")
        return [
            _record("info", "scheduler", WORKER_HOST, f"running scheduled job {job}", job=job),
            _record(
                "info",
                "scheduler",
                WORKER_HOST,
                f"{job} finished in {duration:.0f} ms; next run at {next_run} UTC",
                job=job,
                duration_ms=duration,
            ),
        ]

    def _cache(self, _ts: float, _incident: bool) -> list[dict]:
        rng = self.rng
        key = f"{rng.choice(('product', 'cart', 'user'))}:{rng.randint(1, 5000)}"
        outcome = "hit" if rng.random() < 0.85 else "miss"
        return [_record("debug", "api", rng.choice(WEB_HOSTS), f"cache {outcome} for {key}")]


# -- HTTP traffic to Pulseboard itself --------------------------------------------------

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


def _first_line(exc: SQLAlchemyError) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


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


@contextmanager
def admin_token(database_url: str, actor: str, echo: Echo) -> Iterator[str]:
    """A new API token of an enabled admin (``admin`` first), revoked when the block ends;
    both written to the audit log as done by ``actor``."""
    engine = make_engine(database_url)
    store = AccountStore(engine)
    where = make_url(database_url).render_as_string(hide_password=True)
    try:
        try:
            admins = [u for u in store.list_users() if u.role == "admin" and not u.disabled]
            admins.sort(key=lambda u: u.name != "admin")
            if not admins:
                raise DemoError(f"no enabled admin user in {where}; pass --token")
            user = admins[0]
            token_id, token = store.create_token(user.id, TOKEN_NAME)
            store.audit(
                "token.create",
                actor=actor,
                target=user.name,
                details={"token_id": token_id, "name": TOKEN_NAME},
            )
        except SQLAlchemyError as exc:
            raise DemoError(
                f"cannot create a token in {where} ({_first_line(exc)}): run the demo with "
                "the server's PULSEBOARD_DATA_DIR or PULSEBOARD_DATABASE_URL, or pass --token"
            ) from None
        echo(
            f"demo: no --token given: created API token {TOKEN_NAME!r} of {user.name!r} "
            f"in {where} (revoked when the demo ends)"
        )
        try:
            yield token
        finally:
            try:
                store.revoke_token(token_id)
                store.audit(
                    "token.revoke",
                    actor=actor,
                    target=user.name,
                    details={"token_id": token_id, "name": TOKEN_NAME},
                )
            except SQLAlchemyError as exc:
                echo(
                    f"demo: could not revoke token {token_id} ({_first_line(exc)}); "
                    "revoke it on the Settings page"
                )
    finally:
        engine.dispose()
