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
