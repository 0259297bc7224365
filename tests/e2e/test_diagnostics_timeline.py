"""The Diagnostics page's Timeline in Chromium: events of the range on one axis, what
changed ranked with the changed series on selection, an event's detail on click, and an
annotation added from the page."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dash
import numpy as np
import pytest
from dash.testing.composite import DashComposite
from dash.testing.wait import until
from selenium.webdriver.common.action_chains import ActionChains

from storage.metrics import Sample
from tests.app.alert_helpers import firing, stored_rule
from tests.e2e.browser import console_messages, record_console, text_of
from tests.e2e.test_settings import click, grid_rows, type_into

pytestmark = pytest.mark.browser

# Set PULSEBOARD_SCREENSHOTS to a directory to keep a desktop and a phone screenshot.
SHOTS = os.environ.get("PULSEBOARD_SCREENSHOTS")

FIGURE = "#diag-timeline-figure"
POINTS = FIGURE + " .scatterlayer .point"


@pytest.fixture
def timeline_app(dash_duo: DashComposite, make_app) -> dash.Dash:
    """A running app with an alert, and a series that jumps, in the last quarter hour."""
    app = make_app()
    rt = app.server.extensions["pulseboard"]
    now = time.time()
    rng = np.random.default_rng(5)
    samples = []
    for i in range(450):
        t = now - 4500 + 10 * i
        jumped = t > now - 600
        locks = rng.normal(30, 3) if jumped else rng.normal(1, 0.2)
        samples.append(Sample(t, "db-1", "pg_locks_waiting", locks))
        samples.append(Sample(t, "db-1", "system_load", rng.normal(2, 0.3)))
    rt.metrics.write(samples)
    firing(rt, stored_rule(rt), "web-1", ts=now - 300)
    dash_duo.start_server(app, navigate=False)
    return app


def test_the_timeline_shows_the_range_and_takes_an_annotation(dash_duo, timeline_app):
    record_console(dash_duo)
    dash_duo.driver.get(dash_duo.server.url + "/login")
    dash_duo.wait_for_element("#login-name").send_keys("admin")
    dash_duo.find_element("#login-password").send_keys(
        timeline_app.server.extensions["pulseboard"].settings.admin_password
    )
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_element("#nav-logout", timeout=10)
    dash_duo.driver.get(dash_duo.server.url + "/diagnostics?tab=timeline")
    dash_duo.wait_for_element(FIGURE, timeout=10)
    next(e for e in dash_duo.find_elements("#diag-range label") if e.text == "15m").click()

    until(lambda: len(dash_duo.find_elements(POINTS)) >= 2, 15, msg="no events drawn")

    def top_change():
        rows = grid_rows(dash_duo, "diag-timeline-changes")
        return rows[0] if rows and rows[0]["series"] == "pg_locks_waiting" else None

    top = until(top_change, 15, msg="the series that jumped is not ranked first")
    assert top["direction"] == "up"
    assert dash_duo.find_element("#diag-range label.active").text == "15m"
    if SHOTS:
        dash_duo.driver.save_screenshot(str(Path(SHOTS) / "diagnostics-timeline.png"))
    bundle = dash_duo.find_element("#diag-timeline-bundle").get_attribute("href")
    assert "/api/v1/admin/diagnostics/bundle?from=" in bundle

    click(dash_duo, "#diag-timeline-changes .ag-center-cols-container [col-id=series]")
    dash_duo.wait_for_element("#diag-timeline-changes .ag-row-selected", timeout=5)
    until(
        lambda: "pg_locks_waiting on db-1" in text_of(dash_duo, "#diag-timeline-series"),
        10,
        msg="the selected series is not drawn",
    )

    point = dash_duo.find_elements(POINTS)[0]
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", point
    )
    # Plotly takes clicks on its drag layer over the point, and finds the point itself.
    ActionChains(dash_duo.driver).move_to_element(point).click().perform()
    until(
        lambda: any(
            title in text_of(dash_duo, "#diag-timeline-detail")
            for title in ("Disk almost full", "pg_locks_waiting")
        ),
        10,
        msg="the clicked event's detail is not shown",
    )

    type_into(dash_duo, "#diag-timeline-title", "deploy 3.1")
    type_into(dash_duo, "#diag-timeline-tags", "deploy, api")
    click(dash_duo, "#diag-timeline-add")
    until(
        lambda: "Annotation added." in text_of(dash_duo, "#diag-timeline-feedback"),
        10,
        msg="no confirmation",
    )
    rt = timeline_app.server.extensions["pulseboard"]
    assert rt.accounts.list_audit(action="annotation.create")[0].details["tags"] == [
        "deploy",
        "api",
    ]
    driver = dash_duo.driver
    driver.set_window_size(390, 844)
    until(lambda: driver.execute_script("return window.innerWidth") <= 400, 5)
    width = driver.execute_script("return window.innerWidth")

    def page_width() -> int:
        return driver.execute_script("return document.documentElement.scrollWidth")

    until(lambda: page_width() <= width + 1, 5, msg=f"page wider than its {width}px window")
    if SHOTS:
        dash_duo.driver.save_screenshot(str(Path(SHOTS) / "diagnostics-timeline-phone.png"))
    assert console_messages(dash_duo) == []
    assert dash_duo.get_logs() == []
