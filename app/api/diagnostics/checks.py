"""Diagnostics API · Checks."""

from app.api.diagnostics.blueprint import bp  # noqa: F401
