"""Diagnostics API · Errors."""

from app.api.diagnostics.blueprint import bp  # noqa: F401
