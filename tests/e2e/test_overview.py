"""The Overview page in Chromium: login, health cards, live charts, range, theme, phone width."""

from __future__ import annotations

import os
import re
import time
from calendar import timegm
from pathlib import Path
from urllib.parse import urlsplit

import dash
import pytest
from dash.testing.composite import DashComposite
from dash.testing.wait import until

from app.runtime import Runtime
from app.services.timerange import RANGES
from storage.metrics import ROLLUP_STEP

pytestmark = pytest.mark.browser

CARD_KEYS = ("database", "redis", "scheduler", "cpu", "memory", "disk", "uptime")
CHARTS = ("cpu", "memory", "disk", "network")
PERCENT = re.compile(r"^(\d{1,3}\.\d)%$")
# Set PULSEBOARD_SCREENSHOTS to a directory to keep a desktop and a phone screenshot.
SHOTS = os.environ.get("PULSEBOARD_SCREENSHOTS")

POINT_COUNTS = """
const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');
if (!gd || !gd.data) { return null; }
return gd.data.map(function (t) { return (t.x || []).length; });
"""
FIRST_X = """
const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');
return gd && gd.data && gd.data.length && gd.data[0].x.length ? gd.data[0].x[0] : null;
"""
LEGEND_OVERLAPS = """
const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');
const legend = gd && gd.querySelector('.legend');
if (!legend) { return []; }
const l = legend.getBoundingClientRect();
const hits = [];
gd.querySelectorAll('.xtick text').forEach(function (t) {
  const r = t.getBoundingClientRect();
  if (r.left < l.right && l.left < r.right && r.top < l.bottom && l.top < r.bottom) {
    hits.push(t.textContent);
  }
});
return hits;
"""
FONT_COLOUR = """
const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');
return gd && gd._fullLayout ? gd._fullLayout.font.color : null;
"""


def _runtime(app: dash.Dash) -> Runtime:
    return app.server.extensions["pulseboard"]


def _has_cpu_sample(app: dash.Dash) -> bool:
    rt = _runtime(app)
    return bool(rt.metrics.latest(names=["system_cpu_usage_percent"], host=rt.settings.hostname))


def login(dash_duo: DashComposite, app: dash.Dash) -> None:
    """Log in as ``admin`` through the real form and wait for the Overview's cards."""
    dash_duo.driver.get(dash_duo.server.url + "/login")
    dash_duo.wait_for_element("#login-name").send_keys("admin")
    dash_duo.find_element("#login-password").send_keys(_runtime(app).settings.admin_password)
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_element("#overview-card-uptime", timeout=10)


@pytest.fixture
def overview(dash_duo: DashComposite, make_app) -> DashComposite:
    """A running app whose scheduler has collected, and a browser logged in on the Overview."""
    app = make_app(start_scheduler=True, collect_interval=1)
    dash_duo.start_server(app, navigate=False)
    # CPU percent is a rate: it exists from the second collection on.
    until(lambda: _has_cpu_sample(app), timeout=10, msg="the scheduler collected no CPU sample")
    login(dash_duo, app)
    return dash_duo


def card(dash_duo: DashComposite, key: str) -> tuple[str, str]:
    """The value text and ``data-status`` of one health card."""
    wrapper = dash_duo.find_element(f"#overview-card-{key}")
    value = dash_duo.find_element(f"#overview-card-{key}-value").text
    return value, wrapper.get_attribute("data-status")


def point_counts(dash_duo: DashComposite, chart: str) -> list[int] | None:
    """Points per trace of one chart as Plotly holds them in the page."""
    return dash_duo.driver.execute_script(POINT_COUNTS, f"#overview-chart-{chart}")


def meminfo_used_percent() -> float:
    """Share of memory not available, from /proc/meminfo."""
    fields = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return 100.0 * (fields["MemTotal"] - fields["MemAvailable"]) / fields["MemTotal"]


def root_used_percent() -> float:
    """Used share of the root filesystem as ``df`` computes it."""
    st = os.statvfs("/")
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    return 100.0 * used / (used + st.f_bavail * st.f_frsize)


def epoch(label: str) -> int:
    """A chart x label (UTC ``YYYY-MM-DD HH:MM:SS``) as epoch seconds."""
    return timegm(time.strptime(label[:19], "%Y-%m-%d %H:%M:%S"))


def test_anonymous_visit_lands_on_login(dash_duo: DashComposite, make_app) -> None:
    app = make_app()
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.get(dash_duo.server.url + "/")
    dash_duo.wait_for_element("#login-submit")
    assert urlsplit(dash_duo.driver.current_url).path == "/login"
    assert dash_duo.driver.find_elements("css selector", "#overview-cards") == []
    assert dash_duo.get_logs() == []


def test_cards_show_real_values(overview: DashComposite) -> None:
    dash_duo = overview
    for key in CARD_KEYS:
        dash_duo.wait_for_element(f"#overview-card-{key}-value")

    assert card(dash_duo, "database") == ("OK", "ok")
    assert card(dash_duo, "redis") == ("OK", "ok")  # not configured: the in-process bus
    assert card(dash_duo, "scheduler") == ("OK", "ok")

    levels = {"cpu": (80.0, 95.0), "memory": (85.0, 95.0), "disk": (90.0, 98.0)}
    values = {}
    for key, (degraded, down) in levels.items():
        text, status = card(dash_duo, key)
        match = PERCENT.match(text)
        assert match, f"{key} card shows {text!r}"
        values[key] = float(match.group(1))
        assert 0.0 <= values[key] <= 100.0
        expected = "down" if values[key] >= down else "ok" if values[key] < degraded else "degraded"
        assert status == expected, f"{key} at {text} is {status}"
    assert abs(values["memory"] - meminfo_used_percent()) < 5.0
    assert abs(values["disk"] - root_used_percent()) < 1.0

    uptime, status = card(dash_duo, "uptime")
    assert re.match(r"^(\d+d \d+h|\d+h \d+m|\d+m)$", uptime), uptime
    assert status == "ok"
    assert dash_duo.get_logs() == []


def test_charts_have_points_and_grow_live(overview: DashComposite) -> None:
    dash_duo = overview
    dash_duo.wait_for_text_to_equal("#overview-live-status", "live", timeout=10)
    for chart in CHARTS:
        until(
            lambda chart=chart: (point_counts(dash_duo, chart) or [0])[0] > 0,
            timeout=10,
            msg=f"the {chart} chart has no points",
        )
    updated = dash_duo.find_element("#overview-updated").text
    before = {chart: sum(point_counts(dash_duo, chart)) for chart in CHARTS}
    time.sleep(4)  # about four collections, far from the 30 s refresh
    after = {chart: sum(point_counts(dash_duo, chart)) for chart in CHARTS}
    for chart in CHARTS:
        assert after[chart] >= before[chart] + 2, f"{chart}: {before[chart]} -> {after[chart]}"
    # The growth came from the WebSocket, not from a server-side redraw.
    assert dash_duo.find_element("#overview-updated").text == updated
    assert dash_duo.find_element("#overview-live-status").text == "live"
    assert dash_duo.get_logs() == []


def test_range_switch_requeries(overview: DashComposite) -> None:
    dash_duo = overview
    labels = [el.text for el in dash_duo.find_elements("#overview-range label")]
    assert labels == list(RANGES)
    active = dash_duo.find_elements("#overview-range label.active")
    assert [el.text for el in active] == ["1h"]
    until(lambda: point_counts(dash_duo, "cpu"), timeout=10, msg="no CPU chart")
    time.sleep(1.1)  # so the "updated" time of the re-query differs
    updated = dash_duo.find_element("#overview-updated").text
    first_1h = dash_duo.driver.execute_script(FIRST_X, "#overview-chart-cpu")

    dash_duo.find_element("label[for='_dbcprivate_radioitems_overview-range_input_7d']").click()
    dash_duo.wait_for_contains_class(
        "label[for='_dbcprivate_radioitems_overview-range_input_7d']", "active"
    )
    until(
        lambda: dash_duo.find_element("#overview-updated").text != updated,
        timeout=10,
        msg="choosing 7d did not redraw the page",
    )
    assert [el.text for el in dash_duo.find_elements("#overview-range label.active")] == ["7d"]
    first_7d = dash_duo.driver.execute_script(FIRST_X, "#overview-chart-cpu")
    assert first_7d is not None, "the 7d chart has no points"
    # Week-long ranges are bucketed on whole rollup steps; the hour is not.
    assert epoch(first_7d) % ROLLUP_STEP == 0, first_7d
    assert first_7d != first_1h
    for chart in CHARTS:
        assert (point_counts(dash_duo, chart) or [0])[0] > 0, f"7d {chart} chart is empty"
    assert dash_duo.get_logs() == []


def test_dark_theme_persists_after_reload(overview: DashComposite) -> None:
    dash_duo = overview
    html = dash_duo.find_element("html")
    assert html.get_attribute("data-bs-theme") in (None, "light")
    until(lambda: dash_duo.driver.execute_script(FONT_COLOUR, "#overview-chart-cpu"), 10)
    light_font = dash_duo.driver.execute_script(FONT_COLOUR, "#overview-chart-cpu")

    dash_duo.find_element("#theme-switch").click()
    until(lambda: html.get_attribute("data-bs-theme") == "dark", 5, msg="theme did not switch")
    until(
        lambda: dash_duo.driver.execute_script(FONT_COLOUR, "#overview-chart-cpu") != light_font,
        10,
        msg="charts did not follow the dark theme",
    )
    dark_font = dash_duo.driver.execute_script(FONT_COLOUR, "#overview-chart-cpu")

    dash_duo.driver.refresh()
    dash_duo.wait_for_element("#overview-card-uptime", timeout=10)
    until(
        lambda: dash_duo.find_element("html").get_attribute("data-bs-theme") == "dark",
        5,
        msg="dark theme lost on reload",
    )
    assert dash_duo.find_element("#theme-switch").is_selected()
    until(
        lambda: dash_duo.driver.execute_script(FONT_COLOUR, "#overview-chart-cpu") == dark_font,
        10,
        msg="charts are not dark after reload",
    )
    assert dash_duo.get_logs() == []


def test_phone_width_stacks_cards_without_overflow(overview: DashComposite) -> None:
    dash_duo = overview
    driver = dash_duo.driver
    until(lambda: point_counts(dash_duo, "cpu"), timeout=10, msg="no CPU chart")
    if SHOTS:
        driver.save_screenshot(str(Path(SHOTS) / "overview-desktop.png"))

    driver.set_window_size(390, 844)
    until(lambda: driver.execute_script("return window.innerWidth") <= 400, 5)
    time.sleep(0.5)  # let Plotly's responsive resize run
    width = driver.execute_script("return window.innerWidth")
    scroll = driver.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= width + 1, f"page is {scroll}px wide in a {width}px window"

    rects = [
        driver.execute_script(
            "const r = document.getElementById(arguments[0]).getBoundingClientRect();"
            "return [r.left, r.top, r.right];",
            f"overview-card-{key}",
        )
        for key in CARD_KEYS
    ]
    rows: dict[int, list[list[float]]] = {}
    for rect in rects:
        rows.setdefault(round(rect[1]), []).append(rect)
    assert [len(row) for row in rows.values()] == [2, 2, 2, 1], rects
    for left, _top, right in rects:
        assert left >= 0 and right <= width + 1
        assert right - left < width / 2, "a card is wider than half the phone screen"
    for chart in CHARTS:
        box = driver.execute_script(
            "const r = document.getElementById(arguments[0]).getBoundingClientRect();"
            "return [r.left, r.right];",
            f"overview-chart-{chart}",
        )
        assert box[0] >= 0 and box[1] <= width + 1, f"{chart} chart overflows: {box}"
        overlaps = driver.execute_script(LEGEND_OVERLAPS, f"#overview-chart-{chart}")
        assert overlaps == [], f"{chart} legend covers the x labels {overlaps}"
    if SHOTS:
        driver.save_screenshot(str(Path(SHOTS) / "overview-phone.png"))

    # The page links hide behind the menu button at this width; the button opens them.
    settings_link = dash_duo.find_element("#nav-collapse a[href='/settings']")
    assert not settings_link.is_displayed()
    dash_duo.find_element("#nav-toggler").click()
    until(settings_link.is_displayed, timeout=5, msg="the menu button did not open the menu")
    assert dash_duo.get_logs() == []
