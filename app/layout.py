"""The page shell: navigation bar, theme switch and the current page."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html
from flask import session

from app import ids
from app.auth import current_account

ALERTS_PATH = "/alerts"
BADGE_POLL_MS = 60_000
"""How often the open-alerts badge is counted again, besides on every alert event."""
NOT_FOUND_MODULE = "not_found_404"
"""Dash's name for the not-found page: it is shown for unknown addresses, not linked."""


def logout_form() -> html.Form:
    """Log out: a POST carrying the session's CSRF token, so no other site can."""
    return html.Form(
        [
            dcc.Input(type="hidden", name="csrf_token", value=session.get("csrf", "")),
            html.Button(
                "Log out",
                id=ids.NAV_LOGOUT,
                type="submit",
                className="btn btn-outline-secondary btn-sm",
            ),
        ],
        method="post",
        action="/logout",
        className="mb-0",
    )


def nav_item(page: dict) -> dbc.NavItem:
    """A page's link; the Alerts link has the count of open alerts beside it."""
    link = dbc.NavLink(page["name"], href=page["relative_path"], active="exact")
    if page["relative_path"] != ALERTS_PATH:
        return dbc.NavItem(link)
    badge = dbc.Badge("", id=ids.NAV_ALERTS_BADGE, color="secondary", pill=True, className="ms-1")
    return dbc.NavItem([link, badge], className="d-flex align-items-center")


def navbar() -> dbc.Navbar:
    """Brand, a link per page, the theme switch and the signed-in user."""
    account = current_account()
    links = [
        nav_item(page)
        for page in dash.page_registry.values()
        if page["module"].rsplit(".", 1)[-1] != NOT_FOUND_MODULE
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand([html.I(className="bi bi-activity me-2"), "Pulseboard"], href="/"),
                dbc.NavbarToggler(id=ids.NAV_TOGGLER),
                dbc.Collapse(
                    [
                        dbc.Nav(links, navbar=True, className="me-auto"),
                        dbc.Switch(
                            id=ids.THEME_SWITCH,
                            label="Dark",
                            value=False,
                            className="me-3 mb-0 text-body",
                        ),
                        html.Span(
                            account.name if account else "",
                            id=ids.NAV_USER,
                            className="me-3 text-body-secondary small",
                        ),
                        logout_form(),
                    ],
                    id=ids.NAV_COLLAPSE,
                    navbar=True,
                ),
            ],
            fluid=True,
        ),
        color="body-tertiary",
        dark=False,
        className="mb-3 border-bottom",
    )


def shell() -> html.Div:
    """The layout around every page."""
    return html.Div(
        [
            dcc.Store(id=ids.THEME_STORE, storage_type="local"),
            # The alerts stream's last message (assets/pulseboard-alerts.js): badge and views.
            dcc.Store(id=ids.ALERTS_LIVE),
            dcc.Interval(id=ids.ALERTS_BADGE_POLL, interval=BADGE_POLL_MS),
            navbar(),
            dbc.Container(dash.page_container, fluid=True, className="pb-4"),
        ]
    )
