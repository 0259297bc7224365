"""The time-range controls the Overview and Logs pages share: preset buttons and a
custom From/To range (UTC) with its Show button."""

from __future__ import annotations

import dash_bootstrap_components as dbc


def preset_picker(component_id: str, presets, default: str) -> dbc.RadioItems:
    """One joined button group of range presets (``15m``, ``1h``, ...)."""
    # Not ``inline``: form-check-inline adds a margin and padding per option, which
    # overflowed phone screens.
    return dbc.RadioItems(
        id=component_id,
        options=[{"label": key, "value": key} for key in presets],
        value=default,
        className="btn-group btn-group-sm range-picker",
        inputClassName="btn-check",
        labelClassName="btn btn-outline-primary",
        labelCheckedClassName="active",
    )


def custom_range(from_id: str, to_id: str, apply_id: str, seconds: bool = False) -> dbc.InputGroup:
    """From and To inputs (UTC) and the button that applies them."""
    step = {"step": 1} if seconds else {}
    return dbc.InputGroup(
        [
            dbc.InputGroupText("From"),
            dbc.Input(id=from_id, type="datetime-local", className="range-input", **step),
            dbc.InputGroupText("to"),
            dbc.Input(id=to_id, type="datetime-local", className="range-input", **step),
            dbc.Button("Show", id=apply_id, color="outline-primary"),
        ],
        size="sm",
    )
