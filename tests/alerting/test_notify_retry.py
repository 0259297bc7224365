"""Sending: a failed attempt is retried with a growing backoff until the receiver takes
it, every attempt recorded; a refusal that retrying cannot help fails at once; what the
channel already got is not sent again."""

from __future__ import annotations

import random

import pytest

from app.alerting.notification import Answer
from app.alerting.notify import DeliveryConfig
from tests.alerting.notify_support import T0, deliverer, hosts, posted
from tests.receivers import receiving
from tests.services import free_port


def run_until_delivered(job, alerts, now: float, rounds: int = 10) -> list[float]:
    """Deliver at each row's next attempt until nothing is pending; the times tried."""
    tried = []
    for _ in range(rounds):
        pending = alerts.rows(status="pending")
        if not pending:
            break
        now = max(now, min(r.next_attempt_at for r in pending))
        tried.append(now)
        job.deliver(now)
    return tried


def test_a_receiver_that_fails_twice_gets_the_notification_once(engine, alerts, receiver, fence):
    receiver.reply(503, "receiver says no")
    receiver.reply(500, "receiver says no")
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id])
    alerts.fire(rule, "web-1", T0)
    alerts.fire(rule, "web-2", T0)
    job = deliverer(engine, fence)

    assert job.deliver(T0) == 0
    first = alerts.rows()
    assert [(r.status, r.attempts, r.last_code, r.last_answer) for r in first] == [
        ("pending", 1, 503, "receiver says no")
    ] * 2
    assert 4.5 <= first[0].next_attempt_at - T0 <= 5

    tried = run_until_delivered(job, alerts, T0)

    refused, again, taken = posted(receiver)  # the one notification, taken the third time
    assert refused == again == taken
    assert hosts(taken) == ["web-1", "web-2"]
    assert 9 <= tried[1] - tried[0] <= 10  # the backoff doubles
    rows = alerts.rows()
    assert [(r.status, r.attempts, r.last_code) for r in rows] == [("sent", 3, 200)] * 2
    assert rows[0].sent_at == tried[-1]


def test_the_backoff_doubles_up_to_its_cap():
    config = DeliveryConfig(backoff_base=5, backoff_cap=600)
    delays = [config.backoff(n, random.Random(1)) for n in range(1, 12)]
    assert delays[:3] == pytest.approx([5, 10, 20], rel=0.1)
    assert 540 <= delays[-1] <= 600
    assert delays == sorted(delays)
    assert len({config.backoff(3, random.Random(seed)) for seed in range(5)}) == 5


def test_a_refusal_that_retrying_cannot_help_fails_at_once(engine, alerts, receiver, fence):
    receiver.reply(400, "receiver says no")
    hook = alerts.channel(receiver)
    alerts.fire(alerts.rule("CPU high", [hook.id]), "web-1", T0)
    job = deliverer(engine, fence)

    assert job.deliver(T0) == 0
    assert job.deliver(T0 + 60) == 0

    (row,) = alerts.rows()
    assert (row.status, row.attempts, row.last_code, row.last_answer) == (
        "failed",
        1,
        400,
        "receiver says no",
    )
    assert len(receiver.requests) == 1


def test_delivery_gives_up_after_the_last_attempt(engine, alerts, receiver, fence):
    for _ in range(10):
        receiver.reply(503, "receiver says no")
    hook = alerts.channel(receiver)
    alerts.fire(alerts.rule("CPU high", [hook.id]), "web-1", T0)

    run_until_delivered(deliverer(engine, fence, max_attempts=3), alerts, T0)

    (row,) = alerts.rows()
    assert (row.status, row.attempts, row.last_code) == ("failed", 3, 503)
    assert len(receiver.requests) == 3


def test_delivery_gives_up_a_day_after_the_row_was_queued(engine, alerts, receiver, fence):
    for _ in range(10):
        receiver.reply(503, "receiver says no")
    hook = alerts.channel(receiver)
    alerts.fire(alerts.rule("CPU high", [hook.id], repeat_s=7 * 86400), "web-1", T0)
    job = deliverer(engine, fence)

    job.deliver(T0)
    job.deliver(T0 + 86400)

    (row,) = alerts.rows()
    assert (row.status, row.attempts) == ("failed", 2)


def test_a_receiver_down_for_a_while_gets_it_when_it_is_back(engine, alerts, fence):
    port = free_port()
    hook = alerts.channel(f"http://127.0.0.1:{port}/hook")
    alerts.fire(alerts.rule("CPU high", [hook.id]), "web-1", T0)
    job = deliverer(engine, fence)

    job.deliver(T0)
    job.deliver(alerts.rows()[0].next_attempt_at)
    (row,) = alerts.rows()
    assert (row.status, row.attempts, row.last_code) == ("pending", 2, None)
    assert "refused" in row.last_answer.lower()

    with receiving(port) as receiver:
        run_until_delivered(job, alerts, T0)

    assert len(posted(receiver)) == 1
    (row,) = alerts.rows()
    assert (row.status, row.attempts, row.last_code) == ("sent", 3, 200)


def test_a_channel_that_raises_is_retried(engine, alerts, fence):
    def broken(kind, config, notification, context):
        raise RuntimeError("template exploded")

    hook = alerts.channel("http://127.0.0.1:9/hook")
    alerts.fire(alerts.rule("CPU high", [hook.id]), "web-1", T0)
    job = deliverer(engine, fence)
    job.sender = broken

    assert job.deliver(T0) == 0

    (row,) = alerts.rows()
    assert (row.status, row.attempts, row.last_answer) == (
        "pending",
        1,
        "RuntimeError: template exploded",
    )


def test_an_answer_is_kept_to_its_first_500_characters(engine, alerts, fence):
    hook = alerts.channel("http://127.0.0.1:9/hook")
    alerts.fire(alerts.rule("CPU high", [hook.id]), "web-1", T0)
    job = deliverer(engine, fence)
    job.sender = lambda *args: Answer(True, 200, "x" * 2000)

    job.deliver(T0)

    assert alerts.rows()[0].last_answer == "x" * 500


def test_what_the_channel_got_is_not_sent_twice(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id])
    instance = alerts.fire(rule, "web-1", T0)
    job = deliverer(engine, fence, group_interval=0.0)
    job.deliver(T0)

    # A second evaluator telling the same firing (its own transition time, so its own key).
    alerts.fire(rule, "web-1", T0 + 1, instance=instance, ts=T0 + 0.5)
    assert job.deliver(T0 + 1) == 0

    duplicate = alerts.rows()[-1]
    assert duplicate.status == "skipped"
    assert duplicate.last_answer == f"already sent as notification {alerts.rows()[0].id}"
    assert len(posted(receiver)) == 1


def test_a_new_firing_after_a_resolve_is_sent(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id])
    job = deliverer(engine, fence, group_interval=0.0)
    instance = alerts.fire(rule, "web-1", T0)
    job.deliver(T0)
    instance = alerts.fire(rule, "web-1", T0 + 60, instance=instance, event="resolved")
    job.deliver(T0 + 60)
    alerts.fire(rule, "web-1", T0 + 120, instance=instance)

    assert job.deliver(T0 + 120) == 1
    assert [n["status"] for n in posted(receiver)] == ["firing", "resolved", "firing"]


def test_of_one_alert_s_rows_in_a_batch_the_newest_tells(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id])
    instance = alerts.fire(rule, "web-1", T0)
    alerts.fire(rule, "web-1", T0 + 1, instance=instance, event="resolved")

    assert deliverer(engine, fence).deliver(T0 + 1) == 1

    (notification,) = posted(receiver)
    assert [a["status"] for a in notification["alerts"]] == ["resolved"]
    first, second = alerts.rows()
    assert (first.status, first.last_answer) == (
        "skipped",
        f"superseded by notification {second.id}",
    )
    assert second.status == "sent"
