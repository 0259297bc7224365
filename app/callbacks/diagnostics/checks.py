"""Callbacks of the Diagnostics page · Checks."""

import dash


def register(app: dash.Dash) -> None:
    """Attach this section's callbacks to ``app``."""
