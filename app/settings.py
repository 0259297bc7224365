"""Pulseboard settings: the one place that reads the environment."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from storage.live import deployment_prefix

DEFAULT_PORT = 8050


class SettingsError(ValueError):
    """An environment variable holds a value Pulseboard cannot use."""


def _int(env: Mapping[str, str], key: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{key} must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{key} must be between {minimum} and {maximum}, got {value}")
    return value


def _list(env: Mapping[str, str], key: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(key, "").split(",") if item.strip())


def _psycopg_url(url: str) -> str:
    """SQLAlchemy needs the driver named: ``postgresql://`` means psycopg 3 here."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _addr(env: Mapping[str, str], key: str) -> str | None:
    """``host:port`` (IPv6 as ``[::1]:514``), or None when unset."""
    raw = (env.get(key) or "").strip()
    if not raw:
        return None
    host, sep, port = raw.rpartition(":")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not bare or (":" in bare and bare == host) or not port.isdigit():
        raise SettingsError(f"{key} must be host:port (IPv6 as [::1]:514), got {raw!r}")
    if not 1 <= int(port) <= 65535:
        raise SettingsError(f"{key} port must be between 1 and 65535, got {port}")
    return raw


def _choice(env: Mapping[str, str], key: str, default: str, choices: tuple[str, ...]) -> str:
    value = (env.get(key) or default).strip().lower()
    if value not in choices:
        raise SettingsError(f"{key} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _flag(env: Mapping[str, str], key: str) -> bool:
    return env.get(key, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Everything Pulseboard is configured with, built once and passed down."""

    data_dir: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    redis_prefix: str | None = None
    admin_password: str | None = None
    collect_interval: int = 5
    raw_retention_hours: int = 48
    rollup_retention_days: int = 30
    five_minute_retention_days: int = 90
    hourly_retention_days: int = 365
    log_retention_days: int = 14
    ingest_max_bytes: int = 8 * 1024 * 1024
    leader_lock_ttl: int = 15
    hostname: str = field(default_factory=socket.gethostname)
    allowed_origins: tuple[str, ...] = ()
    secure_cookies: bool = False
    session_idle_minutes: int = 480
    metrics_token: str | None = None
    monitor_postgres: tuple[str, ...] = ()
    monitor_redis: tuple[str, ...] = ()
    syslog_addr: str | None = None
    tail_files: tuple[str, ...] = ()
    start_scheduler: bool = True
    external_url: str = "http://127.0.0.1:8050"
    smtp_url: str | None = None
    smtp_from: str | None = None
    webhook_allow_private: bool = False
    alert_group_wait: int = 30
    alert_group_interval: int = 300
    slow_request_ms: int = 1000
    log_search_index: str = "trigram"
    ws_max_clients: int = 500

    @property
    def is_sqlite(self) -> bool:
        """True when the metrics and logs live in the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    @property
    def redis_key_prefix(self) -> str:
        """What every Redis key and channel of this deployment starts with:
        ``PULSEBOARD_REDIS_PREFIX``, else one derived from the database and Redis db."""
        return self.redis_prefix or deployment_prefix(self.database_url, self.redis_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from environment variables (``os.environ`` by default)."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("PULSEBOARD_DATA_DIR") or "var").expanduser().resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        database_url = _psycopg_url(
            env.get("PULSEBOARD_DATABASE_URL") or f"sqlite:///{data_dir / 'pulseboard.db'}"
        )
        origins = tuple(o.rstrip("/") for o in _list(env, "PULSEBOARD_ALLOWED_ORIGINS"))
        values: dict[str, object] = {
            "data_dir": data_dir,
            "database_url": database_url,
            "redis_url": env.get("PULSEBOARD_REDIS_URL") or None,
            "redis_prefix": env.get("PULSEBOARD_REDIS_PREFIX") or None,
            "secret_key": env.get("PULSEBOARD_SECRET_KEY") or _stored_secret(data_dir),
            "admin_password": env.get("PULSEBOARD_ADMIN_PASSWORD") or None,
            "collect_interval": _int(env, "PULSEBOARD_COLLECT_INTERVAL", 5, 1, 3600),
            "raw_retention_hours": _int(env, "PULSEBOARD_RAW_RETENTION_HOURS", 48, 1, 24 * 365),
            "rollup_retention_days": _int(env, "PULSEBOARD_ROLLUP_RETENTION_DAYS", 30, 1, 3650),
            "five_minute_retention_days": _int(
                env, "PULSEBOARD_FIVE_MINUTE_RETENTION_DAYS", 90, 1, 36500
            ),
            "hourly_retention_days": _int(env, "PULSEBOARD_HOURLY_RETENTION_DAYS", 365, 1, 36500),
            "log_retention_days": _int(env, "PULSEBOARD_LOG_RETENTION_DAYS", 14, 1, 36500),
            "ingest_max_bytes": _int(
                env, "PULSEBOARD_INGEST_MAX_BYTES", 8 * 1024 * 1024, 1024, 1024 * 1024 * 1024
            ),
            "leader_lock_ttl": _int(env, "PULSEBOARD_LEADER_LOCK_TTL", 15, 3, 600),
            "hostname": env.get("PULSEBOARD_HOSTNAME") or socket.gethostname(),
            "allowed_origins": origins,
            "secure_cookies": _flag(env, "PULSEBOARD_SECURE_COOKIES"),
            "metrics_token": env.get("PULSEBOARD_METRICS_TOKEN") or None,
            "monitor_postgres": tuple(
                _psycopg_url(u) for u in _list(env, "PULSEBOARD_MONITOR_POSTGRES")
            ),
            "monitor_redis": _list(env, "PULSEBOARD_MONITOR_REDIS"),
            "syslog_addr": _addr(env, "PULSEBOARD_SYSLOG_ADDR"),
            "tail_files": _list(env, "PULSEBOARD_TAIL_FILES"),
            "external_url": (env.get("PULSEBOARD_EXTERNAL_URL") or "http://127.0.0.1:8050").rstrip(
                "/"
            ),
            "smtp_url": env.get("PULSEBOARD_SMTP_URL") or None,
            "smtp_from": env.get("PULSEBOARD_SMTP_FROM") or None,
            "webhook_allow_private": _flag(env, "PULSEBOARD_WEBHOOK_ALLOW_PRIVATE"),
            "alert_group_wait": _int(env, "PULSEBOARD_ALERT_GROUP_WAIT", 30, 0, 3600),
            "alert_group_interval": _int(env, "PULSEBOARD_ALERT_GROUP_INTERVAL", 300, 0, 86400),
            "session_idle_minutes": _int(env, "PULSEBOARD_SESSION_IDLE_MINUTES", 480, 1, 7 * 1440),
            "slow_request_ms": _int(env, "PULSEBOARD_SLOW_REQUEST_MS", 1000, 0, 3_600_000),
            "log_search_index": _choice(
                env, "PULSEBOARD_LOG_SEARCH_INDEX", "trigram", ("trigram", "none")
            ),
            "ws_max_clients": _int(env, "PULSEBOARD_WS_MAX_CLIENTS", 500, 1, 100_000),
            # Under `flask run --debug` the reloader's parent process also builds the app;
            # only the child it spawns (WERKZEUG_RUN_MAIN=true) may run the scheduler.
            "start_scheduler": not (
                _flag(env, "FLASK_DEBUG") and env.get("WERKZEUG_RUN_MAIN") != "true"
            ),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _stored_secret(data_dir: Path) -> str:
    """Return the secret key kept in the data dir, generating it on first use."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(48)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race; use its key
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key
