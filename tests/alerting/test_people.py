"""The human layer: acknowledge, unacknowledge, comment, close, each with its history line."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.alerting import people
from storage.alerts import PEOPLE_COLUMNS, InstanceRecord

NOW = 1_800_000_000.0
FIRING = InstanceRecord(
    rule_id=3,
    rule_name="Disk almost full",
    fingerprint="f",
    labels={"host": "web-1"},
    state="firing",
    severity="critical",
    value=97.0,
    active_at=NOW - 600,
    fired_at=NOW - 540,
    id=7,
)
RESOLVED = replace(FIRING, state="normal", severity=None, resolved_at=NOW - 60)


def test_acknowledging_an_open_alert_records_who_when_why_and_until_when():
    change = people.acknowledge(FIRING, "alice", "looking at it", NOW, until=NOW + 3600)
    after = change.instance
    assert (after.ack_by, after.ack_at, after.ack_until, after.ack_comment) == (
        "alice",
        NOW,
        NOW + 3600,
        "looking at it",
    )
    assert after.state == "firing" and after.fired_at == FIRING.fired_at
    (entry,) = change.history
    assert (entry.event, entry.actor, entry.reason, entry.ts) == (
        "acknowledged",
        "alice",
        "looking at it",
        NOW,
    )
    assert (entry.severity, entry.value) == ("critical", 97.0)
    assert change.outbox == ()


@pytest.mark.parametrize("state", ["pending", "recovering", "nodata", "error"])
def test_every_open_state_can_be_acknowledged(state):
    change = people.acknowledge(replace(FIRING, state=state), "bob", "", NOW)
    assert change.instance.ack_by == "bob" and change.instance.ack_until is None


def test_a_resolved_alert_cannot_be_acknowledged():
    with pytest.raises(people.NotAllowed, match="not open \\(resolved\\)") as refused:
        people.acknowledge(RESOLVED, "alice", "", NOW)
    assert refused.value.field is None


def test_until_must_be_in_the_future():
    with pytest.raises(people.NotAllowed) as refused:
        people.acknowledge(FIRING, "alice", "", NOW, until=NOW)
    assert refused.value.field == "until"


def test_acknowledging_again_replaces_the_comment_and_until():
    first = people.acknowledge(FIRING, "alice", "first", NOW, until=NOW + 60).instance
    again = people.acknowledge(first, "bob", "second", NOW + 10).instance
    assert (again.ack_by, again.ack_comment, again.ack_until) == ("bob", "second", None)


def test_unacknowledging_clears_the_acknowledgement():
    acked = people.acknowledge(FIRING, "alice", "mine", NOW).instance
    change = people.unacknowledge(acked, "bob", "not fixed", NOW + 5)
    after = change.instance
    assert (after.ack_by, after.ack_at, after.ack_until, after.ack_comment) == (None,) * 4
    assert [(h.event, h.actor, h.reason) for h in change.history] == [
        ("unacknowledged", "bob", "not fixed")
    ]
    with pytest.raises(people.NotAllowed, match="not acknowledged"):
        people.unacknowledge(FIRING, "bob", "", NOW)


def test_a_comment_changes_nothing_but_the_history_in_any_state():
    for instance in (FIRING, RESOLVED):
        change = people.comment(instance, "carol", "disk swap planned", NOW)
        assert change.instance == instance
        assert [(h.event, h.actor, h.reason) for h in change.history] == [
            ("commented", "carol", "disk swap planned")
        ]


def test_closing_is_allowed_once_resolved_and_only_once():
    change = people.close(RESOLVED, "alice", "replaced the disk", NOW)
    assert (change.instance.closed_by, change.instance.closed_at) == ("alice", NOW)
    assert [(h.event, h.reason) for h in change.history] == [("closed", "replaced the disk")]
    with pytest.raises(people.NotAllowed, match="closed already"):
        people.close(change.instance, "bob", "", NOW + 1)


@pytest.mark.parametrize(
    ("instance", "standing"),
    [
        (FIRING, "firing"),
        (replace(FIRING, state="pending"), "pending"),
        (replace(FIRING, state="normal", fired_at=None), "normal"),
    ],
)
def test_an_alert_that_is_not_resolved_cannot_be_closed(instance, standing):
    with pytest.raises(people.NotAllowed, match=f"once it is resolved; it is {standing}$"):
        people.close(instance, "alice", "", NOW)


def test_silencing_from_the_alert_is_a_line_of_its_history():
    change = people.silenced(FIRING, "alice", "silenced until 13:00: deploy", NOW)
    assert change.instance == FIRING
    assert [(h.event, h.actor, h.reason) for h in change.history] == [
        ("silenced", "alice", "silenced until 13:00: deploy")
    ]


def test_every_action_writes_only_the_peoples_columns():
    acked = people.acknowledge(FIRING, "alice", "", NOW)
    changes = [
        acked,
        people.unacknowledge(acked.instance, "alice", "", NOW),
        people.comment(FIRING, "alice", "", NOW),
        people.close(RESOLVED, "alice", "", NOW),
        people.silenced(FIRING, "alice", "", NOW),
    ]
    assert {tuple(c.columns) for c in changes} == {PEOPLE_COLUMNS}
    assert not set(PEOPLE_COLUMNS) & {"state", "severity", "value", "machine"}
