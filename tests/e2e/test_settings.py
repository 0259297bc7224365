"""The Settings page in Chromium: users, tokens and audit for admins; analysts see their own."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dash
import pytest
import requests
from dash.testing.composite import DashComposite
from dash.testing.wait import until
from selenium.webdriver.support.select import Select

from app.auth import hash_password
from app.runtime import Runtime
from tests.e2e.browser import console_messages, record_console

pytestmark = pytest.mark.browser

# Set PULSEBOARD_SCREENSHOTS to a directory to keep admin, analyst and phone screenshots.
SHOTS = os.environ.get("PULSEBOARD_SCREENSHOTS")
HOSTILE = "<script>alert(1)</script>"
ANALYST_PASSWORD = "analyst-pass-1"

GRID_ROWS = """
const rows = document.querySelectorAll(arguments[0] + ' .ag-center-cols-container .ag-row');
return Array.from(rows)
  .sort(function (a, b) { return a.getAttribute('row-index') - b.getAttribute('row-index'); })
  .map(function (row) {
    const cells = {};
    row.querySelectorAll('.ag-cell').forEach(function (c) {
      cells[c.getAttribute('col-id')] = c.textContent;
    });
    return cells;
  });
"""

ALERT_TEXT = "const a = document.querySelector(arguments[0]); return a ? a.textContent : null;"
DISPLAYED_ROWS = "return dash_ag_grid.getApi(arguments[0]).getDisplayedRowCount();"


def _runtime(app: dash.Dash) -> Runtime:
    return app.server.extensions["pulseboard"]


@pytest.fixture
def settings_app(dash_duo: DashComposite, make_app) -> dash.Dash:
    """A running app (no scheduler) with its first admin."""
    app = make_app()
    dash_duo.start_server(app, navigate=False)
    return app


def login(dash_duo: DashComposite, name: str, password: str) -> None:
    """Log in through the real form, then open Settings from the navbar."""
    dash_duo.driver.get(dash_duo.server.url + "/login")
    dash_duo.wait_for_element("#login-name").send_keys(name)
    dash_duo.find_element("#login-password").send_keys(password)
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_element("#nav-logout", timeout=10)
    dash_duo.find_element("a.nav-link[href='/settings']").click()
    dash_duo.wait_for_element("#settings-account", timeout=10)
    assert urlsplit(dash_duo.driver.current_url).path == "/settings"


def login_admin(dash_duo: DashComposite, app: dash.Dash) -> None:
    """Log in as ``admin`` and wait until the users grid shows them."""
    login(dash_duo, "admin", _runtime(app).settings.admin_password)
    until(lambda: grid_rows(dash_duo, "settings-users-grid"), 10, msg="users grid stays empty")


def logout(dash_duo: DashComposite) -> None:
    """Log out with the navbar's POST form."""
    click(dash_duo, "#nav-logout")
    dash_duo.wait_for_element("#login-submit", timeout=10)
    assert urlsplit(dash_duo.driver.current_url).path == "/login"


def grid_rows(dash_duo: DashComposite, grid_id: str) -> list[dict[str, str]]:
    """The rows a grid shows, as {column: cell text}."""
    return dash_duo.driver.execute_script(GRID_ROWS, f"#{grid_id}")


def wait_for_row(dash_duo: DashComposite, grid_id: str, **cells: str) -> dict[str, str]:
    """Wait until a row with these cell texts shows in the grid; return it."""

    def found():
        rows = grid_rows(dash_duo, grid_id)
        return next((r for r in rows if all(r.get(k) == v for k, v in cells.items())), None)

    return until(found, 10, msg=f"no row {cells} in {grid_id}")


def click_row(dash_duo: DashComposite, grid_id: str, column: str, text: str) -> None:
    """Select the grid row whose ``column`` shows ``text``."""
    wait_for_row(dash_duo, grid_id, **{column: text})
    for cell in dash_duo.find_elements(f"#{grid_id} .ag-center-cols-container [col-id={column}]"):
        if cell.text == text:
            cell.click()
            break
    dash_duo.wait_for_element(f"#{grid_id} .ag-row-selected", timeout=5)


def click(dash_duo: DashComposite, selector: str) -> None:
    """Scroll an element to the middle of the window and click it."""
    element = dash_duo.find_element(selector)
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element
    )
    element.click()


def type_into(dash_duo: DashComposite, selector: str, text: str) -> None:
    """Replace the text of an input box."""
    box = dash_duo.find_element(selector)
    box.clear()
    box.send_keys(text)


def feedback(dash_duo: DashComposite, box: str, colour: str) -> str:
    """The text of the success or danger alert in a feedback box, once there is one."""
    return until(
        lambda: dash_duo.driver.execute_script(ALERT_TEXT, f"#{box} .alert-{colour}"),
        10,
        msg=f"no {colour} alert in {box}",
    )


def add_user(dash_duo: DashComposite, name: str, role: str, password: str) -> None:
    """Fill and send the add-user form."""
    type_into(dash_duo, "#settings-add-name", name)
    Select(dash_duo.find_element("#settings-add-role")).select_by_value(role)
    type_into(dash_duo, "#settings-add-password", password)
    click(dash_duo, "#settings-add-submit")


def create_token(dash_duo: DashComposite, owner_label: str | None, name: str) -> str:
    """Create a token in the form; return the value shown in the one-time box."""
    if owner_label is not None:
        owner = dash_duo.find_element("#settings-token-user")
        until(
            lambda: owner_label in [o.text for o in Select(owner).options],
            10,
            msg=f"{owner_label} is not offered",
        )
        Select(owner).select_by_visible_text(owner_label)
    type_into(dash_duo, "#settings-token-name", name)
    click(dash_duo, "#settings-token-submit")
    return dash_duo.wait_for_element("#settings-token-value", timeout=10).text


def me(dash_duo: DashComposite, token: str) -> requests.Response:
    """``GET /api/v1/admin/me`` with a bearer token."""
    return requests.get(
        dash_duo.server.url + "/api/v1/admin/me",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def user_names(app: dash.Dash) -> list[str]:
    return [a.name for a in _runtime(app).accounts.list_users()]


def test_admin_creates_analyst_and_token_shown_once(
    dash_duo: DashComposite, settings_app: dash.Dash
) -> None:
    login_admin(dash_duo, settings_app)
    assert wait_for_row(dash_duo, "settings-users-grid", name="admin")["role"] == "admin"

    add_user(dash_duo, "ana", "analyst", ANALYST_PASSWORD)
    assert "Created user ana (analyst)" in feedback(dash_duo, "settings-add-feedback", "success")
    row = wait_for_row(dash_duo, "settings-users-grid", name="ana")
    assert (row["role"], row["disabled"]) == ("analyst", "no")
    assert dash_duo.find_element("#settings-add-password").get_attribute("value") == ""

    token = create_token(dash_duo, "ana (analyst)", "ci runner")
    assert token.startswith("pb_")
    once = dash_duo.find_element("#settings-token-once").text
    assert "it will not be shown again" in once
    assert dash_duo.find_elements("#settings-token-once .token-copy"), "no copy button"
    wait_for_row(dash_duo, "settings-tokens-grid", user="ana", name="ci runner", revoked="no")
    # The value is in the one-time box and nowhere else on the page.
    assert dash_duo.driver.page_source.count(token) == 1

    answer = me(dash_duo, token)
    assert answer.status_code == 200
    assert (answer.json()["name"], answer.json()["role"]) == ("ana", "analyst")

    click(dash_duo, "#settings-token-done")
    until(lambda: token not in dash_duo.driver.page_source, 5, msg="the token stays on the page")
    dash_duo.driver.refresh()
    wait_for_row(dash_duo, "settings-tokens-grid", name="ci runner")
    assert token not in dash_duo.driver.page_source
    wait_for_row(dash_duo, "settings-audit-grid", action="token.create", target="ana")
    assert dash_duo.get_logs() == []


def test_bad_new_user_input_is_refused_with_a_clear_error(
    dash_duo: DashComposite, settings_app: dash.Dash
) -> None:
    rt = _runtime(settings_app)
    rt.accounts.audit(
        "note", actor="admin", target=HOSTILE, details={"html": "<img src=x onerror=alert(2)>"}
    )
    login_admin(dash_duo, settings_app)
    before = user_names(settings_app)

    add_user(dash_duo, "bob", "analyst", "short")
    message = feedback(dash_duo, "settings-add-feedback", "danger")
    assert "password must be 8 to 1024 characters" in message.lower()
    assert dash_duo.find_element("#settings-add-password").get_attribute("value") == ""

    add_user(dash_duo, HOSTILE, "admin", "long-enough-password")
    until(
        lambda: (
            "user name must be 1-64 characters"
            in feedback(dash_duo, "settings-add-feedback", "danger").lower()
        ),
        10,
        msg="no user name error",
    )
    assert user_names(settings_app) == before
    assert not rt.accounts.list_audit(action="user.create")

    # Text from the database is shown as text: the hostile audit entry renders literally.
    row = wait_for_row(dash_duo, "settings-audit-grid", action="note")
    assert row["target"] == HOSTILE
    assert row["details"] == '{"html":"<img src=x onerror=alert(2)>"}'
    assert dash_duo.find_elements("#settings-audit-grid img, #settings-audit-grid script") == []
    assert dash_duo.get_logs() == []


def test_revoked_token_is_marked_and_refused(
    dash_duo: DashComposite, settings_app: dash.Dash
) -> None:
    rt = _runtime(settings_app)
    ana = rt.accounts.add_user("ana", "analyst", None)
    _, token = rt.accounts.create_token(ana.id, "deploy")
    assert me(dash_duo, token).status_code == 200
    login_admin(dash_duo, settings_app)

    click_row(dash_duo, "settings-tokens-grid", "name", "deploy")
    click(dash_duo, "#settings-token-revoke")
    assert "Revoked token deploy" in feedback(dash_duo, "settings-token-feedback", "success")
    until(
        lambda: wait_for_row(dash_duo, "settings-tokens-grid", name="deploy")["revoked"] != "no",
        10,
        msg="the token is not marked revoked",
    )
    assert me(dash_duo, token).status_code == 401
    wait_for_row(dash_duo, "settings-audit-grid", action="token.revoke", target="ana")
    assert dash_duo.get_logs() == []


def test_analyst_sees_only_their_own_account(
    dash_duo: DashComposite, settings_app: dash.Dash
) -> None:
    rt = _runtime(settings_app)
    admin = rt.accounts.credentials("admin")[0]
    rt.accounts.create_token(admin.id, "admin only")
    login_admin(dash_duo, settings_app)
    add_user(dash_duo, "ana", "analyst", ANALYST_PASSWORD)
    feedback(dash_duo, "settings-add-feedback", "success")
    if SHOTS:
        dash_duo.driver.save_screenshot(str(Path(SHOTS) / "settings-admin.png"))
    logout(dash_duo)

    login(dash_duo, "ana", ANALYST_PASSWORD)
    account = dash_duo.find_element("#settings-account").text
    assert "ana" in account and "analyst" in account
    for absent in (
        "#settings-users-grid",
        "#settings-add-name",
        "#settings-add-submit",
        "#settings-audit-grid",
        "#settings-user-role",
    ):
        assert dash_duo.driver.find_elements("css selector", absent) == [], absent
    for present in ("#settings-tokens-grid", "#settings-password-new", "#settings-token-name"):
        dash_duo.wait_for_element(present)
    owner = dash_duo.find_element("#settings-token-user")
    assert not owner.is_enabled()
    assert [o.text for o in Select(owner).options if o.text] == ["ana (analyst)"]
    assert Select(owner).first_selected_option.text == "ana (analyst)"

    token = create_token(dash_duo, None, "my laptop")
    assert me(dash_duo, token).json()["name"] == "ana"
    wait_for_row(dash_duo, "settings-tokens-grid", name="my laptop")
    assert [r["name"] for r in grid_rows(dash_duo, "settings-tokens-grid")] == ["my laptop"]

    type_into(dash_duo, "#settings-password-current", "wrong-password")
    type_into(dash_duo, "#settings-password-new", "new-analyst-pass")
    type_into(dash_duo, "#settings-password-repeat", "new-analyst-pass")
    click(dash_duo, "#settings-password-submit")
    message = feedback(dash_duo, "settings-password-feedback", "danger")
    assert "current password is not your current password" in message.lower()
    type_into(dash_duo, "#settings-password-current", ANALYST_PASSWORD)
    type_into(dash_duo, "#settings-password-new", "new-analyst-pass")
    type_into(dash_duo, "#settings-password-repeat", "new-analyst-pass")
    click(dash_duo, "#settings-password-submit")
    assert "password was changed" in feedback(dash_duo, "settings-password-feedback", "success")
    for box in ("current", "new", "repeat"):
        assert dash_duo.find_element(f"#settings-password-{box}").get_attribute("value") == ""
    if SHOTS:
        dash_duo.driver.save_screenshot(str(Path(SHOTS) / "settings-analyst.png"))
    assert dash_duo.get_logs() == []


def _add_user_request(app: dash.Dash, name: str) -> dict:
    """The body Dash sends for the admin-only add-user callback."""
    output = next(key for key in app.callback_map if "settings-add-feedback.children" in key)
    outputs = [
        {"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1].split("@")[0]}
        for part in output.strip(".").split("...")
    ]
    return {
        "output": output,
        "outputs": outputs,
        "inputs": [{"id": "settings-add-submit", "property": "n_clicks", "value": 1}],
        "changedPropIds": ["settings-add-submit.n_clicks"],
        "state": [
            {"id": "settings-add-name", "property": "value", "value": name},
            {"id": "settings-add-role", "property": "value", "value": "admin"},
            {"id": "settings-add-password", "property": "value", "value": "forged-password-1"},
        ],
    }


def _post_as_browser(dash_duo: DashComposite, body: dict) -> requests.Response:
    """POST a callback with the browser's session cookie and CSRF header."""
    cookies = {c["name"]: c["value"] for c in dash_duo.driver.get_cookies()}
    return requests.post(
        dash_duo.server.url + "/_dash-update-component",
        json=body,
        cookies=cookies,
        headers={"X-CSRFToken": cookies["_csrf_token"]},
        timeout=10,
    )


def test_forged_admin_callback_is_refused_for_analyst(
    dash_duo: DashComposite, settings_app: dash.Dash
) -> None:
    rt = _runtime(settings_app)
    rt.accounts.add_user("ana", "analyst", None)
    login_admin(dash_duo, settings_app)
    # The same request from the admin's session is well-formed and works.
    assert _post_as_browser(dash_duo, _add_user_request(settings_app, "by-admin")).ok
    assert "by-admin" in user_names(settings_app)
    logout(dash_duo)

    rt.accounts.update_user(
        rt.accounts.credentials("ana")[0].id, password_hash=hash_password(ANALYST_PASSWORD)
    )
    login(dash_duo, "ana", ANALYST_PASSWORD)
    before = user_names(settings_app)
    audit_before = len(rt.accounts.list_audit(action="user."))
    answer = _post_as_browser(dash_duo, _add_user_request(settings_app, "mallory"))
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"
    assert user_names(settings_app) == before
    assert "mallory" not in user_names(settings_app)
    assert len(rt.accounts.list_audit(action="user.")) == audit_before
    assert dash_duo.get_logs() == []


def displayed_rows(dash_duo: DashComposite, grid_id: str) -> int:
    """How many rows a grid holds (the DOM has only those scrolled into view)."""
    return dash_duo.driver.execute_script(DISPLAYED_ROWS, grid_id)


def test_audit_filters_and_loads_more(dash_duo: DashComposite, settings_app: dash.Dash) -> None:
    rt = _runtime(settings_app)
    for number in range(70):
        rt.accounts.audit("note", actor="robot", target=f"t{number}", details={"n": number})
    record_console(dash_duo)
    login_admin(dash_duo, settings_app)
    until(lambda: displayed_rows(dash_duo, "settings-audit-grid") == 50, 10, msg="no first page")
    newest = wait_for_row(dash_duo, "settings-audit-grid", target="t69")
    assert newest == {
        "time": newest["time"],
        "actor": "robot",
        "action": "note",
        "target": "t69",
        "from": "",
        "details": '{"n":69}',
    }

    type_into(dash_duo, "#settings-audit-actor", "robot\n")
    type_into(dash_duo, "#settings-audit-action", "note\n")
    until(lambda: grid_rows(dash_duo, "settings-audit-grid")[0]["target"] == "t69", 10)
    until(lambda: displayed_rows(dash_duo, "settings-audit-grid") == 50, 10)
    more = dash_duo.find_element("#settings-audit-more")
    assert more.is_enabled()
    click(dash_duo, "#settings-audit-more")
    until(lambda: displayed_rows(dash_duo, "settings-audit-grid") == 70, 10, msg="no next page")
    until(lambda: not more.is_enabled(), 5, msg="load more stays enabled at the end")

    type_into(dash_duo, "#settings-audit-actor", "nobody\n")
    until(lambda: displayed_rows(dash_duo, "settings-audit-grid") == 0, 10, msg="filter ignored")
    # No grid warnings either (row ids are strings), which the browser log would not show.
    assert [m for m in console_messages(dash_duo) if "AG Grid" in m] == []
    assert dash_duo.get_logs() == []


def download_link(dash_duo: DashComposite, fmt: str) -> dict[str, list[str]]:
    """The query string of an audit download link."""
    href = dash_duo.find_element(f"#settings-audit-download-{fmt}").get_attribute("href")
    assert urlsplit(href).path == "/api/v1/admin/audit/export"
    return parse_qs(urlsplit(href).query)


def test_audit_downloads_carry_the_grid_filters(
    dash_duo: DashComposite, settings_app: dash.Dash, tmp_path: Path
) -> None:
    rt = _runtime(settings_app)
    for number in range(12):
        actor = "robot-a" if number % 3 else "robot-b"
        action = "note.kept" if number % 2 else "other"
        rt.accounts.audit(action, actor=actor, target=f"t,{number}", details={"n": number})
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    dash_duo.driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    login_admin(dash_duo, settings_app)
    assert download_link(dash_duo, "csv") == {"format": ["csv"]}

    type_into(dash_duo, "#settings-audit-actor", "robot-a\n")
    type_into(dash_duo, "#settings-audit-action", "note.\n")
    until(
        lambda: (
            download_link(dash_duo, "json")
            == {"actor": ["robot-a"], "action": ["note."], "format": ["json"]}
        ),
        10,
        msg="the JSON link does not carry the filters",
    )
    assert download_link(dash_duo, "csv") == {
        "actor": ["robot-a"],
        "action": ["note."],
        "format": ["csv"],
    }
    shown = until(
        lambda: (
            [r["target"] for r in grid_rows(dash_duo, "settings-audit-grid")]
            if displayed_rows(dash_duo, "settings-audit-grid") == 4
            else None
        ),
        10,
        msg="the grid does not show the four matching entries",
    )

    click(dash_duo, "#settings-audit-download-csv")
    name = until(
        lambda: next((p.name for p in downloads.iterdir() if p.suffix == ".csv"), None),
        10,
        msg="no CSV downloaded",
    )
    assert name.startswith("pulseboard-audit-start-")
    with (downloads / name).open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    # The file holds what the grid shows, in its order.
    assert [r["target"] for r in rows] == shown
    assert {(r["actor"], r["action"]) for r in rows} == {("robot-a", "note.kept")}
    assert [json.loads(r["details"])["n"] for r in rows] == [11, 7, 5, 1]
    assert urlsplit(dash_duo.driver.current_url).path == "/settings"
    assert dash_duo.get_logs() == []


def test_settings_fit_a_phone(dash_duo: DashComposite, settings_app: dash.Dash) -> None:
    login_admin(dash_duo, settings_app)
    driver = dash_duo.driver
    driver.set_window_size(390, 844)
    until(lambda: driver.execute_script("return window.innerWidth") <= 400, 5)
    token = create_token(dash_duo, "admin (admin)", "phone")
    box = dash_duo.find_element("#settings-token-once").rect
    assert box["x"] >= 0 and box["x"] + box["width"] <= 391, f"the token box overflows: {box}"
    assert dash_duo.find_element("#settings-token-value").text == token
    width = driver.execute_script("return window.innerWidth")
    scroll = driver.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= width + 1, f"page is {scroll}px wide in a {width}px window"
    for grid in ("settings-users-grid", "settings-tokens-grid", "settings-audit-grid"):
        box = driver.execute_script(
            "const r = document.getElementById(arguments[0]).getBoundingClientRect();"
            "return [r.left, r.right];",
            grid,
        )
        assert box[0] >= 0 and box[1] <= width + 1, f"{grid} overflows: {box}"
    if SHOTS:
        driver.save_screenshot(str(Path(SHOTS) / "settings-phone.png"))
    assert dash_duo.get_logs() == []
