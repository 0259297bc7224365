"""Overview: health cards and live system charts."""

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids
from app.components.cards import health_card
from app.services.overview import CARD_TITLES, DEFAULT_RANGE, RANGES

dash.register_page(__name__, path="/", name="Overview", title="Pulseboard · Overview", order=0)

REFRESH_MS = 30_000


def layout(**_query) -> html.Div:
    """Range picker, health cards, four charts, the refresh timer and the live store."""
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col(html.H4("Overview", className="mb-0"), width="auto"),
                    dbc.Col(
                        # One joined button group: not ``inline`` (form-check-inline adds a
                        # margin and padding per option, which overflowed phone screens).
                        dbc.RadioItems(
                            id=ids.OVERVIEW_RANGE,
                            options=[{"label": key, "value": key} for key in RANGES],
                            value=DEFAULT_RANGE,
                            className="btn-group btn-group-sm range-picker",
                            inputClassName="btn-check",
                            labelClassName="btn btn-outline-primary",
                            labelCheckedClassName="active",
                        ),
                        width="auto",
                    ),
                    dbc.Col(
                        [
                            dbc.Badge(
                                "connecting",
                                id=ids.OVERVIEW_LIVE_STATUS,
                                color="secondary",
                                className="me-2",
                            ),
                            html.Small(id=ids.OVERVIEW_UPDATED, className="text-body-secondary"),
                        ],
                        className="ms-md-auto",
                        width="auto",
                    ),
                ],
                className="g-2 align-items-center mb-3",
            ),
            dbc.Alert(id=ids.OVERVIEW_ERROR, color="danger", is_open=False),
            dbc.Row(
                [health_card(key, title) for key, title in CARD_TITLES],
                id=ids.OVERVIEW_CARDS,
                className="row-cols-2 row-cols-md-4 row-cols-xl-7 g-2 mb-3",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Card(
                            dcc.Graph(
                                id=chart_id,
                                config={"displaylogo": False, "responsive": True},
                                className="overview-chart",
                            ),
                            body=True,
                            className="h-100",
                        ),
                        xs=12,
                        lg=6,
                        className="mb-3",
                    )
                    for chart_id in ids.OVERVIEW_CHARTS
                ],
                className="g-2",
            ),
            dcc.Interval(id=ids.OVERVIEW_REFRESH, interval=REFRESH_MS),
            dcc.Store(id=ids.OVERVIEW_LIVE),
        ]
    )
