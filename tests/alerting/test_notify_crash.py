"""At least once, and by the leader only: rows queued by a process that died before
sending are sent after the restart, once; rows a sender claimed and died with come back
when their lease ends; a process that does not lead claims and sends nothing."""

from __future__ import annotations

import threading

import pytest

from storage.db import make_engine
from storage.delivery import DeliveryStore
from storage.leader import NotLeader, make_leader_lock
from tests.alerting.notify_support import T0, deliverer, posted


@pytest.fixture
def locks(database_url, tmp_path):
    """Two leader locks of the test's database, as two processes would hold them."""
    pair = [make_leader_lock(database_url, tmp_path) for _ in range(2)]
    yield pair
    for lock in pair:
        lock.release()


def test_rows_queued_before_a_crash_are_sent_after_the_restart_once(
    database_url, alerts, receiver, fence
):
    hook = alerts.channel(receiver)
    alerts.fire(alerts.rule("CPU high", [hook.id]), "web-1", T0)
    alerts.engine.dispose()  # the process that queued them is gone

    restarted = make_engine(database_url)
    try:
        job = deliverer(restarted, fence)
        assert job.deliver(T0 + 5) == 1
        assert job.deliver(T0 + 6) == 0
    finally:
        restarted.dispose()

    assert len(posted(receiver)) == 1
    assert [r.status for r in alerts.rows()] == ["sent"]


def test_rows_of_a_sender_that_died_come_back_when_the_lease_ends(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    alerts.fire(alerts.rule("CPU high", [hook.id]), "web-1", T0)
    claimed = DeliveryStore(engine).claim_due(T0, 100, 120.0, fence)
    assert len(claimed) == 1  # ... and its sender died before sending

    job = deliverer(engine, fence)
    assert job.deliver(T0 + 119) == 0
    assert job.deliver(T0 + 120) == 1
    assert job.deliver(T0 + 121) == 0

    assert len(posted(receiver)) == 1
    assert [(r.status, r.attempts) for r in alerts.rows()] == [("sent", 1)]


def test_a_claim_takes_due_rows_once_and_oldest_first(engine, alerts, receiver, fence):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id])
    for n, host in enumerate(("web-1", "web-2", "web-3")):
        alerts.fire(rule, host, T0 + n)
    store = DeliveryStore(engine)

    first = store.claim_due(T0 + 5, 2, 60.0, fence)
    second = store.claim_due(T0 + 5, 10, 60.0, fence)

    assert [r.payload["labels"]["host"] for r in first] == ["web-1", "web-2"]
    assert [r.payload["labels"]["host"] for r in second] == ["web-3"]
    assert store.claim_due(T0 + 64, 10, 60.0, fence) == []
    assert len(store.claim_due(T0 + 65, 10, 60.0, fence)) == 3


def test_only_the_leader_sends(database_url, engine, alerts, receiver, locks):
    leader, follower = locks
    assert leader.try_acquire()
    assert not follower.try_acquire()
    hook = alerts.channel(receiver)
    alerts.fire(alerts.rule("CPU high", [hook.id]), "web-1", T0)
    other_engine = make_engine(database_url)
    ours, theirs = deliverer(engine, leader.fence), deliverer(other_engine, follower.fence)
    refused: list[Exception] = []

    def follow() -> None:
        for n in range(20):
            try:
                theirs.deliver(T0 + n)
            except NotLeader as exc:
                refused.append(exc)

    thread = threading.Thread(target=follow)
    thread.start()
    try:
        for n in range(20):
            ours.deliver(T0 + n)
    finally:
        thread.join()
        other_engine.dispose()

    assert len(refused) == 20
    assert len(posted(receiver)) == 1
    assert [(r.status, r.attempts) for r in alerts.rows()] == [("sent", 1)]


def test_a_former_leader_sends_nothing_once_another_leads(
    database_url, engine, alerts, receiver, locks
):
    first, second = locks
    assert first.try_acquire()
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id])
    old = deliverer(engine, first.fence)
    alerts.fire(rule, "web-1", T0)
    assert old.deliver(T0) == 1

    first.release()
    assert second.try_acquire()
    new = deliverer(engine, second.fence, group_interval=0.0)
    alerts.fire(rule, "web-2", T0 + 10)

    with pytest.raises(NotLeader):
        old.deliver(T0 + 10)
    assert new.deliver(T0 + 10) == 1
    assert [len(n["alerts"]) for n in posted(receiver)] == [1, 1]
