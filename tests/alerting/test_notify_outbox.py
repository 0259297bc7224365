"""The rows the evaluation queues for a notification: one per channel, keyed so that the
same event is queued once, grouped by rule and channel."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from app.alerting.notification import AlertView
from app.alerting.notify import outbox_entries
from app.alerting.notify.outbox import KEY_CHARS, view_of
from storage.alerts import InstanceChange, InstanceRecord
from tests.alerting.notify_support import T0

INSTANCE = InstanceRecord(rule_id=7, rule_name="CPU high", fingerprint="abc", labels={"host": "a"})
VIEW = AlertView(
    id=0,
    rule_id=7,
    rule_name="CPU high",
    fingerprint="abc",
    status="firing",
    severity="critical",
    labels={"host": "a", "alertname": "CPU high", "severity": "critical"},
    annotations={"summary": "hot"},
    value=99.5,
    starts_at=T0,
    lines=({"message": "boom"},),
)


def test_one_row_per_channel_with_its_keys():
    entries = outbox_entries(INSTANCE, [1, 3, 1], "firing", VIEW, T0 + 1, T0)

    assert [e.channel_id for e in entries] == [1, 3]
    first = entries[0]
    assert first.dedup_key == f"7/abc:firing:{T0:.3f}:1"
    assert first.group_key == '7:1:{"alertname": "CPU high"}'
    assert (first.rule_id, first.event, first.created_at, first.next_attempt_at) == (
        7,
        "firing",
        T0 + 1,
        T0 + 1,
    )
    assert first.payload == asdict(VIEW)


def test_the_event_time_defaults_to_now():
    (entry,) = outbox_entries(INSTANCE, [2], "resolved", VIEW, T0)
    assert entry.dedup_key == f"7/abc:resolved:{T0:.3f}:2"


def test_a_group_key_fits_its_column_whatever_the_rule_s_name(alerts):
    name = "磁盘" * 50 + '"' * 100  # 200 characters, 300 once escaped in JSON
    rule = alerts.rule(name, [1])
    instance = InstanceRecord(rule.id, name, "abc", {}, state="firing")
    view = AlertView(**{**asdict(VIEW), "rule_name": name, "rule_id": rule.id, "lines": ()})
    other = AlertView(**{**asdict(view), "rule_name": name[:-1] + "!"})

    (entry,) = outbox_entries(instance, [1], "firing", view, T0)
    (longer,) = outbox_entries(instance, [1], "firing", other, T0)
    alerts.store.apply([InstanceChange(instance, (), [entry])])

    assert len(entry.group_key) <= KEY_CHARS
    assert entry.group_key.startswith(f"{rule.id}:1:sha256:")
    assert entry.group_key != longer.group_key
    assert alerts.rows()[0].group_key == entry.group_key


def test_an_unknown_event_is_refused():
    with pytest.raises(ValueError, match="unknown notification event"):
        outbox_entries(INSTANCE, [1], "pending", VIEW, T0)


def test_a_payload_gives_back_its_alert():
    assert view_of(asdict(VIEW) | {"added_later": 1}) == VIEW


def test_queueing_the_same_event_twice_writes_it_once(alerts):
    rule = alerts.rule("CPU high", [1])
    instance = InstanceRecord(rule.id, rule.name, "abc", {"host": "a"}, state="firing")
    entries = outbox_entries(instance, [1], "firing", VIEW, T0)
    (written,) = alerts.store.apply([InstanceChange(instance, (), entries)])
    alerts.store.apply([InstanceChange(written, (), entries)])

    (row,) = alerts.rows()
    assert (row.instance_id, row.status) == (written.id, "pending")
