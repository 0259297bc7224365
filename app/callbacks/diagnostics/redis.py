"""Callbacks of the Diagnostics page · Redis."""

import dash


def register(app: dash.Dash) -> None:
    """Attach this section's callbacks to ``app``."""
