"""Dash callbacks, one module per page; ``register_all`` attaches them to an app."""

import dash

from app.callbacks import alerts, diagnostics, logs, overview, settings, shell


def register_all(app: dash.Dash) -> None:
    """Attach every page's callbacks to ``app``."""
    shell.register(app)
    overview.register(app)
    settings.register(app)
    logs.register(app)
    alerts.register(app)
    diagnostics.register(app)
