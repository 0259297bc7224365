"""The time-range controls the Overview and Logs pages share: preset buttons and a
custom From/To range (UTC) with its Show button.

From and To are text inputs in ``YYYY-MM-DD HH:MM[:SS]``: a ``datetime-local`` picker
shows the browser's local, often 12-hour, format while every page speaks UTC.
"""

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


def custom_range(
    from_id: str,
    to_id: str,
    apply_id: str,
    seconds: bool = False,
    shown: tuple[str, str] | None = None,
) -> dbc.InputGroup:
    """From and To inputs (UTC, 24-hour) and the button that applies them; ``shown``: the
    values they start with."""
    placeholder = "YYYY-MM-DD HH:MM" + (":SS" if seconds else "")
    inputs = {
        "type": "text",
        "className": "range-input",
        "placeholder": placeholder,
        "autocomplete": "off",
    }
    return dbc.InputGroup(
        [
            dbc.InputGroupText("From", className="range-from"),
            dbc.Input(id=from_id, value=shown[0] if shown else None, **inputs),
            dbc.InputGroupText("to"),
            dbc.Input(id=to_id, value=shown[1] if shown else None, **inputs),
            dbc.InputGroupText("UTC"),
            dbc.Button("Show", id=apply_id, color="outline-primary"),
        ],
        size="sm",
        className="range-group",
    )
