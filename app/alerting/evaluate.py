"""Evaluation: each due rule observed, its instances advanced by the state machine, and
every transition written with its history and notifications in one fenced transaction.
Also the preview: the same engine run over a past range, for tuning a rule before saving.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from app.alerting import engine
from app.alerting.engine import ACTIVE, Instance, Result, Transition
from app.alerting.observe import Observation, fingerprint, matching_lines, observe
from app.alerting.rules import Rule, from_record
from storage.alerts import AlertStore, Fence, HistoryEntry, InstanceChange, InstanceRecord
from storage.leader import NotLeader
from storage.live import ALERTS_CHANNEL, LiveBus
from storage.logs import LogStore
from storage.metrics import MetricsStore
from storage.outbox import OutboxEntry

log = logging.getLogger(__name__)

NOTIFYING = frozenset({"firing", "severity", "resolved", "nodata", "error"})
"""Events that are sent to a rule's channels."""
Enqueue = Callable[[InstanceRecord, Rule, str, float], list[OutboxEntry]]
"""Builds the outbox rows of one notifying event of an instance."""


def event_of(t: Transition) -> str:
    """The name of a transition's event: ``pending``, ``firing``, ``severity``,
    ``recovering``, ``resolved``, ``nodata``, ``error`` or ``normal`` (pending cleared)."""
    if t.to_state == "normal":
        return "resolved" if t.from_state in ACTIVE else "normal"
    if t.to_state == "firing" and t.from_state == "firing":
        return "severity"
    return t.to_state


# -- the engine's instance in storage -----------------------------------------------------

_MACHINE = ("recovering_at", "pending_to", "missing", "changes", "quiet_since")


def machine_of(record: InstanceRecord) -> Instance:
    """The state machine's view of a stored instance."""
    kept = {k: v for k, v in record.machine.items() if k in _MACHINE}
    if "changes" in kept:
        kept["changes"] = tuple(kept["changes"])
    return Instance(
        state=record.state,  # type: ignore[arg-type]
        # A resolved alert keeps its last severity for people; the machine holds none.
        severity=None if record.state == "normal" else record.severity,  # type: ignore[arg-type]
        value=record.value,
        active_at=record.active_at,
        fired_at=record.fired_at,
        resolved_at=record.resolved_at,
        flapping=record.flapping,
        **kept,
    )


def stored(record: InstanceRecord, instance: Instance, now: float) -> InstanceRecord:
    """``record`` updated to where the state machine put it at ``now``."""
    machine = asdict(instance)
    new_episode = record.state == "normal" and instance.state != "normal"
    updated = replace(
        record,
        state=instance.state,
        severity=instance.severity if instance.state != "normal" else record.severity,
        value=instance.value,
        active_at=instance.active_at,
        fired_at=instance.fired_at,
        resolved_at=instance.resolved_at,
        flapping=instance.flapping,
        machine={k: machine[k] for k in _MACHINE},
        evaluated_at=now,
    )
    if new_episode:
        # A new episode is a new alert for people: last time's acknowledgement is over.
        updated = replace(
            updated,
            ack_by=None,
            ack_at=None,
            ack_until=None,
            ack_comment=None,
            closed_by=None,
            closed_at=None,
            lines=[],
        )
    return updated


# -- evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one rule's evaluation changed: the written instances and their events."""

    rule_id: int
    events: list[tuple[str, InstanceRecord]]


def advance(
    rule: Rule,
    instances: Sequence[InstanceRecord],
    observations: dict[str, Observation],
    now: float,
) -> list[tuple[InstanceRecord, list[Transition]]]:
    """Each instance stepped by its observation (or counted missing), plus new instances
    for new label groups that left the normal state; instances that did not change are
    left out."""
    by_fp = {i.fingerprint: i for i in instances}
    out = []
    for fp in sorted(set(by_fp) | set(observations)):
        record = by_fp.get(fp)
        observation = observations.get(fp)
        if record is None:
            assert observation is not None
            record = InstanceRecord(rule.id or 0, rule.name, fp, observation.labels)
        current = machine_of(record)
        if observation is None:
            moved, transitions = engine.missing(current, now, rule.policy)
        else:
            moved, transitions = engine.step(
                current, observation.result, now, rule.thresholds, rule.policy
            )
        if record.id is None and moved.state == "normal":
            continue  # a label set that never left normal is not an alert
        if moved == current and not transitions:
            continue
        out.append((stored(record, moved, now), transitions))
    return out


def history_of(transitions: Sequence[Transition]) -> list[HistoryEntry]:
    """The history entries of ``transitions``."""
    return [
        HistoryEntry(
            ts=t.ts,
            event=event_of(t),
            reason=t.reason,
            from_state=t.from_state,
            to_state=t.to_state,
            severity=t.severity,
            value=t.value,
        )
        for t in transitions
    ]


def evaluate_rule(
    rule: Rule,
    store: AlertStore,
    metrics: MetricsStore,
    logs: LogStore,
    now: float,
    enqueue: Enqueue,
    fence: Fence | None = None,
) -> Outcome:
    """Evaluate ``rule`` at ``now`` and write what changed; a failing query is the
    rule's Error result, not an exception."""
    instances = store.instances(rule.id or 0)
    try:
        observations = observe(rule, metrics, logs, now, [i.labels for i in instances])
    except SQLAlchemyError as exc:
        log.warning("alert rule %r: evaluation failed: %s", rule.name, exc)
        reason = type(exc).__name__
        targets = instances or [InstanceRecord(rule.id or 0, rule.name, fingerprint({}), {})]
        observations = {i.fingerprint: Observation(i.labels, Result(error=reason)) for i in targets}
    changes = []
    events: list[tuple[str, InstanceRecord]] = []
    for record, transitions in advance(rule, instances, observations, now):
        observation = observations.get(record.fingerprint)
        if rule.kind == "log" and record.state == "firing" and observation is not None:
            lines = matching_lines(rule, logs, record.labels, now - rule.window, now)
            record = replace(record, lines=list(lines))
        named = [event_of(t) for t in transitions]
        notify = [
            e
            for e, t in zip(named, transitions, strict=True)
            if e in NOTIFYING and not (e == "firing" and t.from_state == "recovering")
        ]
        if any(e in ("firing", "severity") for e in notify):
            record = replace(record, notified_at=now)
        outbox = [row for e in notify for row in enqueue(record, rule, e, now)]
        changes.append(InstanceChange(record, history_of(transitions), outbox))
        events += [(e, record) for e in named]
    written = store.apply(changes, evaluated=(rule.id or 0, now), fence=fence)
    by_fp = {w.fingerprint: w for w in written}
    return Outcome(rule.id or 0, [(e, by_fp[r.fingerprint]) for e, r in events])


def evaluate_due(
    store: AlertStore,
    metrics: MetricsStore,
    logs: LogStore,
    bus: LiveBus,
    now: float,
    enqueue: Enqueue,
    fence: Fence | None = None,
) -> int:
    """Evaluate every rule that is due at ``now`` and publish each event after its
    commit; returns how many rules were evaluated."""
    done = 0
    for record in store.due_rules(now):
        try:
            rule = from_record(record)
            outcome = evaluate_rule(rule, store, metrics, logs, now, enqueue, fence)
        except NotLeader:
            raise
        except (SQLAlchemyError, ValueError) as exc:
            log.error("alert rule %r not evaluated: %s", record.name, exc)
            continue
        done += 1
        for event, instance in outcome.events:
            bus.publish(ALERTS_CHANNEL, {"type": "alert", "event": event, "alert": item(instance)})
    return done


def iso(ts: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC (None stays None)."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def item(instance: InstanceRecord, silenced: bool = False) -> dict:
    """An alert as the API and the live stream show it."""
    acknowledged = None
    if instance.ack_at is not None:
        acknowledged = {
            "by": instance.ack_by,
            "at": iso(instance.ack_at),
            "comment": instance.ack_comment,
            "until": iso(instance.ack_until),
        }
    return {
        "id": instance.id,
        "rule_id": instance.rule_id,
        "rule_name": instance.rule_name,
        "state": instance.state,
        "severity": instance.severity,
        "labels": instance.labels,
        "value": instance.value,
        "active_at": iso(instance.active_at),
        "fired_at": iso(instance.fired_at),
        "resolved_at": iso(instance.resolved_at),
        "acknowledged": acknowledged,
        "silenced": silenced,
        "flapping": instance.flapping,
        "closed": instance.closed_at is not None,
    }


# -- preview ------------------------------------------------------------------------------


def preview(
    rule: Rule,
    metrics: MetricsStore,
    logs: LogStore,
    start: float,
    end: float,
    max_points: int = 300,
) -> dict:
    """The rule's values over [start, end] at up to ``max_points`` evaluation times and
    the transitions the engine would have made, per label group."""
    step = max(float(rule.interval), (end - start) / max_points)
    times = [start + step * (i + 1) for i in range(int((end - start) // step))]
    series: dict[str, dict] = {}
    machines: dict[str, Instance] = {}
    transitions: list[dict] = []
    for now in times:
        known = [s["labels"] for s in series.values()]
        for fp, observation in observe(rule, metrics, logs, now, known).items():
            entry = series.setdefault(fp, {"labels": observation.labels, "points": []})
            entry["points"].append([now, observation.result.value])
            moved, made = engine.step(
                machines.get(fp, Instance()), observation.result, now, rule.thresholds, rule.policy
            )
            machines[fp] = moved
            transitions += [
                {
                    "ts": t.ts,
                    "labels": observation.labels,
                    "event": event_of(t),
                    "from": t.from_state,
                    "to": t.to_state,
                    "severity": t.severity,
                    "value": t.value,
                    "reason": t.reason,
                }
                for t in made
            ]
    t = rule.thresholds
    return {
        "series": [s for s in series.values() if any(v is not None for _, v in s["points"])],
        "thresholds": {
            "op": t.op,
            "warning": t.warning,
            "warning_clear": t.warning_clear,
            "critical": t.critical,
            "critical_clear": t.critical_clear,
        },
        "transitions": transitions,
        "step": step,
    }
