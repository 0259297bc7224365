"""Settings: one's own account, password and tokens; for admins also users and the audit log."""

import dash
import dash_bootstrap_components as dbc
from dash import html

from app import ids
from app.auth import current_account
from app.components import settings as sections

dash.register_page(
    __name__, path="/settings", name="Settings", title="Pulseboard · Settings", order=90
)


def layout(**_query) -> html.Div:
    """The signed-in user's sections; admin sections are built for admins only."""
    account = current_account()
    if account is None:  # the guard sends anonymous visitors to /login first
        return html.Div()
    admin = account.role == "admin"
    page = [
        html.H4("Settings", className="mb-3"),
        dbc.Row(
            [
                dbc.Col(
                    [sections.account_section(account), sections.password_section()],
                    xs=12,
                    lg=4,
                ),
                dbc.Col(sections.tokens_section(account, admin), xs=12, lg=8),
            ],
            className="g-3",
        ),
    ]
    if admin:
        page += [sections.users_section(), sections.audit_section()]
    return html.Div(page, id=ids.SETTINGS_PAGE)
