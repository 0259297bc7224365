"""The sections of the Diagnostics page, in tab order: key -> label and layout."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dash import html

from app.components.diagnostics import (
    activity,
    checks,
    endpoints,
    errors,
    indexes,
    redis,
    statements,
    timeline,
)


@dataclass(frozen=True)
class Section:
    """One tab: its label and the function building its content for an admin or not."""

    label: str
    layout: Callable[[bool], html.Div]


SECTIONS: dict[str, Section] = {
    "statements": Section("Statements", statements.layout),
    "activity": Section("Activity and locks", activity.layout),
    "indexes": Section("Indexes and tables", indexes.layout),
    "redis": Section("Redis", redis.layout),
    "endpoints": Section("Endpoints", endpoints.layout),
    "errors": Section("Errors", errors.layout),
    "checks": Section("Checks", checks.layout),
    "timeline": Section("Timeline", timeline.layout),
}
"""The page's tabs; ``?tab=<key>`` in the URL opens one."""
