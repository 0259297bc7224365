"""Alerts to act on in the alerting API tests: rules and instances written through the real
alert store, as the evaluation job writes them."""

from __future__ import annotations

import time
from dataclasses import replace

from app.alerting.rules import RuleBody, check, to_record
from storage.alerts import HistoryEntry, InstanceChange, InstanceRecord, RuleRecord
from storage.outbox import OutboxEntry

ALERTS = "/api/v1/admin/alerts"
RULES = ALERTS + "/rules"
SILENCES = ALERTS + "/silences"
DELIVERIES = ALERTS + "/deliveries"
EXPORT = ALERTS + "/export"


def metric_rule(name: str = "Disk almost full", **overrides) -> dict:
    """A metric rule body as the editor sends it."""
    body = {
        "name": name,
        "kind": "metric",
        "metric": "system_disk_used_percent",
        "matchers": {"mountpoint": "/"},
        "group_by": ["host", "mountpoint"],
        "reduce": "avg",
        "window": 300,
        "op": ">",
        "warning": 85,
        "warning_clear": 80,
        "critical": 95,
        "critical_clear": 92,
        "for": 60,
    }
    body.update(overrides)
    return body


def stored_rule(rt, name: str = "Disk almost full") -> RuleRecord:
    """A rule in the store (what the evaluation would work on)."""
    rule = check(RuleBody.model_validate(metric_rule(name)))
    return rt.alerts.create_rule(to_record(rule), "test", time.time())


def firing(
    rt,
    rule: RuleRecord,
    host: str = "web-1",
    *,
    severity: str = "critical",
    ts: float | None = None,
    channel_id: int | None = None,
) -> InstanceRecord:
    """A firing alert of ``rule`` on ``host``, with its history and, given a channel, one
    queued notification."""
    ts = time.time() - 120 if ts is None else ts
    labels = {"host": host, "mountpoint": "/"}
    instance = InstanceRecord(
        rule_id=rule.id,
        rule_name=rule.name,
        fingerprint=host,
        labels=labels,
        state="firing",
        severity=severity,
        value=97.5,
        active_at=ts - 60,
        fired_at=ts,
    )
    history = [
        HistoryEntry(ts=ts - 60, event="pending", from_state="normal", to_state="pending"),
        HistoryEntry(
            ts=ts,
            event="firing",
            from_state="pending",
            to_state="firing",
            severity=severity,
            value=97.5,
            reason="value 97.5 > threshold",
        ),
    ]
    outbox = []
    if channel_id is not None:
        outbox.append(
            OutboxEntry(
                dedup_key=f"{rule.id}:{host}:firing:{ts}",
                group_key=str(rule.id),
                channel_id=channel_id,
                rule_id=rule.id,
                event="firing",
                payload={},
                created_at=ts,
                next_attempt_at=ts,
            )
        )
    [written] = rt.alerts.apply([InstanceChange(instance, history, outbox)])
    return written


def resolve(rt, instance: InstanceRecord, ts: float | None = None) -> InstanceRecord:
    """``instance`` resolved by the evaluation."""
    ts = time.time() - 10 if ts is None else ts
    after = replace(instance, state="normal", severity=None, resolved_at=ts)
    entry = HistoryEntry(
        ts=ts, event="resolved", from_state=instance.state, to_state="normal", reason="cleared"
    )
    [written] = rt.alerts.apply([InstanceChange(after, [entry])])
    return written
