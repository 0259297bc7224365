"""Each channel takes its kind's number of notifications a minute; past that, what is left
is merged into one digest."""

from __future__ import annotations

from app.alerting.notify import DeliveryConfig
from tests.alerting.notify_support import T0, deliverer


def test_notifications_past_the_limit_are_merged_into_one_digest(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver.url)
    rules = [alerts.rule(f"Rule {n}", [hook.id]) for n in range(5)]
    for rule in rules:
        alerts.fire(rule, "web-1", T0)

    assert deliverer(engine, fence, rate_limits={"webhook": 2}).deliver(T0) == 2

    single, digest = receiver.received
    assert (single["digest"], len(single["alerts"])) == (0, 1)
    assert (digest["digest"], len(digest["alerts"])) == (4, 4)
    assert digest["status"] == "firing"
    rows = alerts.rows()
    assert [r.status for r in rows] == ["sent"] + ["merged"] * 4
    assert len({r.batch for r in rows[1:]}) == 1
    assert rows[0].batch != rows[1].batch


def test_a_full_window_holds_notifications_until_its_oldest_leaves(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver.url)
    job = deliverer(engine, fence, rate_limits={"webhook": 2})
    for n in range(2):
        alerts.fire(alerts.rule(f"Rule {n}", [hook.id]), "web-1", T0 + n)
        job.deliver(T0 + n)
    late = [alerts.rule(f"Late {n}", [hook.id]) for n in range(3)]
    for rule in late:
        alerts.fire(rule, "web-1", T0 + 10)

    assert job.deliver(T0 + 10) == 0
    assert {r.next_attempt_at for r in alerts.rows(status="pending")} == {T0 + 60}
    assert job.deliver(T0 + 60) == 1

    assert [n["digest"] for n in receiver.received] == [0, 0, 3]
    assert len(alerts.rows(status="merged")) == 3


def test_a_digest_counts_as_one_notification_of_the_window(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver.url)
    job = deliverer(engine, fence, rate_limits={"webhook": 2})
    for n in range(4):
        alerts.fire(alerts.rule(f"Rule {n}", [hook.id]), "web-1", T0)
    job.deliver(T0)
    alerts.fire(alerts.rule("Late", [hook.id]), "web-1", T0 + 1)

    assert job.deliver(T0 + 1) == 0
    assert len(receiver.received) == 2


def test_channel_kinds_have_their_own_limits():
    config = DeliveryConfig()
    assert config.rate_limit("dingtalk") == 20
    assert config.rate_limit("webhook") == 30
