"""Health cards coloured by status.

A card's DOM stays put; callbacks update only its value, detail and ``data-status``, and
the colour follows ``data-status`` in CSS, so live updates never rebuild the cards.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Output, html

from app.services.overview import Card


def card_id(key: str, part: str = "") -> str:
    """Id of a card (``part`` empty) or of its ``value`` / ``detail`` line."""
    return f"overview-card-{key}" + (f"-{part}" if part else "")


def health_card(key: str, title: str) -> dbc.Col:
    """An empty card waiting for its first value."""
    return dbc.Col(
        html.Div(
            dbc.Card(
                dbc.CardBody(
                    [
                        html.Div(title, className="card-title text-body-secondary small mb-1"),
                        html.Div(
                            "—", className="fs-4 fw-semibold card-value", id=card_id(key, "value")
                        ),
                        html.Div(
                            "no data yet",
                            className="small text-body-secondary text-truncate",
                            id=card_id(key, "detail"),
                        ),
                    ]
                ),
                className="h-100 border-2 health-card",
            ),
            id=card_id(key),
            className="h-100",
            **{"data-status": "unknown"},
        )
    )


def card_outputs(keys: tuple[str, ...]) -> list[Output]:
    """The outputs a card update writes: value, detail and status of each card."""
    return [
        Output(card_id(key, part), prop)
        for key in keys
        for part, prop in (("value", "children"), ("detail", "children"), ("", "data-status"))
    ]


def card_values(cards: list[Card]) -> list[str]:
    """Values for ``card_outputs``, in the same order."""
    return [v for card in cards for v in (card.value, card.detail, card.status)]
