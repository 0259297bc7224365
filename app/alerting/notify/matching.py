"""Whether a silence mutes an alert now: its matchers (``alertname`` is the rule's name,
other keys the alert's labels, values matched exactly) and its time, dates and, for a
maintenance window, the weekly hours (UTC)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta

from storage.alerts import SilenceRecord


def silence_matches(silence: SilenceRecord, labels: dict[str, str]) -> bool:
    """Whether every matcher of ``silence`` holds for ``labels`` (with ``alertname``)."""
    return all(labels.get(name) == value for name, value in silence.matchers.items())


def silence_active(silence: SilenceRecord, now: float) -> bool:
    """Whether ``silence`` mutes at ``now``: within its dates and, if weekly, its window
    (a window whose end is not after its start runs past midnight)."""
    if not silence.starts_at <= now < silence.ends_at:
        return False
    if not silence.weekly:
        return True
    moment = datetime.fromtimestamp(now, UTC)
    start = time.fromisoformat(silence.weekly["start"])
    end = time.fromisoformat(silence.weekly["end"])
    days = set(silence.weekly.get("days", range(7)))
    clock = moment.time().replace(tzinfo=None)
    if start < end:
        return moment.weekday() in days and start <= clock < end
    yesterday = (moment.weekday() - 1) % 7
    return (moment.weekday() in days and clock >= start) or (yesterday in days and clock < end)


def mute_ends(silence: SilenceRecord, since: float, until: float) -> list[float]:
    """When ``silence`` stopped muting after ``since`` and by ``until``: its end, or for a
    maintenance window the end of each of its weekly windows (within its dates)."""
    if not silence.weekly:
        spans = [(silence.starts_at, silence.ends_at)]
    else:
        start = time.fromisoformat(silence.weekly["start"])
        end = time.fromisoformat(silence.weekly["end"])
        days = set(silence.weekly.get("days", range(7)))
        first = datetime.fromtimestamp(since, UTC).date() - timedelta(days=1)
        spans = []
        for offset in range((datetime.fromtimestamp(until, UTC).date() - first).days + 1):
            day = first + timedelta(days=offset)
            if day.weekday() not in days:
                continue
            opens = datetime.combine(day, start, UTC)
            closes = datetime.combine(day + timedelta(days=end <= start), end, UTC)
            spans.append((opens.timestamp(), closes.timestamp()))
    ends = []
    for opens, closes in spans:
        muted_from, muted_to = max(opens, silence.starts_at), min(closes, silence.ends_at)
        if muted_from < muted_to and since < muted_to <= until:
            ends.append(muted_to)
    return ends


def muting_silence(
    silences: Iterable[SilenceRecord], labels: dict[str, str], now: float
) -> SilenceRecord | None:
    """The first of ``silences`` that mutes an alert with ``labels`` at ``now``."""
    return next(
        (s for s in silences if silence_active(s, now) and silence_matches(s, labels)), None
    )
