"""The Overview page in Chromium: login, health cards, live charts, range, theme, phone width."""

from __future__ import annotations

import os
import re
import time
from calendar import timegm
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dash
import pytest
from dash.testing.composite import DashComposite
from dash.testing.wait import until

from app.components.charts import time_series_figure
from app.runtime import Runtime
from app.services import overview as view
from app.services.timerange import RANGES
from storage.metrics import ROLLUP_STEP
from tests.e2e.browser import text_of

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
NULL_YS = """
const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');
return gd && gd.data ? gd.data.map(function (t) { return t.y.filter(function (v) {
  return v === null; }).length; }) : null;
"""
X_RANGE = """
const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');
return gd && gd._fullLayout ? gd._fullLayout.xaxis.range : null;
"""
TITLE_UNDER_MODEBAR = """
const card = document.getElementById(arguments[0]).closest('.card');
const bar = card.querySelector('.modebar');
const title = card.querySelector('.overview-chart-title, .gtitle');
if (!bar || !title) { return null; }
const b = bar.getBoundingClientRect(), t = title.getBoundingClientRect();
return b.left < t.right && t.left < b.right && b.top < t.bottom && t.top < b.bottom;
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
    dash_duo.app = app
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


def time_axis(dash_duo: DashComposite, chart: str) -> list[str] | None:
    """The x-axis range of a chart once it is drawn with our figure's time axis."""
    shown = dash_duo.driver.execute_script(X_RANGE, f"#overview-chart-{chart}")
    return shown if shown and isinstance(shown[0], str) else None


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
    # Not configured (the in-process bus): neutral, not a green OK.
    assert card(dash_duo, "redis") == ("OFF", "off")
    colour = dash_duo.driver.execute_script(
        "return getComputedStyle(document.getElementById('overview-card-redis-value')).color;"
    )
    ok_colour = dash_duo.driver.execute_script(
        "return getComputedStyle(document.getElementById('overview-card-database-value')).color;"
    )
    assert colour != ok_colour
    assert card(dash_duo, "scheduler") == ("OK", "ok")

    values = {}
    for key in ("cpu", "memory", "disk"):
        text, status = card(dash_duo, key)
        match = PERCENT.match(text)
        assert match, f"{key} card shows {text!r}"
        values[key] = float(match.group(1))
        assert 0.0 <= values[key] <= 100.0
        # The colour is the default alert rule's state: on this fresh database none has
        # held past its pending period yet, whatever the value (tests/app cover firing).
        assert status == "ok", f"{key} at {text} is {status}"
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
        # Collections a second apart are one line: live points never break it.
        nulls = dash_duo.driver.execute_script(NULL_YS, f"#overview-chart-{chart}")
        assert not any(nulls), f"{chart} line broken live: {nulls}"
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
    for key in ("cpu", "memory", "network", "latency", "errors", "db-pool"):
        covered = driver.execute_script(TITLE_UNDER_MODEBAR, f"overview-chart-{key}")
        assert covered is False, f"the {key} chart's tool bar covers its title ({covered})"
    if SHOTS:
        driver.save_screenshot(str(Path(SHOTS) / "overview-phone.png"))

    # The page links hide behind the menu button at this width; the button opens them.
    settings_link = dash_duo.find_element("#nav-collapse a[href='/settings']")
    assert not settings_link.is_displayed()
    dash_duo.find_element("#nav-toggler").click()
    until(settings_link.is_displayed, timeout=5, msg="the menu button did not open the menu")
    assert dash_duo.get_logs() == []


def is_shown(dash_duo: DashComposite, chart: str) -> bool:
    """Whether the card of one Overview chart is displayed."""
    return dash_duo.find_element(f"#overview-chart-{chart}").is_displayed()


def test_panels_that_cannot_get_data_are_hidden_with_how_to_enable_them(
    overview: DashComposite,
) -> None:
    dash_duo = overview
    until(lambda: point_counts(dash_duo, "cpu"), timeout=10, msg="no CPU chart")
    for chart in ("pg-connections", "pg-transactions", "pg-cache", "pg-locks"):
        assert not is_shown(dash_duo, chart), f"{chart} shown without PostgreSQL"
    for chart in ("redis-memory", "redis-ops", "redis-hits", "redis-clients"):
        assert not is_shown(dash_duo, chart), f"{chart} shown without Redis"
    # Pulseboard's own pool has data on SQLite too.
    assert is_shown(dash_duo, "db-pool")
    database = dash_duo.find_element("#overview-section-database .overview-enable").text
    assert "PULSEBOARD_DATABASE_URL=postgresql+psycopg://" in database
    assert "PULSEBOARD_MONITOR_POSTGRES" in database
    redis = dash_duo.find_element("#overview-section-redis .overview-enable").text
    assert "PULSEBOARD_REDIS_URL=redis://" in redis
    assert dash_duo.find_elements("#overview-section-system .overview-enable") == []

    # Each section links to the Diagnostics tab that explains it; a link opens that tab.
    link = dash_duo.find_element("#overview-section-database a.overview-diagnose")
    assert link.get_attribute("href").endswith("/diagnostics?tab=statements")
    # Below the fold of the test window, where a pointer click is intercepted.
    dash_duo.driver.execute_script("arguments[0].click()", link)
    until(
        lambda: dash_duo.find_element("#diag-tabs .nav-link.active").text == "Statements",
        timeout=10,
        msg="the link did not open the Statements tab",
    )
    assert dash_duo.get_logs() == []


def test_chart_x_axes_span_the_chosen_range(overview: DashComposite) -> None:
    dash_duo = overview
    started = time.time()
    for chart in CHARTS:
        # The charts are drawn one per animation frame, each after Dash's own empty plot
        # (whose axis runs from -1 to 6): wait for each one's time axis in turn.
        lo, hi = until(
            lambda chart=chart: time_axis(dash_duo, chart),
            timeout=10,
            msg=f"the {chart} chart is not drawn",
        )
        # The data is seconds old; the axis still starts an hour back.
        assert abs(epoch(lo) - (started - RANGES["1h"])) < 120, f"{chart} starts at {lo}"
        assert abs(epoch(hi) - started) < 120, f"{chart} ends at {hi}"
    assert dash_duo.get_logs() == []


def click(dash_duo: DashComposite, selector: str, opener: str | None = None) -> None:
    """Click an element (or the ``opener`` of the dropdown holding it) scrolled into view."""
    element = dash_duo.wait_for_element(selector)
    if opener:
        element = dash_duo.driver.execute_script(
            "return arguments[0].closest('.dropdown').querySelector(arguments[1]);",
            element,
            opener,
        )
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element
    )
    until(element.is_displayed, timeout=5, msg=f"{selector} is not shown")
    element.click()


def header_cut(dash_duo: DashComposite) -> list[str]:
    """The slowest-routes headers whose text does not fit its cell."""
    return dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#overview-routes .ag-header-cell-text'))"
        ".filter(function (el) { return el.scrollWidth > el.clientWidth; })"
        ".map(function (el) { return el.textContent; });"
    )


def grid_routes(dash_duo: DashComposite) -> list[str]:
    """The routes the slowest-routes grid shows, top to bottom."""
    return dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll("
        "'#overview-routes .ag-center-cols-container .ag-row'))"
        ".sort(function (a, b) {"
        " return a.getAttribute('row-index') - b.getAttribute('row-index'); })"
        ".map(function (r) { return r.querySelector('[col-id=route]').textContent; });"
    )


def test_slowest_routes_hide_the_consoles_own_and_fit_their_header(
    overview: DashComposite,
) -> None:
    dash_duo = overview
    dash_duo.driver.refresh()  # the refresh callback shows the collected routes at once
    until(lambda: grid_routes(dash_duo), timeout=20, msg="no slowest routes")
    routes = grid_routes(dash_duo)
    assert "/login" in routes
    assert not [r for r in routes if r.startswith(("/_dash-", "/assets/"))], routes
    assert header_cut(dash_duo) == []

    click(dash_duo, "#overview-routes-console")
    until(
        lambda: any(r.startswith("/_dash-") for r in grid_routes(dash_duo)),
        timeout=10,
        msg="the switch did not add the console's routes",
    )
    assert header_cut(dash_duo) == []
    assert dash_duo.get_logs() == []


def test_the_slowest_routes_download_holds_the_rows_shown(overview: DashComposite) -> None:
    dash_duo = overview
    dash_duo.driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": dash_duo.download_path}
    )
    dash_duo.driver.refresh()
    until(lambda: grid_routes(dash_duo), timeout=20, msg="no slowest routes")
    shown = grid_routes(dash_duo)
    menu = "#overview-routes-csv"
    click(dash_duo, menu, opener="button")
    click(dash_duo, menu)
    folder = Path(dash_duo.download_path)
    until(lambda: list(folder.glob("*.csv")), timeout=10, msg="no CSV downloaded")
    (file,) = folder.glob("*.csv")
    assert file.name.startswith("pulseboard-slowest-routes-all-hosts-")
    lines = file.read_text().splitlines()
    assert lines[0] == "route,method,p50,p95,p99,rate"
    assert [line.split(",")[0] for line in lines[1:]] == shown
    assert dash_duo.get_logs() == []


def test_every_chart_links_its_download_with_its_range(overview: DashComposite) -> None:
    dash_duo = overview
    until(lambda: point_counts(dash_duo, "cpu"), timeout=10, msg="no CPU chart")
    until(
        lambda: dash_duo.find_element("#overview-download-cpu-csv").get_attribute("href"),
        10,
        msg="no download link",
    )
    for fmt in ("csv", "json"):
        link = dash_duo.find_element(f"#overview-download-memory-{fmt}")
        assert link.get_attribute("download") is not None
        url = urlsplit(link.get_attribute("href"))
        query = parse_qs(url.query)
        assert url.path == "/api/v1/admin/monitoring/metrics/export"
        assert query["name"] == ["system_memory_used_percent", "system_swap_used_percent"]
        assert query["format"] == [fmt]
        assert query["max_points"] == ["600"]
        assert "host" not in query
        span = float(query["to"][0]) - float(query["from"][0])
        assert span == pytest.approx(RANGES["1h"])
    assert dash_duo.get_logs() == []


def test_a_custom_range_in_the_past_is_history_not_live(overview: DashComposite) -> None:
    dash_duo = overview
    dash_duo.wait_for_text_to_equal("#overview-live-status", "live", timeout=10)
    start = dash_duo.find_element("#overview-from")
    assert start.get_attribute("type") == "text"  # no local 12-hour picker
    assert start.get_attribute("placeholder") == "YYYY-MM-DD HH:MM"
    assert "UTC" in dash_duo.find_element("#overview-apply").find_element("xpath", "..").text
    now = time.time()
    start.send_keys(time.strftime("%Y-%m-%d %H:%M", time.gmtime(now - 7200)))
    dash_duo.find_element("#overview-to").send_keys(
        time.strftime("%Y-%m-%d %H:%M", time.gmtime(now - 3600))
    )
    dash_duo.find_element("#overview-apply").click()
    until(lambda: " to " in text_of(dash_duo, "#overview-updated"), 10, msg="range not shown")
    dash_duo.wait_for_text_to_equal("#overview-live-status", "history", timeout=5)
    assert "bg-secondary" in dash_duo.find_element("#overview-live-status").get_attribute("class")
    shown = text_of(dash_duo, "#overview-updated")
    assert time.strftime("%Y-%m-%d %H:%M", time.gmtime(now - 7200)) in shown

    dash_duo.find_element("label[for='_dbcprivate_radioitems_overview-range_input_1h']").click()
    dash_duo.wait_for_text_to_equal("#overview-live-status", "live", timeout=10)
    assert dash_duo.find_element("#overview-from").get_attribute("value") == ""
    dash_duo.find_element("#overview-auto-refresh").click()
    dash_duo.wait_for_text_to_equal("#overview-live-status", "paused", timeout=5)
    assert dash_duo.get_logs() == []


EXTEND_AFTER = """
const gd = document.querySelector('#overview-chart-cpu .js-plotly-plot');
const figure = {data: gd.data, layout: gd.layout};
const trace = gd.data[0];
const last = Date.parse(trace.x[trace.x.length - 1].replace(' ', 'T') + 'Z') / 1000;
const sample = trace.meta.split('|');
const message = {type: 'metrics', ts: last + arguments[0], samples: [
  {host: sample[0], name: sample[1], labels: JSON.parse(sample[2]), value: 42}]};
const out = window.dash_clientside.pulseboard.extendCharts(message, null, true, figure);
return [out[0][0].x[0], out[0][0].y[0], gd.layout.meta.gap];
"""


def test_live_points_bridge_a_pause_and_break_after_an_outage(overview: DashComposite) -> None:
    dash_duo = overview
    until(lambda: point_counts(dash_duo, "cpu"), timeout=10, msg="no CPU chart")
    xs, ys, gap = dash_duo.driver.execute_script(EXTEND_AFTER, 2)
    assert ys == [42] and len(xs) == 1
    xs, ys, gap = dash_duo.driver.execute_script(EXTEND_AFTER, 10 * 3600)
    assert ys == [None, 42], "an outage must break the line"
    assert epoch(xs[0]) < epoch(xs[1])
    assert gap > 2
    assert dash_duo.get_logs() == []


DRAWN = """
const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');
if (!gd || !gd.data) { return null; }
return gd.data.map(function (t) {
  return [t.name, t.visible, Array.from(t.x), Array.from(t.y)];
});
"""
SCROLL_TO = """
document.getElementById(arguments[0]).scrollIntoView({block: 'center', behavior: 'instant'});
"""


def drawn(dash_duo: DashComposite, chart: str) -> list | None:
    """Each line of one chart as Plotly holds it in the page: name, visibility, x, y."""
    return dash_duo.driver.execute_script(DRAWN, f"#overview-chart-{chart}")


def test_each_chart_draws_the_figure_of_the_stored_points(overview: DashComposite) -> None:
    dash_duo = overview
    rt = _runtime(dash_duo.app)
    until(lambda: (point_counts(dash_duo, "cpu") or [0])[0] >= 3, 20, msg="too few points")
    # Zoomed to points already stored (history: no live points join them), every chart
    # draws exactly the figure of what the store holds in that window.
    first, last = dash_duo.driver.execute_script(
        "const x = document.querySelector('#overview-chart-cpu .js-plotly-plot').data[0].x;"
        "return [x[0], x[x.length - 1]];"
    )
    dash_duo.driver.execute_script(
        "const gd = document.querySelector('#overview-chart-cpu .js-plotly-plot');"
        "Plotly.relayout(gd, {'xaxis.range[0]': arguments[0], 'xaxis.range[1]': arguments[1]});",
        first,
        last,
    )
    dash_duo.wait_for_text_to_equal("#overview-live-status", "history", timeout=10)
    until(lambda: " to " in text_of(dash_duo, "#overview-updated"), 10, msg="no zoomed window")
    # The window the charts were queried for, as their download links name it.
    link = dash_duo.find_element("#overview-download-cpu-csv").get_attribute("href")
    query = parse_qs(urlsplit(link).query)
    start, end = float(query["from"][0]), float(query["to"][0])
    specs = {spec.key: spec for spec in view.CHARTS}
    for chart in (*CHARTS, "db-pool"):
        # A chart is drawn once it is on screen.
        dash_duo.driver.execute_script(SCROLL_TO, f"overview-chart-{chart}")
        series = view.chart_series(rt, specs[chart], start, end)
        figure = time_series_figure(
            specs[chart], series, dark=False, shown=(start, end), interval=1
        )
        expected = [[t["name"], t["visible"], t["x"], t["y"]] for t in figure["data"]]
        assert expected and expected[0][2], f"{chart}: nothing stored in the window"
        until(
            lambda chart=chart, expected=expected: drawn(dash_duo, chart) == expected,
            timeout=10,
            msg=f"the {chart} chart does not draw the stored points",
        )
    assert dash_duo.get_logs() == []
