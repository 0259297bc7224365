"""The alert store on both backends: instances written with their history and outbox in one
transaction, outbox deduplication, history read in batches, rules and silences."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from storage.alerts import (
    AlertStore,
    DuplicateName,
    HistoryEntry,
    InstanceChange,
    InstanceRecord,
    RuleRecord,
    SilenceRecord,
)
from storage.models import AlertHistory, AlertInstance, NotificationOutbox
from storage.outbox import OutboxEntry, OutboxStore

NOW = 1_800_000_000.0


@pytest.fixture
def store(engine: Engine) -> AlertStore:
    return AlertStore(engine)


@pytest.fixture
def rule(store: AlertStore) -> RuleRecord:
    record = RuleRecord(name="Disk almost full", kind="metric", spec={"metric": "disk"})
    return store.create_rule(record, "alice", NOW)


def instance(rule: RuleRecord, host: str = "web-1", **kw) -> InstanceRecord:
    return InstanceRecord(
        rule_id=rule.id, rule_name=rule.name, fingerprint=host, labels={"host": host}, **kw
    )


def fired(rule: RuleRecord, host: str = "web-1", ts: float = NOW) -> InstanceChange:
    return InstanceChange(
        instance(rule, host, state="firing", severity="critical", value=97.0, fired_at=ts),
        history=[HistoryEntry(ts=ts, event="firing", from_state="pending", to_state="firing")],
        outbox=[
            OutboxEntry(
                dedup_key=f"{rule.id}:{host}:firing:{ts}",
                group_key=f"{rule.id}",
                channel_id=1,
                rule_id=rule.id,
                event="firing",
                payload={"host": host},
                created_at=ts,
                next_attempt_at=ts,
            )
        ],
    )


def count(engine: Engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_apply_writes_the_instance_its_history_and_its_notification_together(store, rule, engine):
    (written,) = store.apply([fired(rule)], evaluated=([rule.id], NOW))
    assert written.id is not None
    assert store.get_instance(written.id) == written
    (entry,) = store.history(written.id)
    assert (entry.instance_id, entry.rule_id, entry.event) == (written.id, rule.id, "firing")
    rows, _ = OutboxStore(engine).deliveries(instance_id=written.id)
    assert [(r.event, r.status, r.payload) for r in rows] == [
        ("firing", "pending", {"host": "web-1"})
    ]
    assert store.get_rule(rule.id).evaluated_at == NOW


def test_a_batch_that_fails_writes_nothing(store, rule, engine):
    first = fired(rule, "web-1")
    clash = replace(first, instance=replace(first.instance, labels={"other": "x"}))
    with pytest.raises(IntegrityError):  # the same rule and fingerprint twice
        store.apply([first, clash])
    assert count(engine, AlertInstance) == 0
    assert count(engine, AlertHistory) == 0
    assert count(engine, NotificationOutbox) == 0


def test_the_outbox_takes_one_notification_per_dedup_key(store, rule, engine):
    (written,) = store.apply([fired(rule)])
    again = fired(rule)
    store.apply([replace(again, instance=replace(again.instance, id=written.id))])
    assert count(engine, NotificationOutbox) == 1
    assert count(engine, AlertHistory) == 2  # history is append-only: both lines stay


def test_history_range_reads_every_entry_in_order_across_batches(store, rule):
    (a,) = store.apply([fired(rule, "web-1")])
    (b,) = store.apply([fired(rule, "web-2")])
    # Several entries share a timestamp, so batches must break ties on the id.
    lines = [
        InstanceChange(
            replace(a if i % 2 else b),
            history=[HistoryEntry(ts=NOW + i // 3, event=f"e{i}", actor="alice")],
        )
        for i in range(10)
    ]
    store.apply(lines)
    events = [h.event for h in store.history_range(NOW, NOW + 100, batch=3)]
    assert events == ["firing", "firing", *[f"e{i}" for i in range(10)]]
    assert [h.event for h in store.history_range(NOW + 1, NOW + 3, batch=2)] == [
        "e3",
        "e4",
        "e5",
        "e6",
        "e7",
        "e8",
    ]
    assert [h.event for h in store.history_range(NOW, NOW + 100, events=["firing"])] == [
        "firing",
        "firing",
    ]
    other = store.create_rule(RuleRecord(name="CPU", kind="metric", spec={}), "alice", NOW)
    assert list(store.history_range(NOW, NOW + 100, rule_id=other.id)) == []


def test_instances_are_listed_newest_first_by_state_and_paged(store, rule):
    store.apply([fired(rule, f"web-{i}") for i in range(5)])
    store.apply([InstanceChange(instance(rule, "db-1", state="normal", resolved_at=NOW))])
    page = store.list_instances(states=("firing",), limit=3)
    assert [i.fingerprint for i in page.items] == ["web-4", "web-3", "web-2"]
    rest = store.list_instances(states=("firing",), limit=3, cursor=page.next_cursor)
    assert [i.fingerprint for i in rest.items] == ["web-1", "web-0"]
    assert rest.next_cursor is None
    assert [i.fingerprint for i in store.list_instances(resolved=True).items] == ["db-1"]
    assert len(store.open_instances()) == 5


def test_rule_names_are_unique_and_a_replaced_rule_moves_its_instances_name(store, rule):
    with pytest.raises(DuplicateName):
        store.create_rule(replace(rule, id=None), "bob", NOW)
    (written,) = store.apply([fired(rule)])
    renamed = store.replace_rule(rule.id, replace(rule, name="Disk full"), "bob", NOW + 5)
    assert (renamed.name, renamed.version, renamed.updated_by) == ("Disk full", 2, "bob")
    assert (renamed.created_by, renamed.created_at) == ("alice", NOW)
    assert store.get_instance(written.id).rule_name == "Disk full"
    assert store.replace_rule(999_999, rule, "bob", NOW) is None


def test_deleting_a_rule_applies_its_changes_in_the_same_transaction(store, rule):
    (written,) = store.apply([fired(rule)])
    resolved = InstanceChange(
        replace(written, state="normal", resolved_at=NOW + 9),
        history=[HistoryEntry(ts=NOW + 9, event="resolved", reason="rule deleted")],
    )
    assert store.delete_rule(rule.id, [resolved])
    assert store.get_rule(rule.id) is None
    assert store.get_instance(written.id).state == "normal"
    assert [h.reason for h in store.history(written.id)] == ["", "rule deleted"]
    assert not store.delete_rule(rule.id, [])


def test_silences_are_listed_until_they_end_and_expire_now(store):
    weekly = {"days": [0], "start": "22:00", "end": "02:00"}
    kept = store.create_silence(
        SilenceRecord({"host": "web-1"}, NOW, NOW + 3600, weekly, "alice", "upgrade", NOW)
    )
    ended = store.create_silence(
        SilenceRecord({"host": "web-2"}, NOW - 90, NOW - 30, created_at=NOW - 90)
    )
    assert store.get_silence(kept.id) == kept
    assert kept.weekly == weekly
    assert [s.id for s in store.list_silences(active_at=NOW)] == [kept.id]
    assert [s.id for s in store.list_silences()] == [ended.id, kept.id]

    expired = store.expire_silence(kept.id, NOW + 60)
    assert expired.ends_at == NOW + 60
    assert store.list_silences(active_at=NOW + 60) == []
    # Expiring again, or an ended silence, keeps the end it had.
    assert store.expire_silence(kept.id, NOW + 120).ends_at == NOW + 60
    assert store.expire_silence(ended.id, NOW).ends_at == NOW - 30
    assert store.expire_silence(999_999, NOW) is None
