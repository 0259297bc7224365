"""Delivery groups the due rows of one rule and channel into one notification, after the
group's wait and at most once a group interval."""

from __future__ import annotations

from app.alerting.notify.stages import WAIT_RECHECK
from tests.alerting.notify_support import T0, deliverer, posted


def test_three_alerts_of_one_group_go_out_as_one_notification(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id])
    for host in ("web-1", "web-2", "web-3"):
        alerts.fire(rule, host, T0)

    assert deliverer(engine, fence).deliver(T0) == 1

    (notification,) = posted(receiver)
    assert notification["status"] == "firing"
    assert notification["receiver"] == "ops hook"
    assert sorted(a["labels"]["host"] for a in notification["alerts"]) == [
        "web-1",
        "web-2",
        "web-3",
    ]
    rows = alerts.rows()
    assert {r.status for r in rows} == {"sent"}
    assert len({r.batch for r in rows}) == 1
    assert all(r.attempts == 1 and r.last_code == 200 and r.sent_at == T0 for r in rows)


def test_each_channel_and_rule_is_a_group_of_its_own(engine, alerts, receiver, fence):
    hook, other = alerts.channel(receiver), alerts.channel(receiver, "other hook")
    cpu = alerts.rule("CPU high", [hook.id, other.id])
    disk = alerts.rule("Disk full", [hook.id])
    alerts.fire(cpu, "web-1", T0)
    alerts.fire(disk, "web-1", T0)

    assert deliverer(engine, fence).deliver(T0) == 3

    assert sorted((n["receiver"], len(n["alerts"])) for n in posted(receiver)) == [
        ("ops hook", 1),
        ("ops hook", 1),
        ("other hook", 1),
    ]


def test_a_new_group_waits_group_wait_and_takes_what_arrives_meanwhile(
    engine, alerts, receiver, fence
):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id])
    job = deliverer(engine, fence, group_wait=30.0)
    alerts.fire(rule, "web-1", T0)

    assert job.deliver(T0) == 0
    alerts.fire(rule, "web-2", T0 + 10)
    assert job.deliver(T0 + 10) == 0
    assert job.deliver(T0 + 29) == 0
    assert len(receiver.requests) == 0
    assert {r.next_attempt_at for r in alerts.rows()} == {T0 + 30}

    assert job.deliver(T0 + 30) == 1
    (notification,) = posted(receiver)
    assert len(notification["alerts"]) == 2


def test_a_group_that_sent_waits_group_interval_before_the_next(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id])
    job = deliverer(engine, fence, group_interval=300.0)
    first = alerts.fire(rule, "web-1", T0)
    assert job.deliver(T0) == 1

    alerts.fire(rule, "web-2", T0 + 5)
    alerts.fire(rule, "web-1", T0 + 6, instance=first, event="resolved")
    assert job.deliver(T0 + 6) == 0
    assert job.deliver(T0 + 299) == 0
    assert job.deliver(T0 + 300) == 1

    assert [len(n["alerts"]) for n in posted(receiver)] == [1, 2]
    second = posted(receiver)[1]
    assert second["status"] == "firing"
    assert sorted((a["labels"]["host"], a["status"]) for a in second["alerts"]) == [
        ("web-1", "resolved"),
        ("web-2", "firing"),
    ]


def test_a_resolved_group_tells_resolved(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id])
    job = deliverer(engine, fence, group_interval=0.0)
    instance = alerts.fire(rule, "web-1", T0)
    job.deliver(T0)
    alerts.fire(rule, "web-1", T0 + 60, instance=instance, event="resolved")

    assert job.deliver(T0 + 60) == 1
    assert [n["status"] for n in posted(receiver)] == ["firing", "resolved"]


def test_history_says_where_the_alert_was_notified(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id])
    instance = alerts.fire(rule, "web-1", T0)

    deliverer(engine, fence).deliver(T0)

    (notified,) = [h for h in alerts.store.history(instance.id) if h.event == "notified"]
    assert notified.reason == "firing sent to ops hook"
    assert notified.ts == T0


def test_waiting_rows_follow_a_change_of_the_group_wait(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    alerts.fire(alerts.rule("CPU high", [hook.id]), "web-1", T0)
    assert deliverer(engine, fence, group_wait=3600.0).deliver(T0) == 0

    # Restarted with a shorter wait: the rows are looked at again within the recheck.
    (row,) = alerts.rows()
    assert row.next_attempt_at <= T0 + WAIT_RECHECK
    assert deliverer(engine, fence, group_wait=0.0).deliver(T0 + WAIT_RECHECK) == 1
