"""The Alerts page in Chromium: a rule made in the editor with its preview, the alert it
fires arriving as a toast and in the badge, acknowledged, silenced, a webhook channel
tested against a real receiver, and the open alerts at phone width."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import dash
import pytest
import requests
from dash.testing.composite import DashComposite
from dash.testing.wait import until
from selenium.webdriver.support.select import Select

from app.alerting.evaluate import evaluate_rule, item
from app.alerting.rules import RuleBody, check, from_record, to_record
from app.auth import hash_password
from app.runtime import Runtime
from app.services import alert_channels
from app.services.accounts import Actor
from storage.live import ALERTS_CHANNEL
from storage.metrics import Sample
from tests.e2e.browser import console_messages, record_console, text_of
from tests.e2e.test_overview import click

pytestmark = pytest.mark.browser

WAIT = 15
METRIC = "test_queue_depth"
RULE = "Queue too deep"
ANALYST_PASSWORD = "analyst-pass-1"
SHOTS = "/tmp/pulseboard-alerts"

GRID_DATA = """
const api = window.dash_ag_grid && dash_ag_grid.getApi(arguments[0]);
if (!api) { return []; }
const rows = [];
api.forEachNodeAfterFilterAndSort(function (node) { rows.push(node.data); });
return rows;
"""
SELECT_ROW = """
const api = dash_ag_grid.getApi(arguments[0]), id = arguments[1];
api.forEachNode(function (node) { if (node.data.id === id) { node.setSelected(true); } });
"""
FIGURE = """
const gd = document.querySelector('#alerts-preview-graph .js-plotly-plot');
if (!gd || !gd.data) { return null; }
return {names: gd.data.map(function (t) { return t.name; }),
        points: gd.data.map(function (t) { return (t.x || []).length; }),
        shapes: (gd.layout.shapes || []).map(function (s) { return s.y0; })};
"""


def _runtime(app: dash.Dash) -> Runtime:
    return app.server.extensions["pulseboard"]


class Receiver(ThreadingHTTPServer):
    """A webhook receiver on 127.0.0.1 that keeps every body it is sent."""

    bodies: list[dict]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.server.bodies.append(json.loads(self.rfile.read(length)))
        answer = b'{"received": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running webhook receiver."""
    server = Receiver(("127.0.0.1", 0), _Handler)
    server.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def alerts_app(dash_duo: DashComposite, make_app) -> dash.Dash:
    """A running app (no scheduler) that may send to 127.0.0.1, with a day of samples of
    one metric: quiet at 10, with a spike to 95 three hours ago."""
    app = make_app(webhook_allow_private=True)
    rt = _runtime(app)
    now = time.time()
    samples = [
        Sample(ts, rt.settings.hostname, METRIC, 95.0 if 3 * 3600 <= now - ts < 4 * 3600 else 10.0)
        for ts in range(int(now - 86400), int(now), 300)
    ]
    rt.metrics.write(samples)
    record_console(dash_duo)
    dash_duo.start_server(app, navigate=False)
    return app


def login(
    dash_duo: DashComposite, app: dash.Dash, name: str = "admin", password: str | None = None
) -> None:
    """Log in (as ``admin`` unless told) and open Alerts from the navbar."""
    dash_duo.driver.get(dash_duo.server.url + "/login")
    dash_duo.wait_for_element("#login-name").send_keys(name)
    dash_duo.find_element("#login-password").send_keys(
        password or _runtime(app).settings.admin_password
    )
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_element("#nav-logout", timeout=WAIT)
    if not dash_duo.find_element("a.nav-link[href='/alerts']").is_displayed():
        dash_duo.find_element("#nav-toggler").click()  # phone width: the menu is folded
        until(dash_duo.find_element("a.nav-link[href='/alerts']").is_displayed, 5)
    dash_duo.find_element("a.nav-link[href='/alerts']").click()
    dash_duo.wait_for_element("#alerts-open-grid", timeout=WAIT)
    assert urlsplit(dash_duo.driver.current_url).path == "/alerts"


def grid_data(dash_duo: DashComposite, grid: str) -> list[dict]:
    """The rows a grid holds."""
    return dash_duo.driver.execute_script(GRID_DATA, grid) or []


def select_row(dash_duo: DashComposite, grid: str, row_id: int) -> None:
    """Select the grid row with ``row_id`` (as a click on it does)."""
    until(lambda: any(r["id"] == row_id for r in grid_data(dash_duo, grid)), WAIT)
    dash_duo.driver.execute_script(SELECT_ROW, grid, row_id)


def tab(dash_duo: DashComposite, label: str) -> None:
    """Open a tab of the page by its label."""
    link = next(a for a in dash_duo.find_elements("#alerts-tabs .nav-link") if a.text == label)
    link.click()


def field(dash_duo: DashComposite, name: str):
    """The rule editor's input for ``name``."""
    return dash_duo.find_element(f'[id*=\'"field":"{name}"\'][id*="alerts-rule-field"]')


def type_into(dash_duo: DashComposite, name: str, text: str) -> None:
    """Replace the text of an editor input."""
    box = field(dash_duo, name)
    box.clear()
    box.send_keys(text)


def feedback(dash_duo: DashComposite, selector: str) -> str:
    """The text of a feedback area once it has some."""
    return until(lambda: dash_duo.find_element(selector).text, WAIT, msg=f"{selector} stays empty")


def download(dash_duo: DashComposite, selector: str) -> str:
    """What a download link serves, fetched with the browser's session."""
    href = until(lambda: dash_duo.find_element(selector).get_attribute("href"), WAIT)
    cookies = {c["name"]: c["value"] for c in dash_duo.driver.get_cookies()}
    response = requests.get(href, cookies=cookies, timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def fire(app: dash.Dash, rule_id: int) -> None:
    """Write a sample above the rule's critical threshold and evaluate the rule now,
    telling the alerts stream like the scheduler's evaluation does."""
    rt = _runtime(app)
    now = time.time()
    rt.metrics.write([Sample(now - 1, rt.settings.hostname, METRIC, 97.0)])
    events = evaluate_rule(
        from_record(rt.alerts.get_rule(rule_id)),
        rt.alerts,
        rt.metrics,
        rt.logs,
        now,
        lambda *_: [],
    )
    for event, instance in events:
        rt.bus.publish(ALERTS_CHANNEL, {"type": "alert", "event": event, "alert": item(instance)})


def create_rule_with_preview(dash_duo: DashComposite, host: str) -> None:
    """Fill a new metric rule, preview it, be told a blank name cannot be saved, save it."""
    tab(dash_duo, "Rules")
    click(dash_duo, "#alerts-rule-new")
    dash_duo.wait_for_element("#alerts-editor-title")
    until(lambda: dash_duo.find_element("#alerts-editor").is_displayed(), WAIT)
    type_into(dash_duo, "metric", METRIC)
    Select(field(dash_duo, "reduce")).select_by_value("max")
    type_into(dash_duo, "window", "600")
    type_into(dash_duo, "warning", "50")
    type_into(dash_duo, "critical", "90")
    type_into(dash_duo, "critical_clear", "80")
    type_into(dash_duo, "for", "0")
    type_into(dash_duo, "summary", "{{ labels.host }} queue at {{ value }}")
    click(dash_duo, "#alerts-rule-preview")
    figure = until(
        lambda: (f := dash_duo.driver.execute_script(FIGURE)) and len(f["names"]) >= 2 and f,
        WAIT,
        msg="the preview shows no series and firing marks",
    )
    assert figure["names"][0] == f"host={host}"
    assert "fires critical" in figure["names"]
    assert sorted(figure["shapes"]) == [50, 90]
    assert "would have fired once" in feedback(dash_duo, "#alerts-preview-summary")
    dash_duo.driver.save_screenshot(f"{SHOTS}-editor.png")
    # Saving without a name names the field beside it.
    click(dash_duo, "#alerts-rule-save")
    name_error = '[id*=\'"field":"name"\'][id*="alerts-rule-error"]'
    assert feedback(dash_duo, name_error)
    type_into(dash_duo, "name", RULE)
    click(dash_duo, "#alerts-rule-save")
    until(lambda: not dash_duo.find_element("#alerts-editor").is_displayed(), WAIT)
    assert f"Saved rule {RULE}." in feedback(dash_duo, "#alerts-rules-feedback")
    until(lambda: any(r["name"] == RULE for r in grid_data(dash_duo, "alerts-rules-grid")), WAIT)


def stored_rule(app: dash.Dash) -> int:
    """The test's rule, stored directly; its id."""
    body = RuleBody(name=RULE, kind="metric", metric=METRIC, reduce="max", critical=90)
    return _runtime(app).alerts.create_rule(to_record(check(body)), "admin", time.time()).id


def test_rule_fires_is_acknowledged_silenced_and_a_channel_tested(
    dash_duo: DashComposite, alerts_app: dash.Dash, receiver: Receiver
) -> None:
    rt = _runtime(alerts_app)
    login(dash_duo, alerts_app)
    assert dash_duo.find_element("#nav-alerts-badge").text == "0"
    create_rule_with_preview(dash_duo, rt.settings.hostname)
    rule = next(r for r in rt.alerts.list_rules() if r.name == RULE)
    assert (rule.spec["metric"], rule.spec["reduce"], rule.spec["critical"]) == (METRIC, "max", 90)

    tab(dash_duo, "Open alerts")
    fire(alerts_app, rule.id)
    toast = dash_duo.wait_for_element("#alerts-toasts .alert-toast-critical", timeout=WAIT)
    assert RULE in toast.text and "97" in toast.text
    until(lambda: dash_duo.find_element("#nav-alerts-badge").text == "1", WAIT, msg="badge")
    [instance] = rt.alerts.open_instances()

    select_row(dash_duo, "alerts-open-grid", instance.id)
    until(lambda: dash_duo.find_element("#alerts-ack").is_enabled(), WAIT)
    dash_duo.find_element("#alerts-action-comment").send_keys("looking at the consumer")
    click(dash_duo, "#alerts-ack")
    assert feedback(dash_duo, "#alerts-action-feedback") == "Acknowledged."
    until(
        lambda: "looking at the consumer" in grid_data(dash_duo, "alerts-open-grid")[0]["ack"],
        WAIT,
    )
    assert rt.alerts.get_instance(instance.id).ack_comment == "looking at the consumer"

    click(dash_duo, "#alerts-silence-hour")
    silenced = "Silenced for 1 h."
    until(lambda: dash_duo.find_element("#alerts-action-feedback").text == silenced, WAIT)
    until(lambda: grid_data(dash_duo, "alerts-open-grid")[0]["silenced"] == "silenced", WAIT)
    [silence] = rt.alerts.list_silences(active_at=time.time())
    assert silence.matchers == {"alertname": RULE, "host": rt.settings.hostname}
    assert 3590 <= silence.ends_at - silence.starts_at <= 3610
    events = [e.event for e in rt.alerts.history(instance.id)]
    assert events[-2:] == ["acknowledged", "silenced"]
    shown = until(lambda: "silenced" in text_of(dash_duo, "#alerts-detail-history"), WAIT)
    assert shown and "acknowledged" in text_of(dash_duo, "#alerts-detail-history")
    dash_duo.driver.save_screenshot(f"{SHOTS}-open.png")

    tab(dash_duo, "History")
    until(
        lambda: [r["id"] for r in grid_data(dash_duo, "alerts-history-grid")] == [instance.id], WAIT
    )
    entries = list(csv.DictReader(io.StringIO(download(dash_duo, "#alerts-history-download-csv"))))
    assert [(e["rule"], e["event"]) for e in entries] == [
        (RULE, "firing"),
        (RULE, "acknowledged"),
        (RULE, "silenced"),
    ]
    assert entries[1]["reason"] == "looking at the consumer"
    dash_duo.driver.save_screenshot(f"{SHOTS}-history.png")
    severity = Select(dash_duo.find_element("#alerts-history-severity"))
    severity.select_by_value("warning")
    until(lambda: grid_data(dash_duo, "alerts-history-grid") == [], WAIT, msg="no filter")
    severity.select_by_value("critical")
    until(lambda: len(grid_data(dash_duo, "alerts-history-grid")) == 1, WAIT)

    tab(dash_duo, "Channels")
    dash_duo.wait_for_element("#alerts-channel-name").send_keys("ops hook")
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    dash_duo.find_element("#alerts-channel-url").send_keys(url)
    click(dash_duo, "#alerts-channel-save")
    assert feedback(dash_duo, "#alerts-channel-feedback") == "Saved channel ops hook."
    [channel] = rt.channels.list()
    select_row(dash_duo, "alerts-channels-grid", channel.id)
    click(dash_duo, "#alerts-channel-test")
    answer = dash_duo.wait_for_element("#alerts-channel-answer-box", timeout=WAIT).text
    assert "Delivered (status 200)" in answer and '{"received": true}' in answer
    [body] = receiver.bodies
    assert body["version"] == "4" and body["receiver"] == "ops hook"
    dash_duo.driver.save_screenshot(f"{SHOTS}-channels.png")

    assert console_messages(dash_duo) == []
    assert dash_duo.get_logs() == []


def test_open_alerts_fit_a_phone(dash_duo: DashComposite, alerts_app: dash.Dash) -> None:
    fire(alerts_app, stored_rule(alerts_app))
    driver = dash_duo.driver
    driver.set_window_size(390, 844)
    login(dash_duo, alerts_app)
    until(lambda: len(grid_data(dash_duo, "alerts-open-grid")) == 1, WAIT, msg="no open alert")
    until(lambda: driver.execute_script("return window.innerWidth") <= 400, 5)
    width = driver.execute_script("return window.innerWidth")
    scroll = driver.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= width + 1, f"page is {scroll}px wide in a {width}px window"
    driver.save_screenshot(f"{SHOTS}-phone.png")
    assert console_messages(dash_duo) == []
    assert dash_duo.get_logs() == []


def test_an_analyst_comments_and_reads_channels_masked(
    dash_duo: DashComposite, alerts_app: dash.Dash
) -> None:
    rt = _runtime(alerts_app)
    fire(alerts_app, stored_rule(alerts_app))
    [instance] = rt.alerts.open_instances()
    admin, _ = rt.accounts.credentials("admin")
    url = "http://127.0.0.1:9/hook/Tk4sEcReT99x"
    alert_channels.create_channel(
        rt, Actor(admin, None), {"name": "ops hook", "kind": "webhook", "url": url}, time.time()
    )
    rt.accounts.add_user("ana", "analyst", hash_password(ANALYST_PASSWORD))
    login(dash_duo, alerts_app, "ana", ANALYST_PASSWORD)
    until(lambda: dash_duo.find_element("#nav-alerts-badge").text == "1", WAIT, msg="badge")

    select_row(dash_duo, "alerts-open-grid", instance.id)
    until(lambda: dash_duo.find_element("#alerts-comment").is_enabled(), WAIT)
    dash_duo.find_element("#alerts-action-comment").send_keys("seen it")
    click(dash_duo, "#alerts-comment")
    assert feedback(dash_duo, "#alerts-action-feedback") == "Comment added."
    [entry] = [e for e in rt.alerts.history(instance.id) if e.event == "commented"]
    assert (entry.actor, entry.reason) == ("ana", "seen it")

    tab(dash_duo, "Rules")
    until(lambda: any(r["name"] == RULE for r in grid_data(dash_duo, "alerts-rules-grid")), WAIT)
    assert dash_duo.find_elements("#alerts-rule-new") == []
    assert dash_duo.find_elements("#alerts-editor") == []
    tab(dash_duo, "Channels")
    [row] = until(lambda: grid_data(dash_duo, "alerts-channels-grid"), WAIT)
    assert row["name"] == "ops hook" and "Tk4sEcReT99x" not in row["config"]
    assert dash_duo.find_elements("#alerts-channel-save") == []
    assert dash_duo.find_elements("#alerts-channel-test") == []
    tab(dash_duo, "Silences")
    until(lambda: grid_data(dash_duo, "alerts-silences-grid") == [], WAIT)
    dash_duo.driver.save_screenshot(f"{SHOTS}-silences.png")
    assert console_messages(dash_duo) == []
    assert dash_duo.get_logs() == []
