"""Diagnostics API · Statements."""

from app.api.diagnostics.blueprint import bp  # noqa: F401
