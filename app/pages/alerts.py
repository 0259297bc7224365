"""Alerts: open alerts first with their actions, then history, rules and the rule editor
with its preview, channels with the delivery log, and silences."""

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids
from app.auth import current_account
from app.components import alerts as parts

dash.register_page(__name__, path="/alerts", name="Alerts", title="Pulseboard · Alerts", order=20)


def layout(**_query) -> html.Div:
    """The tabs; admin-only controls are built for admins only."""
    account = current_account()
    if account is None:  # the guard sends anonymous visitors to /login first
        return html.Div()
    admin = account.role == "admin"
    rules_tab = [parts.rules_tab(admin)]
    if admin:
        rules_tab.append(parts.editor())
    return html.Div(
        [
            html.H4("Alerts", className="mb-3"),
            html.Div(id=ids.ALERTS_FEEDBACK),
            dbc.Tabs(
                [
                    dbc.Tab(parts.open_tab(), label="Open alerts", tab_id="open"),
                    dbc.Tab(parts.history_tab(), label="History", tab_id="history"),
                    dbc.Tab(html.Div(rules_tab), label="Rules", tab_id="rules"),
                    dbc.Tab(parts.channels_tab(admin), label="Channels", tab_id="channels"),
                    dbc.Tab(parts.silences_tab(), label="Silences", tab_id="silences"),
                ],
                id=ids.ALERTS_TABS,
                active_tab="open",
            ),
            parts.alert_panel(),
            dcc.Store(id=ids.ALERTS_SELECTED),
        ],
        id=ids.ALERTS_PAGE,
    )
