"""Diagnostics API · Endpoints."""

from app.api.diagnostics.blueprint import bp  # noqa: F401
