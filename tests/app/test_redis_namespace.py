"""Two deployments on one Redis keep to themselves; the processes of one deployment share.

Pub/sub channels are global to a Redis server, so only the per-deployment prefix keeps one
deployment's samples, log wake-ups and account changes away from another's."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.log_handler import uninstall
from app.settings import Settings
from storage.live import AUTH_CHANNEL, LOGS_CHANNEL, METRICS_CHANNEL, Subscription
from storage.logs import LogEntry
from tests.conftest import wait_until
from tests.storage.conftest import T0

WAIT = 5.0


def runtime(make_app, data_dir: Path, database_url: str, redis_url: str):
    """The runtime of a real app on ``database_url`` and the shared Redis, its bus listening."""
    data_dir.mkdir(exist_ok=True)
    app = make_app(data_dir=data_dir, database_url=database_url, redis_url=redis_url)
    rt = app.server.extensions["pulseboard"]
    # Its own log handler would announce log writes of its own at any moment (and, on the
    # root logger, those of the other app too): only the test's writes may wake tails here.
    uninstall(rt.log_handler)
    rt.log_handler = None
    wait_until(rt.bus._listening.is_set, WAIT)
    return rt


def receive(sub: Subscription) -> dict:
    """The next message of ``sub``; fails if none arrives in time."""
    message = sub.get(timeout=WAIT)
    assert message is not None, f"nothing arrived on {sub.channel!r}"
    return message


def assert_nothing_more(sub: Subscription) -> None:
    assert sub.get(timeout=0.3) is None


def write_logs(rt, count: int) -> None:
    rt.logs.write([LogEntry(T0, "info", "api", "web-1", f"line {i}") for i in range(count)])


@pytest.fixture
def two_deployments(make_app, shared_redis_url: str, tmp_path: Path):
    """Two apps on their own SQLite databases, one Redis server and database number, and the
    same host name, with no prefix configured."""
    return tuple(
        runtime(
            make_app, tmp_path / name, f"sqlite:///{tmp_path / name / 'pb.db'}", shared_redis_url
        )
        for name in ("first", "second")
    )


def test_two_deployments_on_one_redis_get_prefixes_of_their_own(two_deployments):
    first, second = two_deployments

    assert first.bus.prefix != second.bus.prefix
    assert first.settings.hostname == second.settings.hostname


def test_a_deployment_sees_only_its_own_metrics(two_deployments):
    first, second = two_deployments
    on_first, on_second = (
        first.bus.subscribe(METRICS_CHANNEL),
        second.bus.subscribe(METRICS_CHANNEL),
    )

    assert first.scheduler.elect()  # becoming leader collects and publishes at once
    assert second.bus.latest(METRICS_CHANNEL) is None
    assert second.scheduler.elect()

    assert receive(on_first) == first.bus.latest(METRICS_CHANNEL)
    assert receive(on_second) == second.bus.latest(METRICS_CHANNEL)
    assert first.bus.latest(METRICS_CHANNEL) != second.bus.latest(METRICS_CHANNEL)
    assert_nothing_more(on_first)
    assert_nothing_more(on_second)


def test_a_deployment_wakes_only_its_own_live_tails(two_deployments):
    first, second = two_deployments
    on_first, on_second = first.bus.subscribe(LOGS_CHANNEL), second.bus.subscribe(LOGS_CHANNEL)

    write_logs(first, 1)
    write_logs(second, 2)

    # Had the first write reached the second deployment, it would have come first.
    assert receive(on_first) == {"type": "logs", "count": 1}
    assert receive(on_second) == {"type": "logs", "count": 2}
    assert_nothing_more(on_first)
    assert_nothing_more(on_second)


def test_an_account_change_clears_only_its_own_deployments_token_caches(two_deployments):
    first, second = two_deployments
    on_second = second.bus.subscribe(AUTH_CHANNEL)

    first.auth_changed()
    second.auth_changed()

    assert receive(on_second) == {"type": "auth-changed"}
    assert_nothing_more(on_second)


def test_the_processes_of_one_deployment_share_their_live_bus(
    make_app, shared_redis_url: str, tmp_path: Path
):
    database_url = f"sqlite:///{tmp_path / 'pb.db'}"
    one = runtime(make_app, tmp_path / "one", database_url, shared_redis_url)
    other = runtime(make_app, tmp_path / "other", database_url, shared_redis_url)
    logs, auth = other.bus.subscribe(LOGS_CHANNEL), other.bus.subscribe(AUTH_CHANNEL)

    write_logs(one, 3)
    one.auth_changed()

    assert one.bus.prefix == other.bus.prefix
    assert receive(logs) == {"type": "logs", "count": 3}
    assert receive(auth) == {"type": "auth-changed"}


def test_a_configured_prefix_is_used_as_given(tmp_path: Path):
    env = {
        "PULSEBOARD_DATA_DIR": str(tmp_path),
        "PULSEBOARD_REDIS_URL": "redis://127.0.0.1:6379/0",
        "PULSEBOARD_SECRET_KEY": "k",
    }

    derived = Settings.from_env(env).redis_key_prefix
    configured = Settings.from_env({**env, "PULSEBOARD_REDIS_PREFIX": "shop-eu:"})

    assert derived.startswith("pulseboard:")
    assert configured.redis_key_prefix == "shop-eu:"
