"""Callbacks of the Diagnostics page · Activity and locks."""

import dash


def register(app: dash.Dash) -> None:
    """Attach this section's callbacks to ``app``."""
