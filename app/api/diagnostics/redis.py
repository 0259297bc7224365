"""Diagnostics API · Redis."""

from app.api.diagnostics.blueprint import bp  # noqa: F401
