"""Rows that are not to be sent: silenced alerts (history says so), repeats of
acknowledged alerts, rows for a channel that is disabled or gone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from app.alerting.silences import active, matches, mute_ends, silenced_by
from storage.alerts import InstanceChange, SilenceRecord
from tests.alerting.notify_support import T0, deliverer, posted

DAY = 86400.0
MONDAY_NOON = datetime(2027, 1, 4, 12, 0, tzinfo=UTC).timestamp()


def test_a_silence_matches_the_rule_name_and_labels_exactly():
    silence = SilenceRecord({"alertname": "CPU high", "host": "web-1"}, 0, 1)
    assert matches(silence.matchers, {"alertname": "CPU high", "host": "web-1", "env": "prod"})
    assert not matches(silence.matchers, {"alertname": "CPU high", "host": "web-2"})
    assert not matches(silence.matchers, {"host": "web-1"})


def test_a_silence_mutes_from_its_start_until_its_end():
    silence = SilenceRecord({}, T0, T0 + 60)
    assert [active(silence, t) for t in (T0 - 1, T0, T0 + 59, T0 + 60)] == [
        False,
        True,
        True,
        False,
    ]


def test_a_maintenance_window_mutes_only_in_its_weekly_hours():
    window = {"days": [0], "start": "11:00", "end": "13:00"}
    silence = SilenceRecord({}, MONDAY_NOON - 30 * DAY, MONDAY_NOON + 30 * DAY, window)
    assert active(silence, MONDAY_NOON)
    assert not active(silence, MONDAY_NOON + 2 * 3600)
    assert not active(silence, MONDAY_NOON + DAY)
    assert active(silence, MONDAY_NOON + 7 * DAY)


def test_a_window_past_midnight_runs_into_the_next_day():
    window = {"days": [0], "start": "22:00", "end": "02:00"}
    silence = SilenceRecord({}, MONDAY_NOON - DAY, MONDAY_NOON + 30 * DAY, window)
    assert active(silence, MONDAY_NOON + 11 * 3600)  # Monday 23:00
    assert active(silence, MONDAY_NOON + 13 * 3600)  # Tuesday 01:00
    assert not active(silence, MONDAY_NOON + 15 * 3600)  # Tuesday 03:00
    assert not active(silence, MONDAY_NOON - 11 * 3600)  # Monday 01:00


def test_a_silence_stops_muting_at_its_end_and_at_each_window_s_end():
    plain = SilenceRecord({}, T0, T0 + 60)
    assert mute_ends(plain, T0 - 10, T0 + 100) == [T0 + 60]
    assert mute_ends(plain, T0 + 60, T0 + 100) == []
    assert mute_ends(plain, T0, T0 + 59) == []

    window = {"days": [0], "start": "22:00", "end": "02:00"}
    weekly = SilenceRecord({}, MONDAY_NOON, MONDAY_NOON + 8 * DAY, window)
    tuesday_2am = MONDAY_NOON + 14 * 3600
    assert mute_ends(weekly, MONDAY_NOON, MONDAY_NOON + 8 * DAY) == [
        tuesday_2am,
        tuesday_2am + 7 * DAY,
    ]
    cut = SilenceRecord({}, MONDAY_NOON, MONDAY_NOON + 11 * 3600, window)  # ends Monday 23:00
    assert mute_ends(cut, MONDAY_NOON, MONDAY_NOON + DAY) == [MONDAY_NOON + 11 * 3600]


def test_the_first_active_matching_silence_mutes():
    later = SilenceRecord({"host": "web-1"}, T0 + 10, T0 + 20, id=1)
    other = SilenceRecord({"host": "web-2"}, T0, T0 + 20, id=2)
    now = SilenceRecord({"host": "web-1"}, T0, T0 + 20, id=3)
    assert [s.id for s in silenced_by([later, other, now], {"host": "web-1"}, T0)] == [3]
    assert silenced_by([later, other], {"host": "web-1"}, T0) == []


def test_silenced_rows_are_never_sent_and_the_history_says_silenced(
    engine, alerts, receiver, fence
):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id])
    silence = alerts.silence({"alertname": "CPU high", "host": "web-1"}, T0 - 60, T0 + 3600)
    muted = alerts.fire(rule, "web-1", T0)
    alerts.fire(rule, "web-2", T0)
    job = deliverer(engine, fence)

    assert job.deliver(T0) == 1
    assert job.deliver(T0 + 60) == 0

    (notification,) = posted(receiver)
    assert [a["labels"]["host"] for a in notification["alerts"]] == ["web-2"]
    by_host = {r.payload["labels"]["host"]: r for r in alerts.rows()}
    assert by_host["web-1"].status == "silenced"
    assert by_host["web-1"].attempts == 0
    assert by_host["web-1"].last_answer == f"notification silenced by silence {silence.id}"
    assert by_host["web-2"].status == "sent"
    events = [h.event for h in alerts.store.history(muted.id)]
    assert events == ["firing", "silenced"]


def test_a_silence_over_an_alert_on_two_channels_says_so_once(engine, alerts, receiver, fence):
    first, second = alerts.channel(receiver), alerts.channel(receiver, "other")
    rule = alerts.rule("CPU high", [first.id, second.id])
    alerts.silence({"host": "web-1"}, T0 - 60, T0 + 3600)
    instance = alerts.fire(rule, "web-1", T0)

    deliverer(engine, fence).deliver(T0)

    assert [r.status for r in alerts.rows()] == ["silenced", "silenced"]
    assert [h.event for h in alerts.store.history(instance.id)].count("silenced") == 1


def test_repeats_of_an_acknowledged_alert_are_skipped(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id])
    instance = alerts.fire(rule, "web-1", T0)
    acked = replace(instance, ack_by="ann", ack_at=T0 + 1, ack_comment="on it")
    alerts.store.apply([InstanceChange(acked)])
    alerts.fire(rule, "web-1", T0 + 5, instance=acked, event="repeat")
    alerts.fire(rule, "web-1", T0 + 5, instance=acked, event="severity", severity="critical")

    assert deliverer(engine, fence).deliver(T0 + 5) == 1

    statuses = {r.event: (r.status, r.last_answer) for r in alerts.rows()}
    assert statuses["repeat"] == ("skipped", "acknowledged: repeats stopped")
    assert statuses["severity"][0] == "sent"


def test_rows_of_a_disabled_or_deleted_channel_are_skipped(engine, alerts, receiver, fence):
    disabled = alerts.channel(receiver, "paused hook")
    alerts.channels.replace(disabled.id, replace(disabled, enabled=False), T0)
    deleted = alerts.channel(receiver, "old hook")
    rule = alerts.rule("CPU high", [disabled.id, deleted.id])
    alerts.channels.delete(deleted.id)
    alerts.fire(rule, "web-1", T0)

    assert deliverer(engine, fence).deliver(T0) == 0

    assert len(receiver.requests) == 0
    assert sorted((r.status, r.last_answer) for r in alerts.rows()) == [
        ("skipped", "channel 'paused hook' is disabled"),
        ("skipped", f"channel {deleted.id} was deleted"),
    ]
