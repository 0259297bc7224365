"""The objects one Pulseboard process runs on, built by ``create_app`` and shared by views."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import Engine

from app.settings import Settings
from app.token_cache import AUTH_CHANNEL, TokenCache
from collectors.base import Collector
from collectors.requests import RequestTimings
from collectors.scheduler import Scheduler
from storage.accounts import AccountStore
from storage.live import LiveBus
from storage.metrics import MetricsStore


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
    token_cache: TokenCache = field(default_factory=TokenCache)

    def auth_changed(self) -> None:
        """Tell every process that a token or user changed: cached token answers go."""
        self.token_cache.clear()
        self.bus.publish(AUTH_CHANNEL, {"type": "auth-changed"})

    def close(self) -> None:
        """Stop the scheduler, the bus and the database pool."""
        self.scheduler.shutdown()
        self.bus.close()
        self.engine.dispose()


def runtime() -> Runtime:
    """The runtime of the Flask app handling the current request."""
    return current_app.extensions["pulseboard"]
