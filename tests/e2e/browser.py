"""Helpers the browser tests share."""

from __future__ import annotations

import time

from dash.testing.composite import DashComposite
from selenium.common.exceptions import StaleElementReferenceException


def text_of(dash_duo: DashComposite, selector: str) -> str:
    """An element's text, read again if a redraw replaced the element meanwhile."""
    for _ in range(5):
        try:
            return dash_duo.find_element(selector).text
        except StaleElementReferenceException:
            time.sleep(0.1)
    return dash_duo.find_element(selector).text


CONSOLE_RECORDER = """
window.pulseboardConsole = [];
["warn", "error"].forEach(function (level) {
  const original = console[level].bind(console);
  console[level] = function () {
    const text = Array.prototype.map.call(arguments, String).join(" ");
    window.pulseboardConsole.push(level + ": " + text);
    original.apply(null, arguments);
  };
});
"""


def record_console(dash_duo: DashComposite) -> None:
    """Keep every console warning and error of the pages loaded from now on (the test
    browser's own log holds only errors)."""
    dash_duo.driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": CONSOLE_RECORDER}
    )


def console_messages(dash_duo: DashComposite) -> list[str]:
    """The console warnings and errors of the current page since it loaded."""
    return dash_duo.driver.execute_script("return window.pulseboardConsole || [];")
