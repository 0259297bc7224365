"""Silences: exact matching on alertname and labels, start and end, weekly windows in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.alerting.silences import active, in_window, matches, silenced_by, state
from storage.alerts import SilenceRecord


def at(text: str) -> float:
    """Epoch seconds of a UTC time written as ``YYYY-MM-DD HH:MM``."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp()


# 2026-11-30 is a Monday.
MONDAY = "2026-11-30"
DISK = {"alertname": "Disk almost full", "host": "web-1", "mountpoint": "/", "severity": "critical"}


def silence(matchers: dict, start: str, end: str, weekly: dict | None = None) -> SilenceRecord:
    return SilenceRecord(matchers=matchers, starts_at=at(start), ends_at=at(end), weekly=weekly)


def test_an_alert_is_matched_by_its_rule_name_as_alertname_and_by_its_labels():
    labels = DISK
    assert matches({"alertname": "Disk almost full"}, labels)
    assert matches({"alertname": "Disk almost full", "host": "web-1"}, labels)
    assert matches({"severity": "critical"}, labels)
    assert not matches({"alertname": "Disk almost full", "host": "web-2"}, labels)
    assert not matches({"alertname": "disk almost full"}, labels)  # exact, case included
    assert not matches({"team": "ops"}, labels)  # a label the alert lacks never matches


def test_a_silence_mutes_from_its_start_until_its_end_excluded():
    s = silence({"host": "web-1"}, f"{MONDAY} 10:00", f"{MONDAY} 12:00")
    assert not active(s, at(f"{MONDAY} 09:59"))
    assert active(s, at(f"{MONDAY} 10:00"))
    assert active(s, at(f"{MONDAY} 11:59"))
    assert not active(s, at(f"{MONDAY} 12:00"))
    assert [state(s, at(t)) for t in (f"{MONDAY} 09:00", f"{MONDAY} 11:00", f"{MONDAY} 13:00")] == [
        "pending",
        "active",
        "expired",
    ]


def test_a_weekly_window_mutes_only_on_its_days_between_its_times():
    weekly = {"days": [0, 2], "start": "02:00", "end": "04:00"}  # Monday and Wednesday
    assert in_window(weekly, at("2026-11-30 02:00"))
    assert in_window(weekly, at("2026-11-30 03:59"))
    assert not in_window(weekly, at("2026-11-30 04:00"))
    assert not in_window(weekly, at("2026-12-01 03:00"))  # Tuesday
    assert in_window(weekly, at("2026-12-02 03:00"))  # Wednesday
    s = silence({"host": "web-1"}, "2026-11-01 00:00", "2027-01-01 00:00", weekly)
    assert active(s, at("2026-12-02 03:00"))
    assert not active(s, at("2026-12-02 05:00"))
    assert state(s, at("2026-12-02 05:00")) == "pending"


def test_a_weekly_window_that_crosses_midnight_runs_into_the_next_day():
    weekly = {"days": [6], "start": "22:00", "end": "02:00"}  # Sunday night
    assert in_window(weekly, at("2026-12-06 22:00"))  # Sunday
    assert in_window(weekly, at("2026-12-07 01:59"))  # Monday morning
    assert not in_window(weekly, at("2026-12-07 02:00"))
    assert not in_window(weekly, at("2026-12-06 21:59"))
    assert not in_window(weekly, at("2026-12-01 01:00"))  # Tuesday morning: Monday not listed


def test_a_weekly_window_with_equal_start_and_end_is_a_whole_day_from_its_start():
    weekly = {"days": [0], "start": "06:00", "end": "06:00"}
    assert in_window(weekly, at("2026-11-30 06:00"))
    assert in_window(weekly, at("2026-12-01 05:59"))
    assert not in_window(weekly, at("2026-12-01 06:00"))
    assert not in_window(weekly, at("2026-11-30 05:59"))


@pytest.mark.parametrize(
    ("matchers", "muted"),
    [
        ({"alertname": "Disk almost full", "host": "web-1"}, True),
        ({"alertname": "Disk almost full", "host": "web-2"}, False),
        ({"alertname": "CPU"}, False),
    ],
)
def test_silenced_by_lists_the_active_silences_that_match(matchers, muted):
    now = at(f"{MONDAY} 11:00")
    current = silence(matchers, f"{MONDAY} 10:00", f"{MONDAY} 12:00")
    ended = silence(matchers, f"{MONDAY} 08:00", f"{MONDAY} 09:00")
    found = silenced_by([current, ended], DISK, now)
    assert found == ([current] if muted else [])
