"""The Diagnostics page's Activity and Indexes tabs in Chromium: a real lock's blocking tree,
an admin's confirmed cancel, and the index hints of a watched database."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from dash.testing.composite import DashComposite
from dash.testing.wait import until
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    StaleElementReferenceException,
)

from tests.app.auth_helpers import runtime_of
from tests.pg_locks import fresh_database, libpq, lock_scene
from tests.services import pg_admin_url

pytestmark = pytest.mark.browser

# Set PULSEBOARD_SCREENSHOTS to a directory to keep screenshots of both tabs.
SHOTS = os.environ.get("PULSEBOARD_SCREENSHOTS")

NODE = "#diag-activity-tree [data-pid='{pid}'][data-depth='{depth}']"
SELECT_ROW = """
try {
  const node = dash_ag_grid.getApi('diag-activity-grid').getRowNode(arguments[0]);
  if (node) { node.setSelected(true); }
  return !!node;
} catch (e) {
  return false;  // the grid is not drawn yet
}
"""


@pytest.fixture
def watched() -> Iterator[str]:
    """A watched database with a duplicate index."""
    with fresh_database(pg_admin_url()) as url:
        with psycopg.connect(libpq(url), autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE orders (id serial PRIMARY KEY, customer int, placed date);"
                "CREATE INDEX orders_customer ON orders (customer);"
                "CREATE INDEX orders_customer_placed ON orders (customer, placed);"
            )
        yield url


def click(dash_duo: DashComposite, selector: str) -> None:
    """Scroll the element to the middle of the window and click it, once the refresh's
    loading overlay lets the click through."""

    def clicked() -> bool:
        element = dash_duo.find_element(selector)
        dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        try:
            element.click()
        except (ElementClickInterceptedException, StaleElementReferenceException):
            return False
        return True

    until(clicked, 10, msg=f"{selector} could not be clicked")


def login(dash_duo: DashComposite, app, tab: str) -> None:
    """Log in as ``admin`` through the real form, then open a tab of Diagnostics."""
    dash_duo.driver.get(dash_duo.server.url + "/login")
    dash_duo.wait_for_element("#login-name").send_keys("admin")
    dash_duo.find_element("#login-password").send_keys(runtime_of(app).settings.admin_password)
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_element("#nav-logout", timeout=10)
    dash_duo.driver.get(f"{dash_duo.server.url}/diagnostics?tab={tab}")


def test_the_tree_shows_the_lock_and_an_admin_cancels_a_waiter_then_reads_index_hints(
    watched, dash_duo: DashComposite, make_app
):
    app = make_app(monitor_postgres=(watched,))
    dash_duo.start_server(app, navigate=False)
    with lock_scene(watched) as scene:
        first, second = scene.waiters
        login(dash_duo, app, "activity")
        root = dash_duo.wait_for_element(NODE.format(pid=scene.holder_pid, depth=0), timeout=15)
        assert "root blocker" in root.text and "LOCK TABLE pb_locked" in root.text
        for waiter in scene.waiters:
            node = dash_duo.wait_for_element(NODE.format(pid=waiter.pid, depth=1), timeout=10)
            assert waiter.query in node.text

        until(lambda: dash_duo.driver.execute_script(SELECT_ROW, str(first.pid)), 10)
        dash_duo.wait_for_element("#diag-activity-grid .ag-row-selected", timeout=5)
        click(dash_duo, "#diag-activity-cancel")
        dash_duo.wait_for_contains_text("#diag-activity-confirm-body", f"pid {first.pid}", 5)
        assert first.query in dash_duo.find_element("#diag-activity-confirm-body").text
        click(dash_duo, "#diag-activity-confirm-ok")
        until(lambda: first.done.is_set(), 10, msg="the waiter's query was not canceled")
        assert isinstance(first.error, psycopg.errors.QueryCanceled)
        dash_duo.wait_for_contains_text(
            "#diag-activity-feedback", f"Cancel sent to pid {first.pid}", timeout=10
        )
        assert not second.done.is_set()
        if SHOTS:
            dash_duo.driver.save_screenshot(f"{SHOTS}/diagnostics-activity.png")

    dash_duo.driver.get(f"{dash_duo.server.url}/diagnostics?tab=indexes")
    card = dash_duo.wait_for_element("#diag-indexes-duplicate", timeout=15)
    until(lambda: "orders_customer_placed" in card.text, 10, msg="no duplicate index shown")
    assert "1 found" in card.text
    links = [a.get_attribute("href") for a in card.find_elements("css selector", "a[download]")]
    assert any("kind=duplicate" in href and "format=csv" in href for href in links)
    if SHOTS:
        dash_duo.driver.save_screenshot(f"{SHOTS}/diagnostics-indexes.png")
    dash_duo.driver.set_window_size(390, 844)
    assert dash_duo.find_element("#diag-indexes-unused").is_displayed()
    if SHOTS:
        dash_duo.driver.save_screenshot(f"{SHOTS}/diagnostics-indexes-phone.png")
    assert dash_duo.get_logs() == []
