"""Pulseboard's web console. ``create_app`` (in ``app.factory``, the composition root)
builds the stores, bus, scheduler and Dash app.

The factory is imported on first use: ``pulseboard``'s command line and gunicorn's master
process import this package too, and need none of the console.
"""

from __future__ import annotations

FACTORY_NAMES = ("build_collectors", "build_runtime", "create_app", "delivery_context")


def __getattr__(name: str):
    """Load ``create_app`` and the factory's other public names when first asked for."""
    if name not in FACTORY_NAMES:
        raise AttributeError(f"module 'app' has no attribute {name!r}")
    from app import factory

    return getattr(factory, name)
