"""Notifications no evaluation makes: repeats while an alert fires unacknowledged, the
re-notification when an acknowledgement runs out, and the end of a silence."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from storage.alerts import InstanceChange
from tests.alerting.notify_support import T0, deliverer, posted

REPEAT = 3600


def acknowledge(alerts, instance, until=None):
    acked = replace(instance, ack_by="ann", ack_at=T0 + 1, ack_until=until, ack_comment="on it")
    (written,) = alerts.store.apply([InstanceChange(acked)])
    return written


def test_an_alert_firing_unacknowledged_repeats_each_repeat_interval(
    engine, alerts, receiver, fence
):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id], repeat_s=REPEAT)
    instance = alerts.fire(rule, "web-1", T0)
    job = deliverer(engine, fence)
    job.deliver(T0)

    assert job.deliver(T0 + REPEAT - 1) == 0
    assert job.deliver(T0 + REPEAT) == 1
    assert job.deliver(T0 + REPEAT + 1) == 0
    assert job.deliver(T0 + 2 * REPEAT) == 1

    assert [n["status"] for n in posted(receiver)] == ["firing"] * 3
    assert [r.event for r in alerts.rows()] == ["firing", "repeat", "repeat"]
    assert alerts.store.get_instance(instance.id).notified_at == T0 + 2 * REPEAT


def test_repeats_go_on_after_a_stale_write_put_the_instance_back(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id], repeat_s=REPEAT)
    instance = alerts.fire(rule, "web-1", T0)
    job = deliverer(engine, fence)
    job.deliver(T0)
    job.deliver(T0 + REPEAT)

    alerts.store.apply([InstanceChange(instance)])  # an evaluation that read it before
    assert job.deliver(T0 + REPEAT + 1) == 0
    assert alerts.store.get_instance(instance.id).notified_at == T0 + REPEAT + 1
    assert job.deliver(T0 + 2 * REPEAT + 1) == 1

    assert [r.event for r in alerts.rows()] == ["firing", "repeat", "repeat"]


def test_a_repeat_carries_the_alert_as_last_told_at_its_severity_now(
    engine, alerts, receiver, fence
):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id], repeat_s=REPEAT)
    instance = alerts.fire(rule, "web-1", T0)
    alerts.store.apply([InstanceChange(replace(instance, severity="critical", value=99.0))])
    job = deliverer(engine, fence)
    job.deliver(T0)

    job.deliver(T0 + REPEAT)

    first, repeat = (r.payload for r in alerts.rows())
    assert (first["id"], repeat["id"]) == (0, instance.id)  # unknown when it first fired
    assert (repeat["severity"], repeat["labels"]["severity"], repeat["value"]) == (
        "critical",
        "critical",
        99.0,
    )
    assert repeat["annotations"] == {"summary": "cpu high on web-1"}


def test_acknowledging_stops_repeats(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id], repeat_s=REPEAT)
    instance = alerts.fire(rule, "web-1", T0)
    job = deliverer(engine, fence)
    job.deliver(T0)
    acknowledge(alerts, instance)

    assert job.deliver(T0 + REPEAT) == 0
    assert job.deliver(T0 + 5 * REPEAT) == 0

    assert len(posted(receiver)) == 1
    assert [r.event for r in alerts.rows()] == ["firing"]


def test_an_acknowledgement_running_out_renotifies_once_and_ends(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id], repeat_s=REPEAT)
    instance = alerts.fire(rule, "web-1", T0)
    job = deliverer(engine, fence, group_interval=0.0)
    job.deliver(T0)
    acknowledge(alerts, instance, until=T0 + 600)

    assert job.deliver(T0 + 599) == 0
    assert job.deliver(T0 + 600) == 1
    assert job.deliver(T0 + 601) == 0

    assert [r.event for r in alerts.rows()] == ["firing", "repeat"]
    now = alerts.store.get_instance(instance.id)
    assert (now.ack_at, now.ack_until, now.notified_at) == (None, None, T0 + 600)
    assert [h.event for h in alerts.store.history(instance.id)][-2:] == [
        "unacknowledged",
        "notified",
    ]
    # From then on it repeats as any unacknowledged alert does.
    assert job.deliver(T0 + 600 + REPEAT) == 1


def test_the_end_of_a_silence_notifies_an_alert_that_fired_under_it(
    engine, alerts, receiver, fence
):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id], repeat_s=REPEAT)
    silence = alerts.silence({"host": "web-1"}, T0 - 60, T0 + 300)
    instance = alerts.fire(rule, "web-1", T0)
    job = deliverer(engine, fence)

    assert job.deliver(T0) == 0
    assert job.deliver(T0 + 299) == 0
    assert job.deliver(T0 + 300) == 1
    assert job.deliver(T0 + 301) == 0

    assert [(r.event, r.status) for r in alerts.rows()] == [
        ("firing", "silenced"),
        ("firing", "sent"),
    ]
    key = f":firing:silence-{silence.id}@{T0 + 300:.0f}:{hook.id}"
    assert alerts.rows()[-1].dedup_key.endswith(key)
    assert [h.event for h in alerts.store.history(instance.id)] == [
        "firing",
        "silenced",
        "notified",
    ]


def test_expiring_a_silence_by_hand_notifies_too(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id], repeat_s=REPEAT)
    silence = alerts.silence({"alertname": "CPU high"}, T0 - 60, T0 + 86400)
    alerts.fire(rule, "web-1", T0)
    job = deliverer(engine, fence)
    job.deliver(T0)

    alerts.store.expire_silence(silence.id, T0 + 30)

    assert job.deliver(T0 + 31) == 1
    assert posted(receiver)[0]["alerts"][0]["labels"]["host"] == "web-1"


def test_the_end_of_a_silence_does_not_retell_what_the_channel_heard(
    engine, alerts, receiver, fence
):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id], repeat_s=REPEAT)
    alerts.fire(rule, "web-1", T0)
    job = deliverer(engine, fence, group_interval=0.0)
    job.deliver(T0)
    alerts.silence({"host": "web-1"}, T0 + 10, T0 + 20)

    assert job.deliver(T0 + 20) == 0

    assert len(posted(receiver)) == 1
    assert [r.status for r in alerts.rows()] == ["sent", "skipped"]


def test_the_end_of_a_silence_leaves_resolved_and_unmatched_alerts(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id], repeat_s=REPEAT)
    alerts.silence({"host": "web-1"}, T0 - 60, T0 + 300)
    gone = alerts.fire(rule, "web-1", T0)
    alerts.fire(rule, "web-1", T0 + 100, instance=gone, event="resolved")
    alerts.fire(rule, "web-2", T0 + 100)
    job = deliverer(engine, fence)
    job.deliver(T0 + 100)

    job.deliver(T0 + 300)

    assert [r.payload["labels"]["host"] for r in alerts.rows(status="sent")] == ["web-2"]
    assert len(alerts.rows()) == 3


def test_the_end_of_each_maintenance_window_notifies_what_fired_in_it(
    engine, alerts, receiver, fence
):
    monday_noon = datetime(2027, 1, 4, 12, 0, tzinfo=UTC).timestamp()
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id], repeat_s=30 * 86400)
    window = {"days": [0, 1], "start": "11:00", "end": "13:00"}
    alerts.silence({"host": "web-1"}, monday_noon - 86400, monday_noon + 30 * 86400, window)
    instance = alerts.fire(rule, "web-1", monday_noon)
    job = deliverer(engine, fence, group_interval=0.0)

    assert job.deliver(monday_noon) == 0
    assert job.deliver(monday_noon + 3599) == 0
    assert job.deliver(monday_noon + 3600) == 1  # Monday 13:00: the window closes
    assert job.deliver(monday_noon + 3601) == 0
    alerts.fire(rule, "web-1", monday_noon + 7200, instance=instance, event="resolved")
    job.deliver(monday_noon + 7200)
    alerts.fire(rule, "web-1", monday_noon + 86400 - 600, instance=instance)
    assert job.deliver(monday_noon + 86400 - 600) == 0  # Tuesday 11:50, in the window
    assert job.deliver(monday_noon + 86400 + 3600) == 1  # Tuesday 13:00

    assert [n["status"] for n in posted(receiver)] == ["firing", "resolved", "firing"]


def test_the_end_of_a_silence_keeps_an_alert_s_acknowledgement(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id], repeat_s=REPEAT)
    alerts.silence({"host": "web-1"}, T0 - 60, T0 + 300)
    instance = alerts.fire(rule, "web-1", T0)
    job = deliverer(engine, fence)
    job.deliver(T0)
    acknowledge(alerts, instance)

    assert job.deliver(T0 + 300) == 1

    assert alerts.store.get_instance(instance.id).ack_by == "ann"
    assert "unacknowledged" not in [h.event for h in alerts.store.history(instance.id)]


def test_the_end_of_a_silence_matches_the_rule_s_labels_too(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id], labels={"team": "ops"})
    alerts.silence({"team": "ops"}, T0 - 60, T0 + 300)
    alerts.fire(rule, "web-1", T0)
    job = deliverer(engine, fence)
    job.deliver(T0)

    assert job.deliver(T0 + 300) == 1
