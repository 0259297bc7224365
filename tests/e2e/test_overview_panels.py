"""The Overview's application/database/Redis panels, zoom, custom range, host selector and
auto-refresh, in Chromium against a Postgres- and Redis-backed app."""

from __future__ import annotations

import time

import pytest
from dash.testing.composite import DashComposite
from dash.testing.wait import until

from storage.metrics import Sample
from tests.conftest import truncate_tables
from tests.e2e.browser import text_of
from tests.e2e.test_overview import POINT_COUNTS, SCROLL_TO, login

pytestmark = pytest.mark.browser

LEGEND = """
const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');
return gd.data.map(function (t) { return [t.name, t.visible === true ? true : t.visible]; });
"""
X_RANGE = """
const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');
if (!gd || !gd.data || !gd.data.length) { return null; }
const xs = gd.data.flatMap(function (t) { return t.x || []; });
return xs.length ? [xs[0], xs[xs.length - 1], xs.length] : null;
"""


@pytest.fixture
def panels(dash_duo: DashComposite, make_app, pg_url, shared_redis_url) -> DashComposite:
    """An app on Postgres and Redis, collecting every second, logged in on the Overview."""
    truncate_tables(pg_url)  # other tests leave hosts of their own in the session database
    app = make_app(
        database_url=pg_url, redis_url=shared_redis_url, start_scheduler=True, collect_interval=1
    )
    rt = app.server.extensions["pulseboard"]
    dash_duo.start_server(app, navigate=False)
    until(
        lambda: rt.metrics.latest(names=["pg_commits_per_second"]),
        timeout=15,
        msg="the Postgres collector produced no rate",
    )
    login(dash_duo, app)
    dash_duo.app = app
    return dash_duo


def points(dash_duo: DashComposite, chart: str) -> int:
    counts = dash_duo.driver.execute_script(POINT_COUNTS, f"#overview-chart-{chart}")
    return sum(counts or [])


def show(dash_duo: DashComposite, chart: str) -> None:
    """Scroll one chart into view: charts are drawn while they are on screen."""
    dash_duo.driver.execute_script(SCROLL_TO, f"overview-chart-{chart}")


def test_application_database_and_redis_panels_show_live_values(panels: DashComposite):
    dash_duo = panels
    for chart in (
        "requests",
        "latency",
        "pg-connections",
        "pg-transactions",
        "pg-cache",
        "redis-memory",
        "redis-ops",
        "redis-clients",
    ):
        show(dash_duo, chart)
        until(
            lambda c=chart: points(dash_duo, c) > 0,
            timeout=40,  # series that appear after the first draw show at the next refresh
            msg=f"the {chart} chart has no points",
        )
    show(dash_duo, "redis-ops")
    before = points(dash_duo, "redis-ops")
    until(
        lambda: points(dash_duo, "redis-ops") > before,
        timeout=10,
        msg="the Redis chart did not grow live",
    )
    routes = dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#overview-routes .ag-row'))"
        ".map(function (r) { return r.innerText; });"
    )
    until(
        lambda: (
            dash_duo.driver.execute_script(
                "return document.querySelectorAll('#overview-routes .ag-row').length"
            )
            > 0
        ),
        35,
        msg="no slowest routes",
    )
    assert routes is not None
    # Everything is configured: no section asks to enable anything.
    assert dash_duo.find_elements(".overview-enable") == []

    # Limits far above use are named in the legend, not drawn over the data.
    rt = dash_duo.app.server.extensions["pulseboard"]
    show(dash_duo, "pg-connections")
    names = dash_duo.driver.execute_script(LEGEND, "#overview-chart-pg-connections")
    (max_connections,) = rt.metrics.latest(names=["pg_max_connections"])
    assert [f"max {max_connections.value:g}", "legendonly"] in names, names
    max_memory = rt.metrics.latest(names=["redis_memory_max_bytes"])[0].value
    show(dash_duo, "redis-memory")
    until(lambda: points(dash_duo, "redis-memory") > 0, 10, msg="no Redis memory chart")
    names = dash_duo.driver.execute_script(LEGEND, "#overview-chart-redis-memory")
    if max_memory == 0:
        assert ["max unlimited", "legendonly"] in names, names
    assert not any(name == "max 0 B" for name, _ in names)
    assert dash_duo.get_logs() == []


def test_zooming_a_chart_requeries_every_chart_at_that_window(panels: DashComposite):
    dash_duo = panels
    until(lambda: points(dash_duo, "cpu") >= 3, timeout=30, msg="too few CPU points")
    first, last, _ = dash_duo.driver.execute_script(X_RANGE, "#overview-chart-cpu")
    dash_duo.driver.execute_script(
        "const gd = document.querySelector('#overview-chart-cpu .js-plotly-plot');"
        "Plotly.relayout(gd, {'xaxis.range[0]': arguments[0], 'xaxis.range[1]': arguments[1]});",
        first,
        last,
    )
    until(
        lambda: " to " in text_of(dash_duo, "#overview-updated"),
        timeout=10,
        msg="the zoom did not set a window",
    )
    shown = text_of(dash_duo, "#overview-updated")
    assert first[:16] in shown.replace("T", " ")
    memory = dash_duo.driver.execute_script(X_RANGE, "#overview-chart-memory")
    assert memory is not None and memory[0] >= first[:19] and memory[1] <= last
    count = points(dash_duo, "cpu")
    time.sleep(2.5)
    assert points(dash_duo, "cpu") == count, "a zoomed window must not grow live"
    dash_duo.find_element("label[for$='overview-range_input_1h'], #overview-range label").click()
    until(
        lambda: "updated" in text_of(dash_duo, "#overview-updated"),
        timeout=10,
        msg="a preset did not clear the zoom",
    )
    assert dash_duo.get_logs() == []


def test_a_custom_range_is_validated_and_applied(panels: DashComposite):
    dash_duo = panels
    driver = dash_duo.driver
    now = time.gmtime(time.time() + 60)
    hour_ago = time.gmtime(time.time() - 3600)
    set_value = (
        "const el = document.getElementById(arguments[0]);"
        "const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype,"
        " 'value').set; setter.call(el, arguments[1]);"
        "el.dispatchEvent(new Event('input', {bubbles: true}));"
    )
    driver.execute_script(set_value, "overview-from", time.strftime("%Y-%m-%dT%H:%M", now))
    driver.execute_script(set_value, "overview-to", time.strftime("%Y-%m-%dT%H:%M", hour_ago))
    dash_duo.find_element("#overview-apply").click()
    until(
        lambda: "must be earlier" in text_of(dash_duo, "#overview-error"),
        10,
        msg="a reversed range was not refused",
    )
    driver.execute_script(set_value, "overview-from", time.strftime("%Y-%m-%dT%H:%M", hour_ago))
    driver.execute_script(set_value, "overview-to", time.strftime("%Y-%m-%dT%H:%M", now))
    dash_duo.find_element("#overview-apply").click()
    until(
        lambda: " to " in text_of(dash_duo, "#overview-updated"),
        timeout=10,
        msg="the custom range was not shown",
    )
    assert dash_duo.get_logs() == []


def test_host_selector_appears_with_a_second_host_and_filters(panels: DashComposite):
    dash_duo = panels
    rt = dash_duo.app.server.extensions["pulseboard"]
    assert not dash_duo.find_element("#overview-host-group").is_displayed()
    now = time.time()
    rt.metrics.write(
        [Sample(now - 60 + i * 5, "db-2", "system_cpu_usage_percent", 77.0) for i in range(12)]
    )
    dash_duo.driver.refresh()
    until(
        lambda: dash_duo.find_element("#overview-host-group").is_displayed(),
        30,
        msg="the host selector did not appear",
    )
    dash_duo.driver.execute_script(
        "const s = document.getElementById('overview-host'); s.value = 'db-2';"
        "s.dispatchEvent(new Event('change', {bubbles: true}));"
    )
    until(
        lambda: dash_duo.driver.execute_script(
            "const gd = document.querySelector('#overview-chart-cpu .js-plotly-plot');"
            "return gd && gd.data.length === 1 && gd.data[0].y.every(function (v) {"
            " return v === 77; });"
        ),
        10,
        msg="the CPU chart did not switch to db-2",
    )
    # Its download asks for that host too.
    until(
        lambda: (
            "host=db-2" in dash_duo.find_element("#overview-download-cpu-csv").get_attribute("href")
        ),
        10,
        msg="the download link does not follow the host",
    )
    assert dash_duo.get_logs() == []


def settled(dash_duo: DashComposite, chart: str, quiet: float = 2.0) -> int:
    """The chart's point count once it has stayed the same for ``quiet`` seconds."""
    seen = [points(dash_duo, chart)]

    def unchanged() -> bool:
        time.sleep(quiet)
        seen.append(points(dash_duo, chart))
        return seen[-1] == seen[-2]

    until(unchanged, timeout=20, msg=f"the {chart} chart kept growing")
    return seen[-1]


def test_auto_refresh_off_stops_live_growth(panels: DashComposite):
    dash_duo = panels
    until(lambda: points(dash_duo, "cpu") >= 2, timeout=15, msg="no CPU points")
    dash_duo.find_element("#overview-auto-refresh").click()
    count = settled(dash_duo, "cpu")  # an update already in flight may still land
    time.sleep(3)
    assert points(dash_duo, "cpu") == count
    dash_duo.find_element("#overview-auto-refresh").click()
    # Room for a loaded machine: the next collection, its push and the redraw.
    until(lambda: points(dash_duo, "cpu") > count, timeout=20, msg="live growth did not resume")
    assert dash_duo.get_logs() == []
