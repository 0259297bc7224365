"""What the demo's web shop logs: an nginx access log and an API on ``web-1`` and ``web-2``,
a job worker and a scheduler on ``worker-1``, auth and database client logs.

Once per ``incident_every`` seconds (the first a third of the way in) the shop has a short
incident: the database pool runs dry, requests fail with stack traces, jobs fail, the
access log fills with 5xx.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

WEB_HOSTS = ("web-1", "web-2")
WORKER_HOST = "worker-1"
INCIDENT_SECONDS = 8.0
"""Longest incident; shorter when incidents come more often than every 32 s."""

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
