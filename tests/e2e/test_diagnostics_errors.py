"""The Diagnostics page's Errors section in Chromium, at phone width: the groups of the
range with their flags and trend, a group's sample, counts and download, "Open in Logs"
showing exactly its records on the Logs page, and an address opening one group; no
console errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import dash
import pytest
import requests
from dash.testing.composite import DashComposite
from dash.testing.wait import until

from storage.log_fingerprint import fingerprint
from storage.logs import LogEntry
from tests.app.auth_helpers import runtime_of
from tests.e2e.browser import console_messages, record_console, text_of
from tests.e2e.test_alerts import SELECT_ROW, grid_data
from tests.e2e.test_logs import messages

pytestmark = pytest.mark.browser
WAIT = 15
PAGE = "/diagnostics?tab=errors"


def seed(app: dash.Dash) -> str:
    """Errors of two groups over the last hour (and an info line); the busier one's
    fingerprint."""
    now = time.time()

    def at(seconds_ago: float) -> datetime:
        return datetime.fromtimestamp(now - seconds_ago, UTC)

    runtime_of(app).logs.write(
        [
            *(
                LogEntry(at(60 * n), "error", "api", f"web-{n % 2 + 1}", f"payment {n} declined")
                for n in range(1, 6)
            ),
            LogEntry(at(120), "critical", "db", "db-1", "disk <full> on /var"),
            LogEntry(at(30), "info", "api", "web-1", "payment 9 ok"),
        ]
    )
    return fingerprint("error", "api", "payment 1 declined").fingerprint


def login(dash_duo: DashComposite, app: dash.Dash) -> None:
    """Log in as admin through the form, then open the Errors section."""
    dash_duo.driver.get(dash_duo.server.url + "/login")
    dash_duo.wait_for_element("#login-name").send_keys("admin")
    dash_duo.find_element("#login-password").send_keys(runtime_of(app).settings.admin_password)
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_element("#nav-logout", timeout=WAIT)
    dash_duo.driver.get(dash_duo.server.url + PAGE)
    dash_duo.wait_for_element("#diag-errors-grid", timeout=WAIT)


def test_error_groups_open_their_sample_and_their_logs(dash_duo: DashComposite, make_app):
    app = make_app()
    busiest = seed(app)
    record_console(dash_duo)
    dash_duo.driver.set_window_size(390, 844)
    dash_duo.start_server(app, navigate=False)
    login(dash_duo, app)

    until(lambda: grid_data(dash_duo, "diag-errors-grid"), WAIT, msg="no groups shown")
    # Pulseboard's own errors (the test server's) are groups too; the seeded ones:
    rows = [r for r in grid_data(dash_duo, "diag-errors-grid") if r["sources"] != "pulseboard"]
    assert [(r["title"], r["count"], r["badges"]) for r in rows] == [
        ("payment <int> declined", 5, "New"),
        ("disk <full> on /var", 1, "New"),
    ]
    assert rows[0]["hosts"] == "web-2, web-1" and rows[0]["trend"].strip()
    assert "new" in text_of(dash_duo, "#diag-errors-summary")

    # A group's detail: its title as text (log data is never HTML), counts and sample.
    dash_duo.driver.execute_script(SELECT_ROW, "diag-errors-grid", rows[1]["id"])
    until(lambda: "disk <full> on /var" in text_of(dash_duo, "#diag-errors-detail"), WAIT)
    assert dash_duo.find_element(".diag-errors-sample").text == "disk <full> on /var"
    dash_duo.wait_for_element("#diag-errors-detail .js-plotly-plot", timeout=WAIT)

    # The CSV download holds what the grid shows.
    href = dash_duo.find_element("#diag-errors-download-csv").get_attribute("href")
    cookies = {c["name"]: c["value"] for c in dash_duo.driver.get_cookies()}
    csv = requests.get(href, cookies=cookies, timeout=10)
    assert csv.status_code == 200
    assert len(csv.text.splitlines()) == 1 + len(grid_data(dash_duo, "diag-errors-grid"))

    dash_duo.driver.execute_script(SELECT_ROW, "diag-errors-grid", busiest)
    # Its sample is the latest message.
    until(lambda: text_of(dash_duo, ".diag-errors-sample") == "payment 1 declined", WAIT)
    link = dash_duo.find_element("#diag-errors-open-logs")
    assert busiest in link.get_attribute("href")
    dash_duo.driver.execute_script("arguments[0].click();", link)  # below the fold on a phone

    dash_duo.wait_for_element("#logs-grid", timeout=WAIT)
    query = dash_duo.find_element("#logs-query")
    assert query.get_attribute("value") == f"fingerprint:{busiest}"
    until(lambda: len(messages(dash_duo)) == 5, WAIT, msg="not the group's 5 records")
    assert sorted(messages(dash_duo)) == [f"payment {n} declined" for n in range(1, 6)]

    # The Timeline's links open the section at one group.
    disk = fingerprint("critical", "db", "disk <full> on /var").fingerprint
    dash_duo.driver.get(f"{dash_duo.server.url}{PAGE}&fingerprint={disk}")
    until(lambda: "disk <full> on /var" in text_of(dash_duo, "#diag-errors-detail"), WAIT)

    assert console_messages(dash_duo) == []
    assert dash_duo.get_logs() == []
