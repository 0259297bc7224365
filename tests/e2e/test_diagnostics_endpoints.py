"""The Diagnostics page's Endpoints tab: routes with percentiles from stored buckets, a
picked route's heatmap and throughput, slowest requests linking to their log lines."""

from __future__ import annotations

import time

import pytest
from dash.testing.composite import DashComposite
from dash.testing.wait import until

from storage.diagnostics.endpoints import EndpointCounts, EndpointStore, SlowRequest
from storage.models import BUCKET_COLUMNS
from tests.app.auth_helpers import runtime_of
from tests.e2e.browser import console_messages, record_console, text_of

pytestmark = pytest.mark.browser

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def seed(app) -> None:
    """Ten minutes of intervals for two routes, and one slow request."""
    store = EndpointStore(runtime_of(app).engine)
    now = time.time()
    for minute in range(10):
        checkout = [0] * len(BUCKET_COLUMNS)
        checkout[3], checkout[14] = 40, 2 + minute % 3  # <= 10 ms, and up to 1 s
        health = [0] * len(BUCKET_COLUMNS)
        health[0] = 5
        store.write(
            "web-1",
            now - 600 + minute * 60,
            [
                EndpointCounts("/api/checkout", "POST", sum(checkout), 0, 1, 2.5, tuple(checkout)),
                EndpointCounts("/healthz", "GET", 5, 0, 0, 0.004, tuple(health)),
            ],
        )
    store.write(
        "web-1",
        now - 120,
        [],
        [SlowRequest(now - 120, "/api/checkout", "POST", "/api/checkout", 200, 1.8, TRACE_ID)],
    )


def test_routes_heatmap_and_slowest_requests(dash_duo: DashComposite, make_app) -> None:
    app = make_app()
    seed(app)
    record_console(dash_duo)
    dash_duo.start_server(app, navigate=False)
    # Logging in through the real form, straight onto the tab.
    dash_duo.driver.get(dash_duo.server.url + "/login?next=/diagnostics?tab%3Dendpoints")
    dash_duo.wait_for_element("#login-name").send_keys("admin")
    dash_duo.find_element("#login-password").send_keys(runtime_of(app).settings.admin_password)
    dash_duo.find_element("#login-submit").click()

    dash_duo.wait_for_contains_text("#diag-endpoints-grid", "/api/checkout", timeout=10)
    route_cell = '#diag-endpoints-grid .ag-row[row-id="POST /api/checkout"] [col-id="count"]'
    dash_duo.wait_for_element(route_cell, timeout=10)
    counts = [
        text_of(dash_duo, f'#diag-endpoints-grid .ag-row[row-id="{rid}"] [col-id="count"]')
        for rid in ("POST /api/checkout", "GET /healthz")
    ]
    assert counts == [str(10 * 40 + sum(2 + m % 3 for m in range(10))), "50"]
    p50 = text_of(
        dash_duo, '#diag-endpoints-grid .ag-row[row-id="POST /api/checkout"] [col-id="p50"]'
    )
    assert p50.endswith(" ms") and 5.0 <= float(p50.split()[0]) <= 10.0
    # Before a route is picked, the slowest requests of every route are listed.
    dash_duo.wait_for_contains_text("#diag-endpoints-slow-grid", TRACE_ID, timeout=10)
    assert not dash_duo.find_element("#diag-endpoints-detail").is_displayed()

    dash_duo.find_element(route_cell).click()
    dash_duo.wait_for_contains_text("#diag-endpoints-title", "POST /api/checkout", timeout=10)
    until(lambda: dash_duo.find_element("#diag-endpoints-detail").is_displayed(), timeout=10)
    dash_duo.wait_for_element("#diag-endpoints-heatmap .hm", timeout=10)
    assert "Slowest requests of POST /api/checkout" in text_of(
        dash_duo, "#diag-endpoints-slow-title"
    )
    link = dash_duo.wait_for_element("#diag-endpoints-slow-grid [col-id='logs'] a", timeout=10)
    # The request's log lines, around when it ran.
    assert f"/logs?q=attrs.trace_id%3A{TRACE_ID}&from=" in link.get_attribute("href")
    downloads = dash_duo.find_elements("#diag-endpoints-section a.dropdown-item")
    hrefs = [a.get_attribute("href") for a in downloads]
    assert len(hrefs) == 4 and all("/diagnostics/endpoints/export?" in h for h in hrefs)
    assert any("table=slow" in h and "route=%2Fapi%2Fcheckout" in h for h in hrefs)

    dash_duo.driver.set_window_size(390, 844)
    until(
        lambda: dash_duo.driver.execute_script(
            "return document.getElementById('diag-endpoints-section').scrollWidth"
            " <= document.documentElement.clientWidth"
        ),
        timeout=5,
        msg="the section is wider than a phone's screen",
    )
    assert console_messages(dash_duo) == []
    assert dash_duo.get_logs() == []
