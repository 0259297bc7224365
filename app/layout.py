"""The page shell: navigation bar, theme switch and the current page."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids
from app.auth import current_account


def navbar() -> dbc.Navbar:
    """Brand, a link per page, the theme switch and the signed-in user."""
    account = current_account()
    links = [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact"))
        for page in dash.page_registry.values()
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand([html.I(className="bi bi-activity me-2"), "Pulseboard"], href="/"),
                dbc.NavbarToggler(id="nav-toggler"),
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
                        html.A(
                            "Log out", href="/logout", className="btn btn-outline-secondary btn-sm"
                        ),
                    ],
                    id="nav-collapse",
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
            navbar(),
            dbc.Container(dash.page_container, fluid=True, className="pb-4"),
        ]
    )
