"""Pulseboard's composition root: ``create_app`` builds stores, bus, scheduler and Dash."""

from __future__ import annotations

import functools
import logging
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path

import dash
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app import auth, log_handler, timing
from app.alerting.evaluate import Evaluator
from app.alerting.notification import DeliveryContext
from app.alerting.notify import Deliverer, DeliveryConfig
from app.alerting.views import notifier
from app.api import errors
from app.api.accounts import bp as accounts_bp
from app.api.alerts import bp as alerts_bp
from app.api.diagnostics import bp as diagnostics_bp
from app.api.downloads import bp as downloads_bp
from app.api.log_archives import bp as log_archives_bp
from app.api.logs import bp as logs_bp
from app.api.monitoring import bp as monitoring_bp
from app.callbacks import register_all
from app.embed import bp as embed_bp
from app.layout import shell
from app.log_tail import TailHub
from app.runtime import Runtime
from app.services import log_archive
from app.services.alert_channels import sealed_sender
from app.services.diagnostics import statements
from app.settings import Settings
from app.token_cache import follow_auth_changes
from app.ws import sock
from collectors.base import Collector
from collectors.checks import CheckCollector
from collectors.endpoints import MAX_GAP, EndpointRecorder
from collectors.pg_activity import ActivityHistory
from collectors.pg_statements import StatementCollector
from collectors.pool import PoolCollector
from collectors.postgres import PostgresCollector
from collectors.postgres import target_name as postgres_target
from collectors.redis import RedisCollector
from collectors.redis import target_name as redis_target
from collectors.redis_inspect import SlowlogRecorder
from collectors.requests import RequestCollector, RequestTimings
from collectors.scheduler import LeaderJob, ScheduleConfig, Scheduler
from collectors.syslog import SyslogReceiver, parse_addr
from collectors.system import SystemCollector
from collectors.tail import FileTailer
from storage import db
from storage.accounts import AccountStore, DuplicateUser
from storage.alerts import AlertStore
from storage.diagnostics.activity import ActivityStore
from storage.diagnostics.checks import CheckStore
from storage.diagnostics.endpoints import EndpointStore
from storage.diagnostics.redis import RedisSlowlogStore
from storage.diagnostics.statements import StatementStore
from storage.leader import make_leader_lock
from storage.live import LOGS_CHANNEL, make_bus
from storage.logs import LogStore
from storage.metrics import MetricsStore

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
SLOWLOG_INTERVAL = 10.0
"""Seconds between two copies of the watched servers' SLOWLOG at most (the collect
interval when it is longer)."""


def build_collectors(
    settings: Settings, timings: RequestTimings, engine: Engine
) -> list[Collector]:
    """The collectors this process runs, in the order they run."""
    host = settings.hostname
    collectors: list[Collector] = [
        SystemCollector(host),
        RequestCollector(host, timings),
        PoolCollector(host, engine),
    ]
    postgres = [] if settings.is_sqlite else [settings.database_url]
    postgres += list(settings.monitor_postgres)
    if postgres:
        collectors.append(PostgresCollector(host, _unique(postgres, postgres_target)))
    redis_urls = ([settings.redis_url] if settings.redis_url else []) + list(settings.monitor_redis)
    if redis_urls:
        collectors.append(RedisCollector(host, _unique(redis_urls, redis_target)))
    return collectors


def redis_slowlog_jobs(
    settings: Settings, collectors: list[Collector], engine: Engine
) -> list[LeaderJob]:
    """The leader's copy of every watched Redis' SLOWLOG into the store (none without Redis)."""
    watch = next((c for c in collectors if isinstance(c, RedisCollector)), None)
    if watch is None:
        return []
    recorder = SlowlogRecorder(
        watch.clients, RedisSlowlogStore(engine), settings.rollup_retention_days * 86400
    )
    interval = max(float(settings.collect_interval), SLOWLOG_INTERVAL)
    return [LeaderJob("redis-slowlog", recorder.run, interval)]


def activity_history_jobs(
    settings: Settings, collectors: list[Collector], engine: Engine
) -> list[LeaderJob]:
    """The leader's record of the PostgreSQL sessions worth remembering (none without a
    watched PostgreSQL), kept as long as raw samples."""
    watch = next((c for c in collectors if isinstance(c, PostgresCollector)), None)
    if watch is None:
        return []
    history = ActivityHistory(
        watch.conninfo, ActivityStore(engine), settings.raw_retention_hours * 3600
    )
    return [LeaderJob("activity-history", history.run, settings.collect_interval)]


def statement_jobs(
    settings: Settings, collectors: list[Collector], engine: Engine
) -> list[LeaderJob]:
    """The leader's snapshots of pg_stat_statements of every watched PostgreSQL at the
    collect interval, and their rollup and retention (none without a watched PostgreSQL)."""
    watch = next((c for c in collectors if isinstance(c, PostgresCollector)), None)
    if watch is None:
        return []
    store = StatementStore(engine)
    collector = StatementCollector(list(watch.conninfo.values()), store)
    return [
        LeaderJob("statements", lambda: collector.collect(time.time()), settings.collect_interval),
        LeaderJob(
            "statements-maintain",
            lambda: statements.maintain(settings, store, time.time()),
            statements.MAINTAIN_INTERVAL,
        ),
    ]


def _unique(urls: list[str], target) -> list[str]:
    seen: dict[str, str] = {}
    for url in urls:
        seen.setdefault(target(url), url)
    return list(seen.values())


def delivery_context(settings: Settings) -> DeliveryContext:
    """What sending notifications needs from the settings."""
    return DeliveryContext(
        external_url=settings.external_url,
        smtp_url=settings.smtp_url,
        smtp_from=settings.smtp_from,
        allow_private=settings.webhook_allow_private,
    )


def build_runtime(settings: Settings) -> Runtime:
    """Stores, live bus, collectors and scheduler for ``settings`` (scheduler not started)."""
    engine = db.make_engine(settings.database_url)
    metrics = MetricsStore(engine)
    bus = make_bus(settings.redis_url, settings.redis_key_prefix)
    timings = RequestTimings(slow_threshold=settings.slow_request_ms / 1000)
    checks = CheckCollector(settings.hostname, CheckStore(engine))
    collectors = [*build_collectors(settings, timings, engine), checks]
    # Every committed write wakes the live tails of every process (through Redis if set).
    logs = LogStore(
        engine, on_commit=lambda n: bus.publish(LOGS_CHANNEL, {"type": "logs", "count": n})
    )
    tailer = None
    if settings.tail_files:
        tailer = FileTailer(
            settings.tail_files,
            logs.write,
            settings.data_dir / "tail-positions.json",
            settings.hostname,
        )
    lock = make_leader_lock(settings.database_url, settings.data_dir, settings.leader_lock_ttl)
    deliverer = Deliverer(
        engine,
        lock.fence,
        delivery_context(settings),
        DeliveryConfig(
            group_wait=settings.alert_group_wait, group_interval=settings.alert_group_interval
        ),
        sender=sealed_sender(settings.secret_key),
    )
    endpoints = EndpointStore(engine)
    recorder = EndpointRecorder(
        settings.hostname,
        timings,
        endpoints,
        lock.fence,
        max_gap=max(MAX_GAP, 5 * settings.collect_interval),
    )
    schedule = ScheduleConfig(
        collect_interval=settings.collect_interval,
        lock_ttl=settings.leader_lock_ttl,
        raw_retention=settings.raw_retention_hours * 3600,
        rollup_retention=settings.rollup_retention_days * 86400,
        five_minute_retention=settings.five_minute_retention_days * 86400,
        hourly_retention=settings.hourly_retention_days * 86400,
    )
    evaluator = Evaluator(
        AlertStore(engine),
        metrics,
        logs,
        bus,
        notifier(settings.external_url),
        lock.fence,
        on_queued=lambda: deliverer.deliver(time.time()),
    )
    scheduler = Scheduler(
        collectors,
        metrics,
        bus,
        lock,
        schedule,
        jobs=[
            LeaderJob(
                "log-archive",
                functools.partial(log_archive.archive_expired, settings, logs),
                log_archive.ARCHIVE_CHECK_INTERVAL,
                first_delay=log_archive.ARCHIVE_FIRST_DELAY,
            ),
            *([LeaderJob("tail", tailer.poll, 1.0)] if tailer else ()),
            *activity_history_jobs(settings, collectors, engine),
            *statement_jobs(settings, collectors, engine),
            LeaderJob("alerts-evaluate", lambda: evaluator.run(time.time()), 1.0),
            LeaderJob("alerts-deliver", lambda: deliverer.deliver(time.time()), 1.0),
            *redis_slowlog_jobs(settings, collectors, engine),
            LeaderJob(
                "endpoints-record", lambda: recorder.run(time.time()), settings.collect_interval
            ),
            LeaderJob(
                "endpoints-rollup", lambda: endpoints.rollup(time.time()), schedule.rollup_interval
            ),
            LeaderJob(
                "endpoints-retention",
                lambda: endpoints.trim(
                    time.time(),
                    raw_retention=schedule.raw_retention,
                    rollup_retention=schedule.rollup_retention,
                    hourly_retention=schedule.hourly_retention,
                ),
                schedule.retention_interval,
            ),
            LeaderJob("checks", checks.tick, 1.0),
        ],
    )
    return Runtime(
        settings,
        engine,
        metrics,
        AccountStore(engine),
        bus,
        collectors,
        scheduler,
        timings,
        logs,
        tailer=tailer,
        tail_hub=TailHub(logs, bus),
        checks=checks,
    )


def ensure_first_admin(rt: Runtime) -> None:
    """On an empty database create ``admin``, printing a generated password once."""
    if rt.accounts.count_users():
        return
    password = rt.settings.admin_password or secrets.token_urlsafe(12)
    try:
        rt.accounts.add_user("admin", "admin", auth.hash_password(password))
    except DuplicateUser:
        return  # another process created it first
    if rt.settings.admin_password:
        print("Pulseboard: created user 'admin' with PULSEBOARD_ADMIN_PASSWORD.", file=sys.stderr)
    else:
        print(
            f"Pulseboard: created user 'admin' with password: {password}\n"
            "            (shown once; change it on the Settings page)",
            file=sys.stderr,
        )


def create_app(settings: Settings | None = None) -> dash.Dash:
    """Build the Pulseboard Dash app (its Flask server is ``.server``)."""
    settings = settings or Settings.from_env()
    if settings.is_sqlite:
        db.upgrade_if_behind(settings.database_url)
    rt = build_runtime(settings)
    rt.log_handler = log_handler.install(rt.logs, settings.hostname)
    try:
        ensure_first_admin(rt)
        rt.logs.apply_search_index(settings.log_search_index)
    except SQLAlchemyError as exc:
        # Serve anyway: health must be able to say the database is down.
        log.error("database unavailable at start, first admin or search index not checked: %s", exc)

    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(Path(__file__).parent / "pages"),
        assets_folder=str(ROOT / "assets"),
        # Bootstrap and its icons are served from assets/: no CDN for a self-hosted console.
        # Pages of their own (login, the embeddable tail) load these; Dash pages do not.
        assets_ignore=r"login\.css|embed-logs\.(css|js)",
        title="Pulseboard",
        update_title=None,
        suppress_callback_exceptions=True,
        csrf_token_name=auth.CSRF_COOKIE,
        csrf_header_name=auth.CSRF_HEADER,
    )
    server = app.server
    server.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_minutes),
        # Ingest checks its own (configured) limit; this is the ceiling for everything else.
        MAX_CONTENT_LENGTH=max(16 * 1024 * 1024, settings.ingest_max_bytes),
        SOCK_SERVER_OPTIONS={"ping_interval": 25},
    )
    server.extensions["pulseboard"] = rt
    server.extensions[auth.DASH_APP] = app
    follow_auth_changes(rt.bus, rt.token_cache)
    errors.install(server)
    auth.install(server)
    timing.install(server, rt.timings)
    server.register_blueprint(monitoring_bp)
    server.register_blueprint(accounts_bp)
    server.register_blueprint(logs_bp)
    server.register_blueprint(log_archives_bp)
    server.register_blueprint(downloads_bp)
    server.register_blueprint(alerts_bp)
    server.register_blueprint(diagnostics_bp)
    server.register_blueprint(embed_bp)
    sock.init_app(server)

    app.layout = shell
    register_all(app)
    # Dash adds its page-routing scripts while it sets itself up on the first request, so
    # the policy hashes the index page as it stands then.
    server.extensions[auth.CSP_KEY] = functools.cache(
        lambda framed: auth.content_security_policy(
            auth.inline_script_hashes(app.index()), settings.allowed_origins if framed else ()
        )
    )
    if settings.syslog_addr:
        # Every process tries; one binds, the others log that the port is taken.
        rt.syslog = SyslogReceiver(*parse_addr(settings.syslog_addr), rt.logs.write)
        rt.syslog.start()
    if settings.start_scheduler:
        rt.scheduler.start()
    return app
