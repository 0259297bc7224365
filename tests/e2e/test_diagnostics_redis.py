"""The Redis section of the Diagnostics page in Chromium, against a Redis of the test's own:
the memory cards, a DEBUG SLEEP in the slow commands and the latency events, a big-keys
scan that finds the big key with its progress bar, one cancelled, the download, and the
section at phone width."""

from __future__ import annotations

import pytest
import redis
from dash.testing.composite import DashComposite
from dash.testing.wait import until
from selenium.common.exceptions import JavascriptException

from tests.e2e.browser import console_messages, record_console, text_of
from tests.e2e.test_alerts import GRID_DATA, download
from tests.e2e.test_overview import click, login
from tests.services import ThrowawayRedis

pytestmark = pytest.mark.browser

WAIT = 15
SHOTS = "/tmp/pulseboard-diagnostics-redis"


@pytest.fixture
def server(diagnostic_redis: ThrowawayRedis) -> ThrowawayRedis:
    return diagnostic_redis


def grid_data(dash_duo: DashComposite, grid: str) -> list[dict]:
    """The rows a grid holds (none while it is not drawn yet)."""
    try:
        return dash_duo.driver.execute_script(GRID_DATA, grid) or []
    except JavascriptException:
        return []


def progress(dash_duo: DashComposite) -> str | None:
    """The big-keys progress bar's value (percent), as the page sets it."""
    return dash_duo.driver.execute_script(
        "const bar = document.querySelector('#diag-redis-bigkeys-progress .progress-bar');"
        "return bar && bar.getAttribute('aria-valuenow');"
    )


def test_the_redis_section_shows_slow_commands_latency_and_a_big_keys_scan(
    dash_duo: DashComposite, make_app, server: ThrowawayRedis
):
    client = redis.Redis.from_url(server.url)
    client.mset({f"small:{i}": "x" for i in range(3000)})
    client.set("big", "x" * 1_000_000)
    client.execute_command("DEBUG", "SLEEP", "0.2")
    app = make_app(monitor_redis=(server.url,))
    record_console(dash_duo)
    dash_duo.start_server(app, navigate=False)
    login(dash_duo, app)
    dash_duo.driver.get(dash_duo.server.url + "/diagnostics?tab=redis")

    until(
        lambda: any(
            r["command"] == "DEBUG SLEEP 0.2" for r in grid_data(dash_duo, "diag-redis-slowlog")
        ),
        WAIT,
        msg="the DEBUG SLEEP is not among the slow commands",
    )
    (event,) = [e for e in grid_data(dash_duo, "diag-redis-latency") if e["event"] == "command"]
    assert event["max_ms"] >= 200
    assert "command" in text_of(dash_duo, "#diag-redis-doctor")
    cards = text_of(dash_duo, "#diag-redis-cards")
    assert "Used memory" in cards and "Hit ratio" in cards and "Evicted keys" in cards
    assert "DEBUG SLEEP 0.2" in download(dash_duo, "#diag-redis-slowlog-csv")
    dash_duo.driver.save_screenshot(f"{SHOTS}.png")

    click(dash_duo, "#diag-redis-bigkeys-start")
    until(
        lambda: text_of(dash_duo, "#diag-redis-bigkeys-status").startswith("Done"),
        WAIT,
        msg="the scan did not finish",
    )
    until(lambda: progress(dash_duo) == "100", WAIT, msg="the bar is not full")
    assert "3,001 of 3,001 keys" in text_of(dash_duo, "#diag-redis-bigkeys-progress")
    top = until(lambda: grid_data(dash_duo, "diag-redis-bigkeys-grid"), WAIT)
    assert top[0]["key"] == "big" and top[0]["type"] == "string"
    assert "big" in download(dash_duo, "#diag-redis-bigkeys-json")
    dash_duo.driver.save_screenshot(f"{SHOTS}-scanned.png")

    for start in range(0, 20_000, 5000):
        client.mset({f"k:{i}": "x" for i in range(start, start + 5000)})
    click(dash_duo, "#diag-redis-bigkeys-start")
    until(
        lambda: dash_duo.find_element("#diag-redis-bigkeys-cancel").is_enabled(),
        WAIT,
        msg="Cancel is not offered while the scan runs",
    )
    click(dash_duo, "#diag-redis-bigkeys-cancel")
    until(
        lambda: text_of(dash_duo, "#diag-redis-bigkeys-status").startswith("Cancelled"),
        WAIT,
        msg="the scan was not cancelled",
    )
    assert 0 < float(progress(dash_duo)) < 100
    assert not dash_duo.find_element("#diag-redis-bigkeys-cancel").is_enabled()

    driver = dash_duo.driver
    driver.set_window_size(390, 844)
    until(lambda: driver.execute_script("return window.innerWidth") <= 400, 5)
    width = driver.execute_script("return window.innerWidth")
    scroll = driver.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= width + 1, f"page is {scroll}px wide in a {width}px window"
    driver.save_screenshot(f"{SHOTS}-phone.png")
    assert console_messages(dash_duo) == []
    assert dash_duo.get_logs() == []
