"""An unknown address shows the console's own not-found page, inside the shell."""

from __future__ import annotations

import pytest
from dash.testing.composite import DashComposite

from tests.app import auth_helpers
from tests.e2e.test_overview import login

pytestmark = pytest.mark.browser


def test_an_unknown_address_shows_the_consoles_not_found_page(
    dash_duo: DashComposite, make_app
) -> None:
    app = make_app()
    dash_duo.start_server(app, navigate=False)
    login(dash_duo, app)
    dash_duo.driver.get(dash_duo.server.url + "/no/such/page")
    dash_duo.wait_for_text_to_equal("#not-found-path", "/no/such/page", timeout=10)
    page = dash_duo.find_element("#not-found-page")
    assert "404 - Page not found" not in page.text
    assert "This page does not exist" in page.text
    assert dash_duo.driver.title == "Pulseboard · Not found"
    # The shell stays: the navigation bar, and no link to the not-found page in it.
    assert [link.text for link in dash_duo.find_elements("#nav-collapse .nav-link")] == [
        "Overview",
        "Logs",
        "Alerts",
        "Diagnostics",
        "Settings",
    ]
    links = dash_duo.find_elements("#not-found-page .list-group-item")
    assert [(a.text, a.get_attribute("pathname")) for a in links] == [
        ("Overview", "/"),
        ("Logs", "/logs"),
        ("Alerts", "/alerts"),
        ("Diagnostics", "/diagnostics"),
        ("Settings", "/settings"),
    ]
    links[1].click()
    dash_duo.wait_for_element("#logs-page", timeout=10)
    # The one entry: the browser noting the address's own 404 status.
    status_note = f"{dash_duo.server.url}/no/such/page - Failed to load resource: the server "
    status_note += "responded with a status of 404 (NOT FOUND)"
    assert [e["message"] for e in dash_duo.get_logs()] == [status_note]


def test_an_unknown_address_answers_404_and_the_pages_200(make_app) -> None:
    client = auth_helpers.login(make_app(), "admin")
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/404").status_code == 404
    for page in ("/", "/logs", "/logs/", "/settings"):
        assert client.get(page).status_code == 200, page
