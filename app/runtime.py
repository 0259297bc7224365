"""The objects one Pulseboard process runs on, built by ``create_app`` and shared by views."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import Engine

from app.settings import Settings
from app.token_cache import TokenCache
from collectors.base import Collector
from collectors.checks import CheckCollector
from collectors.requests import RequestTimings
from collectors.scheduler import Scheduler
from collectors.syslog import SyslogReceiver
from collectors.tail import FileTailer
from storage.accounts import AccountStore
from storage.alerts import AlertStore
from storage.channels import ChannelStore
from storage.live import AUTH_CHANNEL, LiveBus
from storage.login_throttle import LoginThrottle
from storage.logs import LogStore
from storage.metrics import MetricsStore
from storage.outbox import OutboxStore

if TYPE_CHECKING:
    from app.log_handler import LogStoreHandler
    from app.log_tail import TailHub

INGEST_WRITE_SLOTS = 4


@dataclass
class Runtime:
    """Settings, stores, live bus, collectors and scheduler of this process."""

    settings: Settings
    engine: Engine
    metrics: MetricsStore
    accounts: AccountStore
    bus: LiveBus
    collectors: list[Collector]
    scheduler: Scheduler
    timings: RequestTimings
    logs: LogStore
    token_cache: TokenCache = field(default_factory=TokenCache)
    ingest_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(INGEST_WRITE_SLOTS)
    )
    log_handler: LogStoreHandler | None = None
    syslog: SyslogReceiver | None = None
    tailer: FileTailer | None = None
    tail_hub: TailHub | None = None
    checks: CheckCollector | None = None
    """Runs the dependency checks (its pool is stopped on close)."""
    logins: LoginThrottle = field(init=False)
    """Counts failed logins in the database, so every process throttles alike."""
    alerts: AlertStore = field(init=False)
    channels: ChannelStore = field(init=False)
    outbox: OutboxStore = field(init=False)

    def __post_init__(self) -> None:
        self.logins = LoginThrottle(self.engine)
        self.alerts = AlertStore(self.engine)
        self.channels = ChannelStore(self.engine)
        self.outbox = OutboxStore(self.engine)

    def auth_changed(self) -> None:
        """Tell every process that a token or user changed: cached token answers go."""
        self.token_cache.clear()
        self.bus.publish(AUTH_CHANNEL, {"type": "auth-changed"})

    def close(self) -> None:
        """Stop the scheduler, syslog and tailer, the log handler (writing what it holds), the
        bus and the pool."""
        self.scheduler.shutdown()
        if self.checks is not None:
            self.checks.close()
        if self.tail_hub is not None:
            self.tail_hub.close()
        if self.syslog is not None:
            self.syslog.stop()
        if self.tailer is not None:
            self.tailer.close()
        if self.log_handler is not None:
            from app.log_handler import uninstall

            uninstall(self.log_handler)
            self.log_handler = None
        self.bus.close()
        self.engine.dispose()


def runtime() -> Runtime:
    """The runtime of the Flask app handling the current request."""
    return current_app.extensions["pulseboard"]
