"""Diagnostics API · Indexes and tables."""

from app.api.diagnostics.blueprint import bp  # noqa: F401
