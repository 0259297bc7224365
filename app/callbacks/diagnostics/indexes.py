"""Callbacks of the Diagnostics page · Indexes and tables."""

import dash


def register(app: dash.Dash) -> None:
    """Attach this section's callbacks to ``app``."""
