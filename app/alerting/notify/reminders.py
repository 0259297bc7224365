"""Notifications that no evaluation makes: the repeat of an alert still firing after its
rule's ``repeat_interval``, the re-notification when an acknowledgement's ``until`` passes
while the alert still fires, and the notification for an alert that fired under a
silence when the silence (or one of its weekly maintenance windows) ends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from app.alerting.notification import AlertView
from app.alerting.notify.outbox import outbox_entries, view_of
from app.alerting.silences import matches, mute_ends
from storage.alerts import (
    AlertStore,
    Fence,
    HistoryEntry,
    InstanceRecord,
    RuleRecord,
    SilenceRecord,
)
from storage.delivery import DeliveryStore, Reminder

FIRING_STATES = ("firing", "recovering")
"""States in which receivers last heard that an alert fires."""
SILENCE_LOOKBACK = 86400.0
"""How long after a silence ended its end still notifies (if delivery was down)."""


def schedule_reminders(alerts: AlertStore, store: DeliveryStore, now: float, fence: Fence) -> int:
    """Queue the repeats, ends of acknowledgements and ends of silences due by ``now``,
    each with its instance's change in one fenced transaction; how many instances."""
    firing = alerts.list_instances(states=FIRING_STATES, limit=1_000_000).items
    if not firing:
        return 0
    rules = {r.id: r for r in alerts.list_rules()}
    ended = [
        (s, end)
        for s in alerts.list_silences(active_at=now - SILENCE_LOOKBACK)
        for end in mute_ends(s, now - SILENCE_LOOKBACK, now)
    ]
    due = []
    for instance in firing:
        rule = rules.get(instance.rule_id)
        if rule is None or not rule.enabled or not rule.channels:
            continue
        if owed := _owed(instance, rule, ended, now):
            due.append((instance, rule, owed))
    # The delivery log is read for the (few) instances owed something, not every round.
    payloads = store.last_payloads([instance.id for instance, _, _ in due])
    queued = 0
    for instance, rule, owed in due:
        view = _view(instance, payloads.get(instance.id), now)
        if _remind(store, _reminder(instance, rule, view, owed, now), fence):
            queued += 1
    return queued


def _owed(
    instance: InstanceRecord,
    rule: RuleRecord,
    ended: Sequence[tuple[SilenceRecord, float]],
    now: float,
) -> list[tuple[str, float | str]]:
    """The notifications (event, event time) ``instance`` is owed at ``now``."""
    owed: list[tuple[str, float | str]] = []
    if _ack_ran_out(instance, now):
        owed.append(("repeat", instance.ack_until))
    elif not instance.acknowledged and instance.notified_at is not None:
        repeat_at = instance.notified_at + rule.repeat_s
        if repeat_at <= now:
            owed.append(("repeat", repeat_at))
    labels = _labels(instance, rule)
    for s, end in ended:
        fired_under = instance.fired_at is not None and instance.fired_at < end
        if fired_under and matches(s.matchers, labels):
            owed.append(("firing", f"silence-{s.id}@{end:.0f}"))
    return owed


def _reminder(
    instance: InstanceRecord,
    rule: RuleRecord,
    view: AlertView,
    owed: Sequence[tuple[str, float | str]],
    now: float,
) -> Reminder:
    entries = [
        entry
        for event, ts in owed
        for entry in outbox_entries(instance, rule.channels, event, view, now, ts)
    ]
    clear_ack = _ack_ran_out(instance, now)
    history = []
    if clear_ack:
        history.append(
            HistoryEntry(
                ts=now,
                event="unacknowledged",
                reason="the acknowledgement's time ran out while the alert still fires",
                instance_id=instance.id,
                rule_id=instance.rule_id,
            )
        )
    return Reminder(instance.id, instance.notified_at, entries, now, clear_ack, history)


def _remind(store: DeliveryStore, reminder: Reminder, fence: Fence) -> bool:
    """Write ``reminder`` less the rows already queued; whether it queued any."""
    known = store.known_keys([e.dedup_key for e in reminder.entries])
    entries = [e for e in reminder.entries if e.dedup_key not in known]
    # A repeat or an acknowledgement's end already queued, yet due again: a write from
    # before it (an evaluation) put the instance back. Note it again, queue nothing.
    owed = reminder.clear_ack or any(e.event == "repeat" for e in reminder.entries)
    if not entries and not owed:
        return False
    written = replace(reminder, entries=entries, history=reminder.history if entries else ())
    return store.remind(written, fence) and bool(entries)


def _ack_ran_out(instance: InstanceRecord, now: float) -> bool:
    return instance.acknowledged and instance.ack_until is not None and instance.ack_until <= now


def _labels(instance: InstanceRecord, rule: RuleRecord) -> dict[str, str]:
    """The alert's labels as its notifications carry them (the rule's, the instance's,
    ``alertname`` and ``severity``)."""
    labels = {**rule.labels, **instance.labels, "alertname": rule.name}
    if instance.severity:
        labels["severity"] = instance.severity
    return labels


def _view(instance: InstanceRecord, payload: dict | None, now: float) -> AlertView:
    """The alert as last queued, firing now at the instance's severity and value; an
    instance never queued is shown from its own record."""
    labels = {**instance.labels, "alertname": instance.rule_name}
    if instance.severity:
        labels["severity"] = instance.severity
    if payload is None:
        return AlertView(
            id=instance.id,
            rule_id=instance.rule_id,
            rule_name=instance.rule_name,
            fingerprint=instance.fingerprint,
            status="firing",
            severity=instance.severity,
            labels=labels,
            annotations={},
            value=instance.value,
            starts_at=instance.fired_at or now,
        )
    last = view_of(payload)
    return replace(
        last,
        id=instance.id,
        status="firing",
        severity=instance.severity,
        labels={**last.labels, **labels},
        value=instance.value,
        ends_at=None,
    )
