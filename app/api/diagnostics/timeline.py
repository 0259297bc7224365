"""Diagnostics API · Timeline."""

from app.api.diagnostics.blueprint import bp  # noqa: F401
