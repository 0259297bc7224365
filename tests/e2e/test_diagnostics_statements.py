"""The Diagnostics page's Statements section in Chromium: the ranking, a statement's
history and EXPLAIN, at desktop and phone width."""

from __future__ import annotations

import time

import psycopg
import pytest
from dash.testing.composite import DashComposite
from dash.testing.wait import until
from selenium.webdriver.common.keys import Keys

from collectors.pg_connection import libpq_url
from collectors.pg_statements import StatementCollector
from storage.diagnostics.statements import StatementStore
from tests.e2e.browser import console_messages, record_console, text_of
from tests.e2e.test_settings import click, click_row, grid_rows

pytestmark = pytest.mark.browser

GRID = "diag-statements-grid"
WIDER_THAN_SCREEN = """
return Array.from(document.querySelectorAll('#diag-statements-section *'))
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.ag-root'))
  .map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 5);
"""


def open_statements(dash_duo: DashComposite, app) -> None:
    """Log in as admin and open the Statements tab."""
    record_console(dash_duo)
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.get(dash_duo.server.url + "/login")
    dash_duo.wait_for_element("#login-name").send_keys("admin")
    dash_duo.find_element("#login-password").send_keys(
        app.server.extensions["pulseboard"].settings.admin_password
    )
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_element("#nav-logout", timeout=10)
    dash_duo.driver.get(dash_duo.server.url + "/diagnostics?tab=statements")
    dash_duo.wait_for_element("#diag-statements-section", timeout=10)


def test_the_slow_statement_tops_the_grid_shows_its_history_and_explains(
    dash_duo: DashComposite, make_app, statements_pg_url
):
    app = make_app(monitor_postgres=(statements_pg_url,))
    collector = StatementCollector(
        [statements_pg_url], StatementStore(app.server.extensions["pulseboard"].engine)
    )
    now = time.time()
    collector.collect(now - 120)
    with psycopg.connect(libpq_url(statements_pg_url), autocommit=True) as conn:
        for statement in ["SELECT 1"] * 10 + ["SELECT pg_sleep(0.2)"]:
            conn.execute(statement)
    collector.collect(now - 60)
    collector.close()

    open_statements(dash_duo, app)
    until(lambda: grid_rows(dash_duo, GRID), 10, msg="the ranking stays empty")
    assert grid_rows(dash_duo, GRID)[0]["query"] == "SELECT pg_sleep($1)"
    assert "/diagnostics/statements/export" in dash_duo.find_element(
        "#diag-statements-download-csv"
    ).get_attribute("href")

    click_row(dash_duo, GRID, "query", "SELECT pg_sleep($1)")
    dash_duo.wait_for_element("#diag-statements-chart .main-svg", timeout=10)
    until(
        lambda: (
            dash_duo.find_element("#diag-statements-query").get_attribute("value")
            == "SELECT pg_sleep($1)"
        ),
        10,
        msg="the EXPLAIN box is not filled with the statement",
    )
    assert dash_duo.find_element("#diag-statements-analyze").is_displayed()

    click(dash_duo, "#diag-statements-explain")
    until(lambda: "paste it with values" in text_of(dash_duo, "#diag-statements-plan-error"), 10)
    box = dash_duo.find_element("#diag-statements-query")
    box.send_keys(Keys.CONTROL, "a")  # clear() would not tell React the value changed
    box.send_keys(Keys.DELETE, "SELECT pg_sleep(0.01)")
    click(dash_duo, "#diag-statements-explain")
    until(lambda: "paste" not in text_of(dash_duo, "#diag-statements-plan-error"), 10, msg="stale")
    until(lambda: "Result" in text_of(dash_duo, "#diag-statements-plan"), 10, msg="no plan")

    dash_duo.driver.set_window_size(390, 844)
    # The chart redraws for the new width a moment after the window's resize event.
    until(lambda: dash_duo.driver.execute_script(WIDER_THAN_SCREEN) == [], 5, msg="too wide")
    assert console_messages(dash_duo) == []
    assert dash_duo.get_logs() == []
