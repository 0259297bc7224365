"""The human layer of an alert, apart from evaluation: acknowledge (optionally until a
time), unacknowledge, comment, close once resolved, silence from the alert.

Each action is a pure function of the instance as stored, the actor and the time; it
returns the change to write (``AlertStore.apply``): the instance as it becomes (people's
columns only) and one history entry carrying the actor and the comment as its reason.
"""

from __future__ import annotations

from dataclasses import replace

from storage.alerts import PEOPLE_COLUMNS, HistoryEntry, InstanceChange, InstanceRecord


class NotAllowed(ValueError):
    """The action does not fit where the alert stands (acknowledging a resolved alert,
    closing an open one), or, with ``field``, one of its values cannot be."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _entry(instance: InstanceRecord, event: str, actor: str, reason: str, now: float):
    return HistoryEntry(
        ts=now,
        event=event,
        reason=reason,
        severity=instance.severity,
        value=instance.value,
        actor=actor,
    )


def _change(
    before: InstanceRecord, after: InstanceRecord, event: str, actor: str, reason: str, now: float
) -> InstanceChange:
    # People's columns only: what an evaluation wrote since ``before`` was read stays.
    return InstanceChange(
        after, history=[_entry(before, event, actor, reason, now)], columns=PEOPLE_COLUMNS
    )


def acknowledge(
    instance: InstanceRecord, actor: str, comment: str, now: float, until: float | None = None
) -> InstanceChange:
    """Acknowledge an open alert (again: a new comment and ``until``); repeats stop, and
    when ``until`` passes while it still fires it notifies again."""
    if not instance.is_open:
        raise NotAllowed(f"alert {instance.id} is not open ({_standing(instance)})")
    if until is not None and until <= now:
        raise NotAllowed("must be in the future", field="until")
    after = replace(instance, ack_by=actor, ack_at=now, ack_until=until, ack_comment=comment)
    return _change(instance, after, "acknowledged", actor, comment, now)


def unacknowledge(instance: InstanceRecord, actor: str, comment: str, now: float) -> InstanceChange:
    """Take an acknowledgement back: the alert notifies (and repeats) as before."""
    if not instance.acknowledged:
        raise NotAllowed(f"alert {instance.id} is not acknowledged")
    after = replace(instance, ack_by=None, ack_at=None, ack_until=None, ack_comment=None)
    return _change(instance, after, "unacknowledged", actor, comment, now)


def comment(instance: InstanceRecord, actor: str, text: str, now: float) -> InstanceChange:
    """Add a comment to the alert's history, whatever its state."""
    return _change(instance, instance, "commented", actor, text, now)


def close(instance: InstanceRecord, actor: str, text: str, now: float) -> InstanceChange:
    """Close a resolved alert by hand (done with: nothing more to do about it)."""
    if instance.state != "normal" or instance.resolved_at is None:
        raise NotAllowed(
            f"alert {instance.id} can be closed once it is resolved; it is {_standing(instance)}"
        )
    if instance.closed_at is not None:
        raise NotAllowed(f"alert {instance.id} is closed already")
    after = replace(instance, closed_by=actor, closed_at=now)
    return _change(instance, after, "closed", actor, text, now)


def silenced(instance: InstanceRecord, actor: str, text: str, now: float) -> InstanceChange:
    """Record that ``actor`` silenced the alert from the alert itself (``text`` says for
    how long and why); the silence is stored on its own."""
    return _change(instance, instance, "silenced", actor, text, now)


def _standing(instance: InstanceRecord) -> str:
    if instance.state != "normal":
        return instance.state
    if instance.closed_at is not None:
        return "closed"
    return "resolved" if instance.resolved_at is not None else "normal"
