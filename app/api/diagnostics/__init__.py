"""Diagnostics API (DIAGNOSTICS.md): one module per section, all on one blueprint."""

from app.api.diagnostics import (  # noqa: F401  (importing a module adds its routes)
    activity,
    checks,
    endpoints,
    errors,
    indexes,
    redis,
    statements,
    timeline,
)
from app.api.diagnostics.blueprint import bp

__all__ = ["bp"]
