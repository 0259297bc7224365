"""An alert as notifications show it: its labels (with ``alertname`` and ``severity``),
its rendered annotations and its links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlencode

from app.alerting.notification import AlertView
from app.alerting.notify import outbox_entries
from app.alerting.rules import Rule
from app.alerting.templates import render
from storage.alerts import InstanceRecord
from storage.outbox import OutboxEntry


def alert_labels(rule: Rule, instance: InstanceRecord) -> dict[str, str]:
    """The rule's labels, the instance's and ``alertname`` and ``severity``, as
    Alertmanager labels an alert."""
    labels = {**rule.labels, **instance.labels, "alertname": rule.name}
    if instance.severity:
        labels["severity"] = instance.severity
    return labels


def alert_url(external_url: str, instance: InstanceRecord) -> str:
    """The Alerts page opened at this alert (by rule and fingerprint: a new alert's id is
    not known before its transaction commits)."""
    query = urlencode({"rule": instance.rule_id, "alert": instance.fingerprint})
    return f"{external_url}/alerts?{query}"


def view(
    rule: Rule, instance: InstanceRecord, event: str, now: float, external_url: str
) -> AlertView:
    """``instance`` as a notification of ``event`` carries it."""
    labels = alert_labels(rule, instance)
    url = alert_url(external_url, instance)
    started = instance.fired_at or instance.active_at or now
    context = {
        "labels": labels,
        "value": instance.value,
        "severity": instance.severity,
        "rule": rule.name,
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(),
        "url": url,
        "lines": list(instance.lines),
    }
    annotations = {key: render(text, **context) for key, text in rule.annotations.items()}
    resolved = event == "resolved"
    return AlertView(
        id=instance.id or 0,
        rule_id=instance.rule_id,
        rule_name=rule.name,
        fingerprint=instance.fingerprint,
        status="resolved" if resolved else "firing",
        severity=instance.severity,
        labels=labels,
        annotations=annotations,
        value=instance.value,
        starts_at=started,
        ends_at=now if resolved else None,
        generator_url=f"{external_url}/alerts?{urlencode({'rule': rule.id})}",
        ack_url=url,
        lines=tuple(instance.lines),
    )


def notifier(external_url: str) -> Callable[[InstanceRecord, Rule, str, float], list[OutboxEntry]]:
    """What the evaluation queues for one notifying event: a row per channel of the rule,
    carrying the alert as its notification shows it."""

    def enqueue(instance: InstanceRecord, rule: Rule, event: str, now: float) -> list[OutboxEntry]:
        shown = view(rule, instance, event, now, external_url)
        return outbox_entries(instance, rule.channels, event, shown, now)

    return enqueue
