"""A small download menu: one item per format (CSV, JSON) beside a chart's or table's
title."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

FORMATS = ("csv", "json")


def download_menu(item_ids: dict[str, str], links: bool = True) -> dbc.DropdownMenu:
    """A menu of ``format -> component id`` items: anchors whose ``href`` a callback sets
    (the browser streams the file to disk), or with ``links`` false buttons whose
    ``n_clicks`` a callback answers."""
    if links:
        items = [
            html.A(fmt.upper(), id=item_id, className="dropdown-item", download="", href="")
            for fmt, item_id in item_ids.items()
        ]
    else:
        items = [
            dbc.DropdownMenuItem(fmt.upper(), id=item_id, n_clicks=0)
            for fmt, item_id in item_ids.items()
        ]
    return dbc.DropdownMenu(
        items,
        label=html.I(className="bi bi-download", title="Download"),
        size="sm",
        color="link",
        align_end=True,
        caret=False,
        className="download-menu",
    )
