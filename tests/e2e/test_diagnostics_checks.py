"""The Checks section of the Diagnostics page in Chromium: an admin adds a check (a bad URL
is named under its field), the leader runs it against a server the test stops, its history
is charted, and it is deleted after a confirmation; the page fits a phone's width."""

from __future__ import annotations

import json

import dash
import pytest
from dash.testing.composite import DashComposite
from dash.testing.wait import until

from tests.check_servers import WebServer
from tests.e2e.browser import console_messages, record_console, text_of
from tests.e2e.test_settings import GRID_ROWS

pytestmark = pytest.mark.browser

PAGE = "/diagnostics?tab=checks"
GRID = "#diag-checks-grid"
TRACE_POINTS = """
const gd = document.querySelector('#diag-checks-chart .js-plotly-plot');
return gd && gd.data ? gd.data.map(function (t) { return (t.x || []).length; }) : null;
"""
PAGE_FITS = "return document.documentElement.scrollWidth <= window.innerWidth + 1;"
BY_ID = "return document.getElementById(arguments[0]);"
"""Pattern-matching ids hold quotes, which selenium's id lookup cannot pass on."""


def _id(kind: str, field: str) -> str:
    """The DOM id Dash gives a pattern-matching component."""
    return json.dumps({"field": field, "type": kind}, separators=(",", ":"))


def field(dash_duo: DashComposite, name: str):
    """The editor's control of body field ``name``."""
    return dash_duo.driver.execute_script(BY_ID, _id("diag-checks-field", name))


def shown(element) -> bool:
    """Whether ``element`` is in the page and visible."""
    return element is not None and element.is_displayed()


def field_error(dash_duo: DashComposite, name: str) -> str:
    """The error text under the editor's field ``name``."""
    element = dash_duo.driver.execute_script(BY_ID, _id("diag-checks-error", name))
    return element.text if element is not None else ""


def type_into(dash_duo: DashComposite, name: str, text: str) -> None:
    box = field(dash_duo, name)
    box.clear()
    box.send_keys(text)


def rows(dash_duo: DashComposite) -> list[dict]:
    """The checks grid's rows as shown."""
    return dash_duo.driver.execute_script(GRID_ROWS, GRID)


def status_of(dash_duo: DashComposite, name: str) -> str | None:
    return next((r.get("status") for r in rows(dash_duo) if r.get("name") == name), None)


def login(dash_duo: DashComposite, name: str, password: str) -> None:
    """Log in through the real form, then open the Checks tab."""
    dash_duo.driver.get(dash_duo.server.url + "/login")
    dash_duo.wait_for_element("#login-name").send_keys(name)
    dash_duo.find_element("#login-password").send_keys(password)
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_element("#nav-logout", timeout=10)
    dash_duo.driver.get(dash_duo.server.url + PAGE)
    dash_duo.wait_for_element("#diag-checks-health-database", timeout=10)


@pytest.fixture
def web():
    server = WebServer().start()
    yield server
    server.stop()


def test_an_admin_adds_watches_charts_and_deletes_a_check(
    dash_duo: DashComposite, make_app, web
) -> None:
    app: dash.Dash = make_app(start_scheduler=True, collect_interval=1)
    rt = app.server.extensions["pulseboard"]
    dash_duo.start_server(app, navigate=False)
    record_console(dash_duo)
    login(dash_duo, "admin", rt.settings.admin_password)
    database = dash_duo.find_element("#diag-checks-health-database")
    assert database.get_attribute("data-status") == "ok"

    dash_duo.find_element("#diag-checks-add").click()
    until(lambda: shown(field(dash_duo, "name")), 5, msg="the editor did not open")
    type_into(dash_duo, "name", "web")
    type_into(dash_duo, "url", "ftp://127.0.0.1/")
    type_into(dash_duo, "interval", "5")
    type_into(dash_duo, "timeout", "1")
    dash_duo.find_element("#diag-checks-save").click()
    until(lambda: "http" in field_error(dash_duo, "url"), 5, msg="no error under url")
    type_into(dash_duo, "url", web.url)
    dash_duo.find_element("#diag-checks-save").click()
    until(lambda: "Saved check web" in text_of(dash_duo, "#diag-checks-feedback"), 5)

    until(lambda: status_of(dash_duo, "web") == "up", 20, msg="the check never came up")
    (row,) = rows(dash_duo)
    assert (row["kind"], row["target"], row["detail"]) == ("http", web.url, "HTTP 200")
    web.stop()
    until(lambda: status_of(dash_duo, "web") == "down", 20, msg="the check never went down")
    assert rows(dash_duo)[0]["detail"] == "connection refused"

    dash_duo.find_element(f"{GRID} .ag-center-cols-container .ag-row").click()
    until(lambda: text_of(dash_duo, "#diag-checks-chart-title") == "web: duration and success", 10)
    # The scheduler stored the probes: both series have points.
    until(lambda: (dash_duo.driver.execute_script(TRACE_POINTS) or [0])[0] > 0, 10)
    assert len(dash_duo.driver.execute_script(TRACE_POINTS)) == 2
    csv_link = dash_duo.find_element("#diag-checks-csv").get_attribute("href")
    assert csv_link.endswith("/api/v1/admin/diagnostics/checks/export?format=csv")

    dash_duo.find_element("#diag-checks-delete").click()
    until(lambda: "Delete the check web?" in text_of(dash_duo, "#diag-checks-confirm-text"), 5)
    dash_duo.find_element("#diag-checks-confirm-yes").click()
    until(lambda: rows(dash_duo) == [], 10, msg="the deleted check is still listed")
    driver = dash_duo.driver
    driver.set_window_size(390, 844)
    until(lambda: driver.execute_script("return window.innerWidth") <= 400, 5)
    # Plotly redraws the chart at the new width a moment after the window changes.
    until(lambda: driver.execute_script(PAGE_FITS), 5, msg="the page is wider than the phone")
    assert dash_duo.get_logs() == []
    assert console_messages(dash_duo) == []
