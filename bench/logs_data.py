"""Shared by the log benchmarks: realistic records, a loaded PostgreSQL database (built once
per run, copied for each benchmark) and a real ``pulseboard serve`` process on it."""

from __future__ import annotations

import atexit
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from bisect import bisect
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path

import psutil
import psycopg
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.auth import hash_password
from bench.common import pg_admin_url, pg_database, psycopg_dsn
from storage.accounts import AccountStore
from storage.db import make_engine
from storage.logs import LogEntry

COPY_SQL = "COPY {table} (ts, level, source, host, message, attrs) FROM STDIN"
RECORDS, QUICK_RECORDS = 5_000_000, 60_000
"""Records in the database every log benchmark starts from (quick: enough for full pages)."""
FILE_COPY_RECORDS = 1_000_000
"""From this many records on, a loaded database is copied file by file (PostgreSQL 15+): a
checkpoint, not gigabytes of WAL; a smaller one is copied faster through the WAL."""
SPAN = timedelta(days=7)
RARE_WORD = "deadlock"
"""In about 0.2% of the messages (error level): the substring search looks for it."""

LEVELS = {"debug": 8, "info": 72, "warning": 12, "error": 7, "critical": 1}
SOURCES = {"api": 35, "web": 20, "worker": 15, "nginx": 8, "db": 8, "auth": 8, "scheduler": 6}
HOSTS = [*(f"web-{i}" for i in range(1, 7)), *(f"worker-{i}" for i in range(1, 4)), "db-1"]
USERS = [f"{a}{b}" for a in ("ana", "bo", "chen", "dara", "eli", "femi") for b in range(40)]
TABLES = ("orders", "payments", "invoices", "users", "sessions", "shipments", "carts")
PATHS = ("/api/v1/orders", "/api/v1/cart", "/api/v1/users", "/checkout", "/search", "/login")
JOBS = ("send-emails", "rebuild-search", "sync-stock", "expire-sessions", "bill-monthly")
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/app/handlers.py", line {n}, in handle\n'
    "    return self.process(request)\n"
    '  File "/srv/app/orders.py", line {m}, in process\n'
    "    total = sum(item.price for item in order.items)\n"
    "TypeError: unsupported operand type(s) for +: 'int' and 'NoneType'"
)


def _weighted(choices: dict[str, int]) -> Callable[[random.Random], str]:
    names, cumulative = list(choices), list(accumulate(choices.values()))

    def pick(rng: random.Random) -> str:
        return names[bisect(cumulative, rng.random() * cumulative[-1])]

    return pick


_level, _source = _weighted(LEVELS), _weighted(SOURCES)


def _message(level: str, rng: random.Random) -> tuple[str, dict]:
    """A message for ``level`` and the attributes a producer would send with it."""
    request = {"request_id": f"{rng.getrandbits(64):016x}"}
    pick = rng.random()
    if level in ("debug", "info"):
        if pick < 0.5:
            path, status = rng.choice(PATHS), rng.choice((200, 200, 200, 201, 204, 304, 404))
            ms = round(rng.lognormvariate(3, 0.8), 1)
            return f"GET {path}/{rng.randrange(10**6)} {status} in {ms} ms", {
                **request,
                "status": status,
                "duration_ms": ms,
            }
        if pick < 0.7:
            user = rng.choice(USERS)
            ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
            return f"user {user} signed in from {ip}", {**request, "user": user}
        if pick < 0.85:
            job = rng.choice(JOBS)
            return (
                f"job {job} finished in {rng.randrange(1, 900)} s, {rng.randrange(5000)} items",
                {"job": job},
            )
        table = rng.choice(TABLES)
        return f"cache {rng.choice(('hit', 'miss'))} for {table}:{rng.randrange(10**5)}", request
    if level == "warning":
        table = rng.choice(TABLES)
        if pick < 0.5:
            return f"slow query on {table} took {rng.randrange(500, 9000)} ms", {"table": table}
        if pick < 0.8:
            job = rng.choice(JOBS)
            return f"retrying {job} after timeout (attempt {rng.randrange(2, 6)})", {"job": job}
        return f"disk usage {rng.randrange(80, 99)}% on /var/lib/postgresql", {}
    if level == "error":
        if pick < 0.03:
            table = rng.choice(TABLES)
            return f"{RARE_WORD} detected while updating {table} row {rng.randrange(10**6)}", {
                **request,
                "table": table,
            }
        if pick < 0.35:
            return f"payment {rng.getrandbits(32):08x} failed: card declined", request
        if pick < 0.7:
            service = rng.choice(("billing", "search", "stock", "mailer"))
            return f"upstream {service} returned 502 after {rng.randrange(30000)} ms", {
                **request,
                "upstream": service,
            }
        return TRACEBACK.format(n=rng.randrange(40, 400), m=rng.randrange(40, 400)), request
    return f"out of memory: killed worker pid {rng.randrange(1000, 60000)}", {}


def log_entries(count: int, start: datetime, end: datetime, *, seed: int = 5) -> Iterator[LogEntry]:
    """``count`` realistic records spread evenly over [start, end), oldest first."""
    rng = random.Random(seed)
    step = (end - start).total_seconds() / max(count, 1)
    base = start.timestamp()
    for i in range(count):
        level = _level(rng)
        message, attrs = _message(level, rng)
        yield LogEntry(
            datetime.fromtimestamp(base + (i + rng.random()) * step, UTC),
            level,
            _source(rng),
            HOSTS[rng.randrange(len(HOSTS))],
            message,
            attrs,
        )


def copy_row(entry: LogEntry) -> tuple:
    """``entry`` as the row a raw COPY writes (attrs already JSON)."""
    return (
        entry.ts,
        entry.level,
        entry.source,
        entry.host,
        entry.message,
        json.dumps(entry.attrs, separators=(",", ":")),
    )


def ndjson_line(entry: LogEntry) -> bytes:
    """``entry`` as one line of an ingest request body."""
    return json.dumps(
        {
            "ts": entry.ts.isoformat(),
            "level": entry.level,
            "source": entry.source,
            "host": entry.host,
            "message": entry.message,
            "attrs": entry.attrs,
        },
        separators=(",", ":"),
    ).encode()


def copy_rows(conn: psycopg.Connection, rows: Iterable[tuple], table: str = "log_records") -> None:
    """COPY ``rows`` (see ``copy_row``) into ``table`` and commit."""
    with conn.cursor() as cur, cur.copy(COPY_SQL.format(table=table)) as copy:
        for row in rows:
            copy.write_row(row)
    conn.commit()


@dataclass(frozen=True)
class LogDatabase:
    """A database holding ``total`` records spread over [start, end)."""

    url: str
    total: int
    start: datetime
    end: datetime


_templates: dict[int, LogDatabase] = {}
"""Loaded databases by size, kept for the whole run and dropped when it exits."""
_run_scope = ExitStack()
atexit.register(_run_scope.close)


def _admin():
    return create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")


def _url(name: str) -> str:
    return make_url(pg_admin_url()).set(database=name).render_as_string(hide_password=False)


def _load(url: str, total: int, start: datetime, end: datetime) -> None:
    """COPY ``total`` records in with the secondary indexes dropped, rebuild them from the
    definitions the migrations made, then VACUUM ANALYZE."""
    with psycopg.connect(psycopg_dsn(url)) as conn:
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'log_records' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint "
            "WHERE conrelid = 'log_records'::regclass)"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        copy_rows(conn, map(copy_row, log_entries(total, start, end)))
        conn.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            conn.execute(definition)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE log_records")


def _template(total: int) -> LogDatabase:
    if total not in _templates:
        url = _run_scope.enter_context(pg_database())
        end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        _load(url, total, end - SPAN, end)
        _templates[total] = LogDatabase(url, total, end - SPAN, end)
    return _templates[total]


@contextmanager
def log_database(quick: bool, records: int | None = None) -> Iterator[LogDatabase]:
    """A migrated database of its own holding ``RECORDS`` realistic records (or
    ``records``; analyzed), dropped afterwards. The records are loaded once per run and
    copied from there."""
    total = records or (QUICK_RECORDS if quick else RECORDS)
    template = _template(total)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = _admin()
    source = make_url(template.url).database
    with admin.connect() as conn:
        big = total >= FILE_COPY_RECORDS and conn.dialect.server_version_info >= (15,)
        strategy = " STRATEGY FILE_COPY" if big else ""
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"{strategy}'))
    try:
        yield LogDatabase(_url(name), total, template.start, template.end)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def add_token(url: str, role: str) -> str:
    """A bearer token of a new user with ``role`` in the database at ``url``."""
    engine = make_engine(url, pool_size=1)
    store = AccountStore(engine)
    account = store.add_user(f"bench-{role}", role, hash_password(secrets.token_urlsafe(16)))
    _, token = store.create_token(account.id, "bench")
    engine.dispose()
    return token


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Served:
    """A running ``pulseboard serve``: its address and gunicorn master process."""

    base: str
    port: int
    process: subprocess.Popen

    def worker(self) -> psutil.Process:
        """The gunicorn worker: the process that runs the app."""
        (worker,) = psutil.Process(self.process.pid).children()
        return worker


def _answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@contextmanager
def served_app(url: str, **settings: str) -> Iterator[Served]:
    """``pulseboard serve`` (gunicorn, one worker) on ``url`` with the in-process bus
    and any more ``PULSEBOARD_*`` ``settings``, stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench_serve_") as tmp:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULSEBOARD_")}
        env.update(
            PULSEBOARD_DATA_DIR=tmp,
            PULSEBOARD_DATABASE_URL=url,
            PULSEBOARD_ADMIN_PASSWORD=secrets.token_urlsafe(16),
            PULSEBOARD_SECRET_KEY=secrets.token_urlsafe(32),
            PULSEBOARD_HOSTNAME="bench-host",
            **settings,
        )
        log_path = Path(tmp) / "server.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [str(Path(sys.executable).parent / "pulseboard"), "serve", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while not _answers(base):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pulseboard serve did not start:\n{log_path.read_text()}")
                time.sleep(0.2)
            yield Served(base, port, process)
        finally:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)  # gunicorn: quick shutdown
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
