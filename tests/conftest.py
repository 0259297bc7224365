"""Fixtures: real PostgreSQL and Redis, a fresh store per backend, apps and logged-in clients."""

from __future__ import annotations

import os
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from dash.testing.application_runners import BaseDashRunner
from selenium.webdriver.chrome.options import Options
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from app import create_app
from app.auth import hash_password
from app.settings import Settings
from storage.db import make_engine, upgrade
from storage.default_rules import default_rule_rows
from storage.live import InProcessBus, RedisBus
from storage.models import AlertRule
from tests.services import (
    DIAGNOSTIC_REDIS,
    ThrowawayPostgres,
    ThrowawayRedis,
    pg_admin_url,
    redis_url,
    unavailable,
)

os.environ.setdefault("DASH_TEST_CHROMEPATH", "/usr/bin/chromium")

TABLES = (
    "metric_rollups",
    "metric_samples",
    "metric_series",
    "log_records",
    "api_tokens",
    "audit_log",
    "users",
    "login_counters",
    "alert_rules",
    "alert_instances",
    "alert_history",
    "notification_channels",
    "alert_silences",
    "notification_outbox",
    "statement_samples",
    "statement_texts",
    "activity_samples",
    "redis_slowlog",
    "endpoint_histograms",
    "slow_requests",
    "error_groups",
    "dependency_checks",
    "annotations",
    "diagnostic_jobs",
)


# Dash's test servers count their ports up from 58050, inside the range the kernel hands out
# for outgoing connections and port-0 binds, where a test's server could find its port taken
# by another test's client. Each parallel worker counts from a base of its own below it.
BaseDashRunner._next_port = 28050 + 1000 * int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:])


def pytest_setup_options() -> Options:
    """Chromium flags for dash[testing]: headless, and no calls to the closed network."""
    options = Options()
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    options.binary_location = os.environ["DASH_TEST_CHROMEPATH"]
    return options


# -- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated database of this test session's own on the test server."""
    admin = pg_admin_url()
    try:
        admin_engine = create_engine(
            admin, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
        )
        with admin_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means: no server to test on
        unavailable("PostgreSQL", exc)
    name = f"pulseboard_test_{uuid.uuid4().hex[:10]}"
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin_engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin_engine.dispose()


def truncate_tables(url: str) -> None:
    """Empty every Pulseboard table of the session database at ``url``, leaving it as a
    fresh migration does (with the default alert rules)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        conn.execute(insert(AlertRule), default_rule_rows(time.time()))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path: Path) -> str:
    """An empty, migrated database on each backend in turn."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'pulseboard.db'}"
        upgrade(url)
        return url
    url = request.getfixturevalue("pg_url")
    truncate_tables(url)
    return url


@pytest.fixture
def engine(database_url: str):
    """An engine on ``database_url``, disposed after the test."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


# -- Redis ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shared_redis_url() -> str:
    """The test Redis server (the one on 127.0.0.1:6379 unless configured)."""
    url = redis_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    return url


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A running PostgreSQL cluster of this test's own, which it may stop and start."""
    server = ThrowawayPostgres()
    server.start()
    yield server
    server.remove()


STATEMENTS_SETTINGS = (
    "shared_preload_libraries=pg_stat_statements",
    "pg_stat_statements.track=all",
    "compute_query_id=on",
)
"""What a server needs for pg_stat_statements to record (and what a throwaway one gets)."""


@pytest.fixture(scope="session")
def statements_server() -> Iterator[str]:
    """Admin URL of a PostgreSQL server with ``pg_stat_statements`` preloaded: the test
    server when it has it, else a throwaway cluster started for this session."""
    admin = pg_admin_url()
    engine = create_engine(admin, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            preloaded = conn.execute(text("SHOW shared_preload_libraries")).scalar_one()
    except Exception as exc:  # any failure means: no server to test on
        unavailable("PostgreSQL", exc)
    finally:
        engine.dispose()
    if "pg_stat_statements" in preloaded:
        yield admin
        return
    server = ThrowawayPostgres(*STATEMENTS_SETTINGS)
    server.start()
    yield server.url
    server.remove()


@pytest.fixture
def statements_pg_url(statements_server: str) -> Iterator[str]:
    """A new database of this test's own on ``statements_server``, with the extension
    created in it (a monitored database, not a Pulseboard store: nothing is migrated)."""
    admin = create_engine(statements_server, isolation_level="AUTOCOMMIT")
    name = f"pulseboard_stmt_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(statements_server).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def throwaway_redis(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    """A Redis server of this test's own that it may kill and restart."""
    server = ThrowawayRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def diagnostic_redis(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    """A Redis of this test's own that logs every command in SLOWLOG, reports latency from
    10 ms and allows DEBUG (the shared one may refuse it)."""
    server = ThrowawayRedis(tmp_path, *DIAGNOSTIC_REDIS)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["memory", "redis"])
def bus(request):
    """A live bus of each kind; the Redis one uses a key prefix of its own."""
    if request.param == "memory":
        live = InProcessBus()
    else:
        url = request.getfixturevalue("shared_redis_url")
        live = RedisBus(url, prefix=f"pbtest-{uuid.uuid4().hex[:8]}:")
        wait_until(lambda: live._listening.is_set(), 5)
    yield live
    live.close()


# -- apps and clients ----------------------------------------------------------------------


def wait_until(condition: Callable[[], object], timeout: float, interval: float = 0.05):
    """Poll ``condition`` until it is truthy; fail the test after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a test app in its own data dir; keyword arguments override fields."""

    def build(**overrides) -> Settings:
        values = {
            "data_dir": tmp_path,
            "database_url": f"sqlite:///{tmp_path / 'pulseboard.db'}",
            "redis_url": None,
            "secret_key": secrets.token_urlsafe(16),
            "admin_password": "admin-password-1",
            "collect_interval": 1,
            "start_scheduler": False,
            "hostname": "test-host",
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def make_app(make_settings):
    """Build Pulseboard apps; each is shut down after the test."""
    apps = []

    def build(**overrides):
        app = create_app(make_settings(**overrides))
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.server.extensions["pulseboard"].close()


@pytest.fixture
def app(make_app, database_url):
    """A Pulseboard app on each database backend (scheduler not started)."""
    return make_app(database_url=database_url)


@pytest.fixture
def client(app):
    """A Flask test client of ``app`` (anonymous)."""
    return app.server.test_client()


class Accounts:
    """Creates users of a role and logs them in or hands out their tokens."""

    def __init__(self, app) -> None:
        self.app = app
        self.rt = app.server.extensions["pulseboard"]

    def user(self, role: str, name: str | None = None, password: str = "password-123") -> str:
        """Create a user with ``role``; return its name."""
        name = name or f"{role}-{uuid.uuid4().hex[:6]}"
        self.rt.accounts.add_user(name, role, hash_password(password))
        return name

    def token(self, role: str) -> str:
        """A bearer token of a new user with ``role``."""
        name = self.user(role)
        account, _ = self.rt.accounts.credentials(name)
        return self.rt.accounts.create_token(account.id, "test")[1]

    def login(self, client, role: str = "admin"):
        """Log ``client`` in as a new user with ``role``; return the client."""
        name = self.user(role)
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        response = client.post(
            "/login", data={"name": name, "password": "password-123", "csrf_token": csrf}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return client


@pytest.fixture
def accounts(app) -> Accounts:
    """User helper for ``app``."""
    return Accounts(app)
