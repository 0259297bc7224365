"""Health cards coloured by status."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from app.services.overview import Card

STATUS_COLOURS = {"ok": "success", "degraded": "warning", "down": "danger", "unknown": "secondary"}


def health_card(card: Card) -> dbc.Col:
    """One card: title, big value, detail line; border and value in the status colour."""
    colour = STATUS_COLOURS.get(card.status, "secondary")
    return dbc.Col(
        html.Div(
            dbc.Card(
                dbc.CardBody(
                    [
                        html.Div(card.title, className="card-title text-body-secondary small mb-1"),
                        html.Div(
                            card.value,
                            className=f"fs-4 fw-semibold text-{colour}",
                            id=f"overview-card-{card.key}-value",
                        ),
                        html.Div(
                            card.detail,
                            className="small text-body-secondary text-truncate",
                            title=card.detail,
                        ),
                    ]
                ),
                className=f"h-100 border-{colour} border-2 health-card",
            ),
            id=f"overview-card-{card.key}",
            className="h-100",
            **{"data-status": card.status},
        ),
    )
