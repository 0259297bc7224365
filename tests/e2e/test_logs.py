"""The Logs page in Chromium: search, level toggles, a bad query, the record detail, log
text shown as text, a histogram bar narrowing the range, the live tail with pause and
resume, a CSV export, and an analyst at phone width in the dark theme."""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import dash
import pytest
from dash.testing.composite import DashComposite
from dash.testing.wait import until
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from app.auth import hash_password
from app.components.logs import histogram_figure
from app.runtime import Runtime
from app.services.log_search import build_query
from app.services.log_view import level_histogram, logs_href
from storage.logs import LogEntry
from tests.e2e.browser import console_messages, record_console, text_of

pytestmark = pytest.mark.browser
T = TypeVar("T")

XSS_MESSAGE = "<img src=x onerror=alert(1)>"
XSS_ATTRS = {"html": "<script>alert(2)</script>", "user_id": 42}
ANALYST_PASSWORD = "analyst-pass-1"
WAIT = 15

GRID_DATA = """
const api = window.dash_ag_grid && dash_ag_grid.getApi(arguments[0]);
if (!api) { return null; }
const rows = [];
for (let i = 0; i < api.getDisplayedRowCount(); i++) {
  const node = api.getDisplayedRowAtIndex(i);
  if (node && node.data) { rows.push(node.data); }
}
return rows;
"""
SCROLL_TO_END = """
const api = dash_ag_grid.getApi('logs-grid');
api.ensureIndexVisible(api.getDisplayedRowCount() - 1, 'bottom');
const last = api.getDisplayedRowAtIndex(api.getDisplayedRowCount() - 1);
return [api.getDisplayedRowCount(), last && last.data ? last.data.message : null];
"""
GRID_CELLS = """
return Array.from(document.querySelectorAll(
  arguments[0] + ' .ag-center-cols-container [col-id=' + arguments[1] + ']'
)).map(function (cell) { return cell.textContent; });
"""
COLUMN_BOXES = """
return Array.from(document.querySelectorAll(
  '#logs-grid .ag-center-cols-container [col-id=' + arguments[0] + ']'
)).map(function (cell) {
  const r = cell.getBoundingClientRect(); return {left: r.left, right: r.right};
});
"""
CSV_NAME = re.compile(r"pulseboard-logs-(\d{8}T\d{6}Z)-(\d{8}T\d{6}Z)\.csv")
INJECTED_IMAGES = "return document.querySelectorAll('img[src=x]').length;"
BARS = "#logs-histogram .point"
LEGEND_AND_PLOT = """
const box = function (el) {
  const r = el.getBoundingClientRect();
  return {top: r.top, bottom: r.bottom};
};
return [box(document.querySelector('#logs-histogram .legend')),
        box(document.querySelector('#logs-histogram .nsewdrag'))];
"""
BAR_BOXES = """
return Array.from(document.querySelectorAll('#logs-histogram .point')).map(function (bar) {
  const r = bar.getBoundingClientRect(); return {top: r.top, bottom: r.bottom};
});
"""
FONT_COLOUR = """
const gd = document.querySelector('#logs-histogram .js-plotly-plot');
return gd && gd._fullLayout ? gd._fullLayout.font.color : null;
"""


def _runtime(app: dash.Dash) -> Runtime:
    return app.server.extensions["pulseboard"]


def write(app: dash.Dash, *entries: LogEntry) -> None:
    """Store records as any producer would (committed when this returns)."""
    _runtime(app).logs.write(list(entries))


def entry(message: str, level: str = "info", ago: float = 60, **attrs) -> LogEntry:
    """A record from ``api`` on ``web-1``, ``ago`` seconds old."""
    ts = datetime.now(UTC) - timedelta(seconds=ago)
    return LogEntry(ts, level, "api", "web-1", message, attrs)


def seeded() -> list[LogEntry]:
    """The records written before the page opens, 5 to 12 minutes old, oldest last."""
    return [
        *(entry(f"request {i} done", "info", ago=300 + i) for i in range(6)),
        *(entry(f"slow request {i}", "warning", ago=400 + i) for i in range(3)),
        *(entry(f"db timeout {i}", "error", ago=500 + i) for i in range(2)),
        entry("disk full", "critical", ago=600),
        entry(XSS_MESSAGE, "error", ago=700, **XSS_ATTRS),
    ]


SEEDED = [e.message for e in seeded()]
"""Their messages, newest first."""


@pytest.fixture
def logs_app(dash_duo: DashComposite, make_app) -> dash.Dash:
    """A running app (no scheduler) with the seeded records."""
    app = make_app()
    write(app, *seeded())
    dash_duo.start_server(app, navigate=False)
    return app


def login(dash_duo: DashComposite, name: str, password: str) -> None:
    """Log in through the real form, then open Logs from the navbar."""
    dash_duo.driver.get(dash_duo.server.url + "/login")
    dash_duo.wait_for_element("#login-name").send_keys(name)
    dash_duo.find_element("#login-password").send_keys(password)
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_element("#nav-logout", timeout=WAIT)
    if not dash_duo.find_element("a.nav-link[href='/logs']").is_displayed():
        dash_duo.find_element("#nav-toggler").click()  # phone width: the menu is folded
        until(dash_duo.find_element("a.nav-link[href='/logs']").is_displayed, 5)
    dash_duo.find_element("a.nav-link[href='/logs']").click()
    dash_duo.wait_for_element("#logs-grid", timeout=WAIT)
    assert urlsplit(dash_duo.driver.current_url).path == "/logs"


def login_admin(dash_duo: DashComposite, app: dash.Dash) -> None:
    """Log in as ``admin`` and open the Logs page."""
    login(dash_duo, "admin", _runtime(app).settings.admin_password)


def grid_data(dash_duo: DashComposite, grid: str = "logs-grid") -> list[dict]:
    """The records a grid holds (its DOM has only the rows scrolled into view)."""
    return dash_duo.driver.execute_script(GRID_DATA, grid) or []


def messages(dash_duo: DashComposite, grid: str = "logs-grid") -> list[str]:
    """The messages a grid holds, Pulseboard's own logs left out, in grid order."""
    return [r["message"] for r in grid_data(dash_duo, grid) if r["source"] != "pulseboard"]


def wait_for(read: Callable[[], T], check: Callable[[T], object], what: str) -> T:
    """Read until ``check`` holds for what was read, and return that; on a timeout the
    failure says what was read last."""
    deadline = time.monotonic() + WAIT
    while not check(value := read()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what}; last saw {value!r}")
        time.sleep(0.1)
    return value


def wait_for_messages(dash_duo: DashComposite, expected: list[str], grid: str = "logs-grid"):
    """Wait until the grid holds exactly these messages, in this order."""
    wait_for(lambda: messages(dash_duo, grid), expected.__eq__, f"{grid} does not show {expected}")


def summary(dash_duo: DashComposite) -> str:
    return text_of(dash_duo, "#logs-summary")


def wait_for_count(dash_duo: DashComposite, count: int) -> str:
    """Wait until the summary says ``count`` matching records; return it."""
    noun = "record" if count == 1 else "records"
    return wait_for(
        lambda: summary(dash_duo),
        lambda text: text.startswith(f"{count} matching {noun} "),
        f"the summary does not count {count}",
    )


def search(dash_duo: DashComposite, query: str) -> None:
    """Type a query and press Enter."""
    box = dash_duo.find_element("#logs-query")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(query, Keys.ENTER)


def no_alert_open(dash_duo: DashComposite) -> bool:
    """Whether no JavaScript alert is open."""
    try:
        return dash_duo.driver.switch_to.alert is None
    except NoAlertPresentException:
        return True


def click_message(dash_duo: DashComposite, message: str, grid: str = "logs-grid") -> None:
    """Click the message cell of the row showing ``message``."""
    cells = f"#{grid} .ag-center-cols-container [col-id=message]"
    until(
        lambda: message in dash_duo.driver.execute_script(GRID_CELLS, f"#{grid}", "message"),
        WAIT,
        msg=f"no row shows {message!r}",
    )
    cell = next(c for c in dash_duo.find_elements(cells) if c.text == message)
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", cell
    )
    cell.click()


def test_search_toggles_and_detail(dash_duo: DashComposite, logs_app: dash.Dash) -> None:
    login_admin(dash_duo, logs_app)
    wait_for(
        lambda: messages(dash_duo),
        lambda shown: set(SEEDED) <= set(shown),
        "the seeded records are not in the grid",
    )

    search(dash_duo, "level>=error -source:pulseboard")
    wait_for_messages(dash_duo, ["db timeout 0", "db timeout 1", "disk full", XSS_MESSAGE])
    wait_for_count(dash_duo, 4)

    # Log text is text: the grid cell and the detail panel show the markup literally.
    assert XSS_MESSAGE in dash_duo.driver.execute_script(GRID_CELLS, "#logs-grid", "message")
    click_message(dash_duo, XSS_MESSAGE)
    until(lambda: text_of(dash_duo, "#logs-detail .log-detail-message") == XSS_MESSAGE, WAIT)
    attrs = text_of(dash_duo, "#logs-detail .log-detail-attrs")
    assert attrs == '{\n  "html": "<script>alert(2)</script>",\n  "user_id": 42\n}'
    assert "error" in text_of(dash_duo, "#logs-detail dl")
    assert dash_duo.driver.execute_script(INJECTED_IMAGES) == 0
    assert dash_duo.find_elements("#logs-detail script, #logs-grid script") == []
    assert no_alert_open(dash_duo)

    label = "label[for='_dbcprivate_checklist_logs-levels_input_critical']"
    dash_duo.find_element(label).click()
    wait_for_messages(dash_duo, ["db timeout 0", "db timeout 1", XSS_MESSAGE])
    wait_for_count(dash_duo, 3)
    assert "active" not in dash_duo.find_element(label).get_attribute("class")

    search(dash_duo, 'level>=error "unclosed')
    wait_for(
        lambda: text_of(dash_duo, "#logs-error"),
        lambda text: text.startswith("Query: a quote is not closed (at character 14)."),
        "the bad query is not pointed at",
    )
    # Nothing is shown for it: no rows, no bars, no count, no export of everything.
    wait_for_messages(dash_duo, [])
    assert summary(dash_duo) == "No results: correct the query above to search again."
    until(lambda: not dash_duo.find_elements(BARS), WAIT, msg="the old bars stay")
    export = dash_duo.find_element("#logs-export-menu .dropdown-toggle")
    assert export.get_attribute("disabled") is not None
    search(dash_duo, "level>=error -source:pulseboard")
    wait_for_messages(dash_duo, ["db timeout 0", "db timeout 1", XSS_MESSAGE])  # critical off
    assert export.get_attribute("disabled") is None
    assert dash_duo.get_logs() == []


TOGGLE_LOOK = """
const label = document.querySelector(arguments[0]);
const style = getComputedStyle(label);
return [getComputedStyle(label, '::before').content, style.textDecorationLine,
        style.backgroundColor];
"""
PLACEHOLDER_STYLE = (
    "return getComputedStyle(document.getElementById('logs-query'), '::placeholder').fontStyle;"
)


def level_label(level: str) -> str:
    return f"label[for='_dbcprivate_checklist_logs-levels_input_{level}']"


def test_the_page_reads_clearly(dash_duo: DashComposite, logs_app: dash.Dash) -> None:
    record_console(dash_duo)
    login_admin(dash_duo, logs_app)
    # The placeholder is a hint, not a query already typed.
    box = dash_duo.find_element("#logs-query")
    assert box.get_attribute("value") == ""
    assert box.get_attribute("placeholder").startswith("Search messages, or e.g. ")
    assert dash_duo.driver.execute_script(PLACEHOLDER_STYLE) == "italic"

    # A level that is on carries a tick on its colour; one that is off is struck out.
    dash_duo.find_element(level_label("debug")).click()
    on = wait_for(
        lambda: dash_duo.driver.execute_script(TOGGLE_LOOK, level_label("error")),
        lambda look: look[0] == '"✓\xa0"' and look[2] == "rgb(220, 53, 69)",
        "a level that is on has no tick on its colour",
    )
    off = wait_for(
        lambda: dash_duo.driver.execute_script(TOGGLE_LOOK, level_label("debug")),
        # (Bootstrap fades the fill out, so wait for the end of it.)
        lambda look: look[1] == "line-through" and look[2].endswith(", 0)"),
        "a level that is off is not struck out and unfilled",
    )
    assert off[0] in ("none", "normal") and on[1] == "none"

    # The histogram's legend sits above the bars, never over them.
    search(dash_duo, "-source:pulseboard")
    wait_for_count(dash_duo, len(SEEDED))
    until(lambda: dash_duo.find_elements(BARS), WAIT, msg="no bars")
    legend, plot = dash_duo.driver.execute_script(LEGEND_AND_PLOT)
    assert legend["bottom"] <= plot["top"] + 1, (legend, plot)
    tallest = min(bar["top"] for bar in dash_duo.driver.execute_script(BAR_BOXES))
    assert tallest >= legend["bottom"] - 1
    # No grid warnings either (the browser log keeps errors only).
    assert [m for m in console_messages(dash_duo) if "AG Grid" in m] == []
    assert dash_duo.get_logs() == []


BURSTS = {"info": (3000, 2), "warning": (1800, 3), "error": (600, 4)}
"""Level: (seconds ago, how many). Each burst shares one timestamp, so one bar each."""


def test_a_histogram_bar_narrows_the_range(dash_duo: DashComposite, logs_app: dash.Dash) -> None:
    now = datetime.now(UTC)
    write(
        logs_app,
        *(
            LogEntry(now - timedelta(seconds=ago), level, "api", "web-2", f"burst {level} {i}")
            for level, (ago, count) in BURSTS.items()
            for i in range(count)
        ),
    )
    login_admin(dash_duo, logs_app)
    search(dash_duo, "burst -source:pulseboard")
    whole = wait_for_count(dash_duo, 9)
    bars = BARS
    until(lambda: len(dash_duo.find_elements(bars)) == 3, WAIT, msg="not one bar per burst")
    assert [el.text for el in dash_duo.find_elements("#logs-range label.active")] == ["1h"]

    # Plotly's drag layer lies over the bars: a real pointer click reaches them.
    ActionChains(dash_duo.driver).move_to_element(dash_duo.find_elements(bars)[0]).click().perform()
    until(lambda: summary(dash_duo) != whole, WAIT, msg="the bar click did not narrow the range")
    narrowed = summary(dash_duo)
    count = int(narrowed.split()[0])
    level = next(lv for lv, (_, n) in BURSTS.items() if n == count)
    wait_for_messages(dash_duo, [f"burst {level} {i}" for i in reversed(range(count))])
    start = dash_duo.find_element("#logs-from").get_attribute("value")
    end = dash_duo.find_element("#logs-to").get_attribute("value")
    assert start and end and start < end
    assert f"from {start.replace('T', ' ')} to {end.replace('T', ' ')} UTC" in narrowed
    assert dash_duo.find_elements("#logs-range label.active") == []

    # A preset puts the whole hour back and empties the From/To inputs.
    dash_duo.find_element("label[for='_dbcprivate_radioitems_logs-range_input_1h']").click()
    wait_for_count(dash_duo, 9)
    until(lambda: dash_duo.find_element("#logs-from").get_attribute("value") == "", WAIT)

    # A link naming a query and a window (as the Diagnostics page makes) opens just that.
    link = logs_href("burst -source:pulseboard", start=now.timestamp() - 2000, end=now.timestamp())
    dash_duo.driver.get(dash_duo.server.url + link)
    wait_for_count(dash_duo, 7)
    assert dash_duo.find_element("#logs-query").get_attribute("value") == "burst -source:pulseboard"
    assert dash_duo.find_element("#logs-from").get_attribute("value")
    assert dash_duo.find_elements("#logs-range label.active") == []

    # The dark theme reaches the grid and the histogram.
    light = dash_duo.driver.execute_script(FONT_COLOUR)
    dash_duo.find_element("#theme-switch").click()
    until(
        lambda: dash_duo.find_element("#logs-page").get_attribute("data-ag-theme-mode") == "dark",
        WAIT,
        msg="the grids did not turn dark",
    )
    until(
        lambda: dash_duo.driver.execute_script(FONT_COLOUR) not in (None, light),
        WAIT,
        msg="the histogram did not turn dark",
    )
    assert dash_duo.get_logs() == []


HISTOGRAM_DATA = """
const gd = document.querySelector('#logs-histogram .js-plotly-plot');
if (!gd || !gd.data) { return null; }
return gd.data.map(function (t) { return [t.name, t.x, t.y, t.customdata]; });
"""
SEARCH_SHOWN = """
return ['logs-export-q', 'logs-export-from', 'logs-export-to'].map(function (id) {
  return document.getElementById(id).value;
});
"""


def test_the_histogram_and_grid_draw_what_the_store_holds(
    dash_duo: DashComposite, logs_app: dash.Dash
) -> None:
    login_admin(dash_duo, logs_app)
    search(dash_duo, "-source:pulseboard")
    wait_for_count(dash_duo, len(SEEDED))
    # The search the page ran, as its export form carries it.
    q, start, end = dash_duo.driver.execute_script(SEARCH_SHOWN)
    shown = {"q": q, "from": float(start), "to": float(end)}
    data = level_histogram(_runtime(logs_app), shown, time.time())
    figure = histogram_figure(data, shown["from"], shown["to"], dark=False)
    expected = [[t["name"], t["x"], t["y"], t["customdata"]] for t in figure["data"]]
    assert expected
    wait_for(
        lambda: dash_duo.driver.execute_script(HISTOGRAM_DATA),
        expected.__eq__,
        "the histogram does not draw the store's counts",
    )
    stored = _runtime(logs_app).logs.search(
        build_query(q, None, None, None),
        start=datetime.fromtimestamp(shown["from"], UTC),
        end=datetime.fromtimestamp(shown["to"], UTC),
    )
    rows = [record.to_dict() for record in stored.records]
    wait_for(lambda: grid_data(dash_duo), rows.__eq__, "the grid does not hold the store's rows")
    assert dash_duo.get_logs() == []


def badge(dash_duo: DashComposite, name: str) -> str:
    """The text of a live tail control (kept while the tail area is hidden)."""
    return dash_duo.driver.execute_script(
        "return document.getElementById(arguments[0]).textContent;", f"logs-tail-{name}"
    )


def test_live_tail_receives_new_lines_and_pauses(
    dash_duo: DashComposite, logs_app: dash.Dash
) -> None:
    login_admin(dash_duo, logs_app)
    search(dash_duo, "-source:pulseboard")
    wait_for_count(dash_duo, len(SEEDED))
    dash_duo.find_element("#logs-live").click()
    until(lambda: badge(dash_duo, "status") == "live", WAIT, msg="the tail is not live")
    assert not dash_duo.find_element("#logs-grid").is_displayed()
    # The tail shows records in arrival (id) order; these were written newest first.
    in_arrival_order = SEEDED
    wait_for_messages(dash_duo, in_arrival_order, grid="logs-tail-grid")

    write(logs_app, entry("tail new 0", ago=0), entry("tail new 1", "error", ago=0))
    shown = [*in_arrival_order, "tail new 0", "tail new 1"]
    wait_for_messages(dash_duo, shown, grid="logs-tail-grid")
    until(lambda: badge(dash_duo, "rate") != "0.0 lines/s", WAIT, msg="no arrival rate")

    dash_duo.find_element("#logs-tail-pause").click()
    until(lambda: badge(dash_duo, "pause") == "Resume", WAIT)
    write(logs_app, *(entry(f"held {i}", ago=0) for i in range(3)))
    wait_for(lambda: badge(dash_duo, "dropped"), "0 dropped, 3 held".__eq__, "no held count")
    assert messages(dash_duo, "logs-tail-grid") == shown

    dash_duo.find_element("#logs-tail-pause").click()
    wait_for_messages(dash_duo, [*shown, "held 0", "held 1", "held 2"], grid="logs-tail-grid")
    until(lambda: badge(dash_duo, "dropped") == "0 dropped", WAIT)
    assert badge(dash_duo, "pause") == "Pause"

    click_message(dash_duo, "held 1", grid="logs-tail-grid")
    until(lambda: text_of(dash_duo, "#logs-detail .log-detail-message") == "held 1", WAIT)

    dash_duo.find_element("#logs-live").click()
    until(lambda: badge(dash_duo, "status") == "off", WAIT, msg="the tail did not stop")
    until(dash_duo.find_element("#logs-grid").is_displayed, WAIT)
    assert dash_duo.get_logs() == []


def test_a_query_mistake_stops_the_live_tail(dash_duo: DashComposite, logs_app: dash.Dash) -> None:
    login_admin(dash_duo, logs_app)
    search(dash_duo, "-source:pulseboard")
    dash_duo.find_element("#logs-live").click()
    until(lambda: badge(dash_duo, "status") == "live", WAIT, msg="the tail is not live")
    wait_for_messages(dash_duo, SEEDED, grid="logs-tail-grid")

    # No green "live" badge under the error, and none of the old lines.
    search(dash_duo, '"unclosed')
    wait_for(
        lambda: badge(dash_duo, "status"), "stopped: correct the query".__eq__, "the tail goes on"
    )
    assert "bg-danger" in dash_duo.find_element("#logs-tail-status").get_attribute("class")
    wait_for_messages(dash_duo, [], grid="logs-tail-grid")
    assert text_of(dash_duo, "#logs-error").startswith("Query: a quote is not closed")
    assert dash_duo.get_logs() == []


def test_export_downloads_the_search_as_csv(
    dash_duo: DashComposite, logs_app: dash.Dash, tmp_path: Path
) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    dash_duo.driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    login_admin(dash_duo, logs_app)
    search(dash_duo, "level>=warning -source:pulseboard")
    wait_for_count(dash_duo, 7)

    dash_duo.find_element("#logs-export-menu .dropdown-toggle").click()
    dash_duo.wait_for_element("#logs-export-csv", timeout=WAIT).click()
    names = wait_for(
        lambda: [p.name for p in downloads.iterdir()],
        lambda names: len(names) == 1 and CSV_NAME.fullmatch(names[0]),
        "no CSV downloaded",
    )
    # The file is named after the page's range: the hour up to the search.
    start, end = (
        datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
        for stamp in CSV_NAME.fullmatch(names[0]).groups()
    )
    assert 3599 <= (end - start).total_seconds() <= 3601
    with (downloads / names[0]).open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    wanted = sorted((e for e in seeded() if e.level != "info"), key=lambda e: e.ts)
    assert [(r["level"], r["message"]) for r in rows] == [(e.level, e.message) for e in wanted]
    xss = next(r for r in rows if r["message"] == XSS_MESSAGE)
    assert json.loads(xss["attrs"]) == XSS_ATTRS
    assert urlsplit(dash_duo.driver.current_url).path == "/logs"
    assert dash_duo.get_logs() == []


BULK = 350
"""Records for three and a half blocks of the grid, three to a timestamp."""


def test_an_analyst_uses_the_page_at_phone_width(
    dash_duo: DashComposite, logs_app: dash.Dash
) -> None:
    _runtime(logs_app).accounts.add_user("ana", "analyst", hash_password(ANALYST_PASSWORD))
    start = datetime.now(UTC) - timedelta(minutes=40)
    write(
        logs_app,
        *(
            LogEntry(start + timedelta(seconds=i // 3), "info", "batch", "web-3", f"bulk {i}")
            for i in range(BULK)
        ),
    )
    driver = dash_duo.driver
    driver.set_window_size(400, 800)
    login(dash_duo, "ana", ANALYST_PASSWORD)
    wait_for(
        lambda: messages(dash_duo),
        lambda shown: set(SEEDED) <= set(shown),
        "the seeded records are not in the grid",
    )
    width = driver.execute_script("return window.innerWidth")
    assert width <= 400
    grid = driver.execute_script(
        "const r = document.getElementById('logs-grid').getBoundingClientRect();"
        "return [r.left, r.right, r.height];"
    )
    assert grid[0] >= 0 and grid[1] <= width + 1 and grid[2] > 200, grid
    scroll = driver.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= width + 1, f"the page is {scroll}px wide in a {width}px window"
    # The message column is in view: the clock stands in for date, source and host.
    cells = wait_for(
        lambda: driver.execute_script(COLUMN_BOXES, "message"),
        lambda boxes: boxes and all(box["right"] <= grid[1] + 1 for box in boxes),
        "the message column is off-screen",
    )
    assert all(box["left"] >= grid[0] and box["right"] - box["left"] >= 150 for box in cells)
    assert driver.execute_script(COLUMN_BOXES, "clock")
    assert not driver.execute_script(COLUMN_BOXES, "source")

    # Scrolled to the end block after block, the grid holds every record once, in order.
    search(dash_duo, "bulk -source:pulseboard")
    wait_for_count(dash_duo, BULK)
    wait_for(
        lambda: driver.execute_script(SCROLL_TO_END),
        [BULK, "bulk 0"].__eq__,
        "the grid does not scroll to its end",
    )
    assert messages(dash_duo) == [f"bulk {i}" for i in reversed(range(BULK))]

    search(dash_duo, "disk -source:pulseboard")
    wait_for_messages(dash_duo, ["disk full"])
    click_message(dash_duo, "disk full")
    until(lambda: text_of(dash_duo, "#logs-detail .log-detail-message") == "disk full", WAIT)
    assert dash_duo.get_logs() == []


FOCUSED_MESSAGE = "#logs-grid .ag-center-cols-container .log-row-focus [col-id=message]"


def query_text(dash_duo: DashComposite) -> str:
    return dash_duo.find_element("#logs-query").get_attribute("value")


def click_term(dash_duo: DashComposite, term: str) -> None:
    """Click the value of the record in the detail panel that adds ``term``."""
    button = until(
        lambda: next(
            (
                b
                for b in dash_duo.find_elements("#logs-detail .log-term")
                if b.get_attribute("title") == f"Add {term} to the query"
            ),
            None,
        ),
        WAIT,
        msg=f"no value adds {term}",
    )
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", button
    )
    button.click()


def test_a_record_adds_its_values_to_the_query_and_shows_its_surroundings(
    dash_duo: DashComposite, logs_app: dash.Dash
) -> None:
    middle = datetime.now(UTC).replace(microsecond=250_000) - timedelta(minutes=40)

    def at(seconds: float, message: str, host: str = "web-1", source: str = "api", **attrs):
        return LogEntry(middle + timedelta(seconds=seconds), "info", source, host, message, attrs)

    write(
        logs_app,
        at(-400, "ctx too early"),
        at(-200, "ctx before"),
        at(0, "ctx middle", request_id="r 7", user={"id": 42}),
        at(120, "ctx after"),
        at(400, "ctx too late"),
        at(10, "ctx other host", host="web-2"),
        at(20, "ctx other source", source="worker"),
    )
    login_admin(dash_duo, logs_app)
    search(dash_duo, "ctx")
    wait_for_count(dash_duo, 7)
    click_message(dash_duo, "ctx middle")

    # The time is readable, in UTC, with the stored ISO value at hand.
    shown = dash_duo.wait_for_element("#logs-detail time", timeout=WAIT)
    assert shown.text == middle.strftime("%Y-%m-%d %H:%M:%S.250 UTC")
    assert shown.get_attribute("datetime") == middle.isoformat()
    assert shown.get_attribute("title") == middle.isoformat()

    click_term(dash_duo, "host:web-1")
    until(lambda: query_text(dash_duo) == "ctx host:web-1", WAIT, msg="the host was not added")
    wait_for_count(dash_duo, 6)
    click_term(dash_duo, 'attrs.request_id:"r 7"')
    until(lambda: query_text(dash_duo) == 'ctx host:web-1 attrs.request_id:"r 7"', WAIT)
    wait_for_messages(dash_duo, ["ctx middle"])
    click_term(dash_duo, "attrs.user.id:42")
    until(lambda: query_text(dash_duo).endswith(" attrs.user.id:42"), WAIT)
    wait_for_messages(dash_duo, ["ctx middle"])

    click_message(dash_duo, "ctx middle")
    dash_duo.find_element("#logs-surrounding").click()
    until(lambda: query_text(dash_duo) == "host:web-1 source:api", WAIT, msg="no surroundings")
    wait_for_messages(dash_duo, ["ctx after", "ctx middle", "ctx before"])
    start = dash_duo.find_element("#logs-from").get_attribute("value")
    end = dash_duo.find_element("#logs-to").get_attribute("value")
    assert (start, end) == (
        (middle - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S"),
        (middle + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S"),
    )
    assert dash_duo.find_elements("#logs-range label.active") == []
    # The record stays in the detail and is marked among its neighbours.
    assert text_of(dash_duo, "#logs-detail .log-detail-message") == "ctx middle"
    marked = wait_for(
        lambda: [c.text for c in dash_duo.find_elements(FOCUSED_MESSAGE)],
        ["ctx middle"].__eq__,
        "the record is not marked in the grid",
    )
    assert marked == ["ctx middle"]
    assert dash_duo.get_logs() == []
