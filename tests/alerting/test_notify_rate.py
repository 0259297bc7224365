"""Each channel takes its kind's number of notifications a minute; past that, what is left
is merged into one digest."""

from __future__ import annotations

from app.alerting import channels
from app.alerting.notify import DeliveryConfig
from tests.alerting.notify_support import T0, deliverer, posted


def rows_group(alerts, index: int) -> str:
    return alerts.rows()[index].group_key


def test_notifications_past_the_limit_are_merged_into_one_digest(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rules = [alerts.rule(f"Rule {n}", [hook.id]) for n in range(5)]
    for rule in rules:
        alerts.fire(rule, "web-1", T0)

    job = deliverer(engine, fence, rate_limits={"webhook": 2})
    digests = []

    def send(kind, config, notification, context):
        digests.append(notification.digest)
        return channels.send(kind, config, notification, context)

    job.sender = send
    assert job.deliver(T0) == 2

    single, digest = posted(receiver)
    assert digests == [0, 4]
    assert (single["groupKey"], len(single["alerts"])) == (rows_group(alerts, 0), 1)
    assert (digest["groupKey"], len(digest["alerts"])) == (f"digest:{hook.id}", 4)
    assert digest["status"] == "firing"
    rows = alerts.rows()
    assert [r.status for r in rows] == ["sent"] + ["merged"] * 4
    assert len({r.batch for r in rows[1:]}) == 1
    assert rows[0].batch != rows[1].batch


def test_a_full_window_holds_notifications_until_its_oldest_leaves(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
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

    assert [len(n["alerts"]) for n in posted(receiver)] == [1, 1, 3]
    assert posted(receiver)[-1]["groupKey"] == f"digest:{hook.id}"
    assert len(alerts.rows(status="merged")) == 3


def test_a_digest_counts_as_one_notification_of_the_window(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    job = deliverer(engine, fence, rate_limits={"webhook": 2})
    for n in range(4):
        alerts.fire(alerts.rule(f"Rule {n}", [hook.id]), "web-1", T0)
    job.deliver(T0)
    alerts.fire(alerts.rule("Late", [hook.id]), "web-1", T0 + 1)

    assert job.deliver(T0 + 1) == 0
    assert len(posted(receiver)) == 2


def test_channel_kinds_have_their_own_limits():
    config = DeliveryConfig()
    assert config.rate_limit("dingtalk") == 20
    assert config.rate_limit("webhook") == 30
