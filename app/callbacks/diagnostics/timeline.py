"""Callbacks of the Diagnostics page · Timeline."""

import dash


def register(app: dash.Dash) -> None:
    """Attach this section's callbacks to ``app``."""
