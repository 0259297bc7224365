"""Silences: which alerts they match and when they mute them.

A silence's ``matchers`` name the rule (``alertname``) and label values, all compared
exactly; it mutes from ``starts_at`` until ``ends_at`` and, when it has a ``weekly``
window, only inside that window (a maintenance window: days Monday first, start and end
as HH:MM in UTC, possibly crossing midnight). Silences act on notifications only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.alerting.rules import whole_number
from storage.alerts import SilenceRecord

ALERTNAME = "alertname"
"""The matcher key that names the rule (the alert's name)."""
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
Weekday = whole_number(0, 6)


class WeeklyWindow(BaseModel):
    """A weekly maintenance window in UTC. ``end`` at or before ``start`` crosses midnight
    into the next day (``start == end``: a whole day from ``start``)."""

    model_config = ConfigDict(extra="forbid")

    days: Annotated[list[Weekday], Field(min_length=1, max_length=7)] = Field(
        description="Days the window starts on: 0 Monday … 6 Sunday"
    )
    start: str = Field(pattern=HHMM, description="HH:MM, UTC")
    end: str = Field(pattern=HHMM, description="HH:MM, UTC")


def matches(matchers: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether every matcher equals the label of the same name."""
    return all(labels.get(name) == value for name, value in matchers.items())


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def in_window(weekly: Mapping, now: float) -> bool:
    """Whether ``now`` falls inside the weekly window ``weekly`` (see ``WeeklyWindow``)."""
    moment = datetime.fromtimestamp(now, UTC)
    day, minute = moment.weekday(), moment.hour * 60 + moment.minute
    days = set(weekly["days"])
    start, end = _minutes(weekly["start"]), _minutes(weekly["end"])
    if start < end:
        return day in days and start <= minute < end
    # Crossing midnight: the evening of a listed day, or the morning after one.
    return (day in days and minute >= start) or ((day - 1) % 7 in days and minute < end)


def active(silence: SilenceRecord, now: float) -> bool:
    """Whether ``silence`` mutes at ``now``: between its start and end, and inside its
    weekly window when it has one."""
    if not silence.starts_at <= now < silence.ends_at:
        return False
    return silence.weekly is None or in_window(silence.weekly, now)


def silenced_by(
    silences: Iterable[SilenceRecord], labels: Mapping[str, str], now: float
) -> list[SilenceRecord]:
    """The silences that mute an alert with ``labels`` (``alertname`` included, as
    ``app.alerting.views.alert_labels`` gives them) at ``now``."""
    return [s for s in silences if active(s, now) and matches(s.matchers, labels)]


def state(silence: SilenceRecord, now: float) -> str:
    """``active`` while it mutes, ``pending`` before its start or outside its weekly
    window, ``expired`` once it has ended."""
    if now >= silence.ends_at:
        return "expired"
    return "active" if active(silence, now) else "pending"
