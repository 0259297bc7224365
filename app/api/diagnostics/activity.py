"""Diagnostics API · Activity and locks."""

from app.api.diagnostics.blueprint import bp  # noqa: F401
