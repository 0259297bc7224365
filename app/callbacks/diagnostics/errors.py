"""Callbacks of the Diagnostics page · Errors."""

import dash


def register(app: dash.Dash) -> None:
    """Attach this section's callbacks to ``app``."""
