"""Evaluation: each due rule observed, its instances advanced by the state machine, and
every transition written with its history and notifications in one fenced transaction.
Also the preview: the same engine run over a past range, for tuning a rule before saving.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from app.alerting import engine
from app.alerting.engine import ACTIVE, Instance, Result, Transition
from app.alerting.observe import (
    Observation,
    Sources,
    fingerprint,
    group_key,
    matching_lines,
    observe,
)
from app.alerting.rules import Rule, from_record
from app.alerting.silences import silenced_by
from app.alerting.views import alert_labels
from storage.alerts import (
    MACHINE_COLUMNS,
    PEOPLE_COLUMNS,
    AlertStore,
    Fence,
    HistoryEntry,
    InstanceChange,
    InstanceRecord,
    RuleRecord,
)
from storage.live import ALERTS_CHANNEL, LiveBus
from storage.log_export import iso_time
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


_AT_REST = Instance()


def advance(
    rule: Rule,
    instances: Sequence[InstanceRecord],
    observations: dict[tuple, Observation],
    now: float,
) -> list[tuple[InstanceRecord, list[Transition]]]:
    """Each instance stepped by its observation (or counted missing), plus new instances
    for new label groups that left the normal state; instances with nothing to write
    (unchanged, or normal with only a new value) are left out."""
    by_key = {group_key(i.labels): i for i in instances}
    out = []
    for key in sorted(set(by_key) | set(observations)):
        record = by_key.get(key)
        observation = observations.get(key)
        at_rest = record is None or (record.state == "normal" and not record.flapping)
        if at_rest:
            # Most groups are normal and stay so (or are gone): no state to step for them.
            if observation is None:
                continue
            wanted = engine.target(observation.result, _AT_REST, rule.thresholds, rule.policy)
            if wanted is None or wanted[0] == "normal":
                continue
        if record is None:
            assert observation is not None
            labels = observation.labels
            record = InstanceRecord(rule.id or 0, rule.name, fingerprint(labels), labels)
        current = machine_of(record)
        if observation is None:
            moved, transitions = engine.missing(current, now, rule.policy)
        else:
            moved, transitions = engine.step(
                current, observation.result, now, rule.thresholds, rule.policy
            )
        if record.id is None and moved.state == "normal":
            continue  # a label set that never left normal is not an alert
        unchanged = replace(moved, value=current.value) == current
        if (
            not transitions
            and unchanged
            and (moved.value == current.value or moved.state == "normal")
        ):
            continue  # nothing new, or only the value of an alert that is not open
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


Planned = tuple[list[InstanceChange], list[tuple[str, InstanceRecord]]]
"""A rule's changes to write and its events (name, instance) to publish after commit."""


def plan(
    rule: Rule,
    instances: Sequence[InstanceRecord],
    sources: Sources,
    now: float,
    enqueue: Enqueue,
) -> Planned:
    """What evaluating ``rule`` at ``now`` changes; a failing query is the rule's Error
    result, not an exception."""
    try:
        observations = observe(rule, sources, now, [i.labels for i in instances])
    except SQLAlchemyError as exc:
        log.warning("alert rule %r: evaluation failed: %s", rule.name, exc)
        reason = type(exc).__name__
        targets = instances or [InstanceRecord(rule.id or 0, rule.name, fingerprint({}), {})]
        observations = {
            group_key(i.labels): Observation(i.labels, Result(error=reason)) for i in targets
        }
    changes: list[InstanceChange] = []
    events: list[tuple[str, InstanceRecord]] = []
    for record, transitions in advance(rule, instances, observations, now):
        if rule.kind != "metric" and record.state == "firing":
            lines = matching_lines(rule, sources.logs, record.labels, now - rule.window, now)
            record = replace(record, lines=list(lines))
        named = [event_of(t) for t in transitions]
        notify = [
            e
            for e, t in zip(named, transitions, strict=True)
            if e in NOTIFYING and not (e == "firing" and t.from_state == "recovering")
        ]
        notifies = any(e in ("firing", "severity") for e in notify)
        if notifies:
            record = replace(record, notified_at=now)
        outbox = [row for e in notify for row in enqueue(record, rule, e, now)]
        # A new episode starts the people's side afresh; otherwise theirs is left alone.
        episode = any(t.from_state == "normal" for t in transitions)
        columns = (
            *MACHINE_COLUMNS,
            *(("notified_at",) if notifies else ()),
            *(PEOPLE_COLUMNS if episode else ()),
        )
        changes.append(InstanceChange(record, history_of(transitions), outbox, columns))
        events += [(e, record) for e in named]
    return changes, events


def _published(
    written: Sequence[InstanceRecord], events: Sequence[tuple[str, InstanceRecord]]
) -> list[tuple[str, InstanceRecord]]:
    """Events with the instances as written (new ones now have their ids)."""
    by_key = {(w.rule_id, w.fingerprint): w for w in written}
    return [(e, by_key[(r.rule_id, r.fingerprint)]) for e, r in events]


def evaluate_rule(
    rule: Rule,
    store: AlertStore,
    metrics: MetricsStore,
    logs: LogStore,
    now: float,
    enqueue: Enqueue,
    fence: Fence | None = None,
) -> list[tuple[str, InstanceRecord]]:
    """Evaluate one rule at ``now`` and write what changed; returns its events."""
    changes, events = plan(
        rule, store.instances(rule.id or 0), Sources(metrics, logs), now, enqueue
    )
    written = store.apply(changes, evaluated=([rule.id or 0], now), fence=fence)
    return _published(written, events)


class Evaluator:
    """Evaluates the due rules in cycles: one read of their instances and series, the
    windows on one connection, and one fenced transaction for everything they changed.
    Each rule is parsed once per version."""

    def __init__(
        self,
        store: AlertStore,
        metrics: MetricsStore,
        logs: LogStore,
        bus: LiveBus,
        enqueue: Enqueue,
        fence: Fence | None = None,
        on_queued: Callable[[], object] | None = None,
    ) -> None:
        """``on_queued`` runs after a cycle that queued notifications (the delivery, so
        they need not wait for its next round)."""
        self.on_queued = on_queued
        self.store = store
        self.metrics = metrics
        self.logs = logs
        self.bus = bus
        self.enqueue = enqueue
        self.fence = fence
        self._rules: dict[int, tuple[int, float | None, Rule]] = {}

    def _rule(self, record: RuleRecord) -> Rule | None:
        cached = self._rules.get(record.id or 0)
        if cached is not None and cached[:2] == (record.version, record.updated_at):
            return cached[2]
        try:
            rule = from_record(record)
        except ValueError as exc:
            log.error("alert rule %r cannot be evaluated: %s", record.name, exc)
            return None
        self._rules[record.id or 0] = (record.version, record.updated_at, rule)
        return rule

    def run(self, now: float) -> int:
        """Evaluate every rule due at ``now``, then publish each event after the commit;
        returns how many rules were evaluated."""
        rules = [r for r in map(self._rule, self.store.due_rules(now)) if r is not None]
        if not rules:
            return 0
        instances = self.store.instances_of(r.id or 0 for r in rules)
        series = self.metrics.series_of(r.metric for r in rules if r.metric)
        changes: list[InstanceChange] = []
        events: list[tuple[str, InstanceRecord]] = []
        with self.metrics.reading() as conn:
            sources = Sources(self.metrics, self.logs, series, conn)
            for rule in rules:
                planned = plan(rule, instances[rule.id or 0], sources, now, self.enqueue)
                changes += planned[0]
                events += planned[1]
        evaluated = [r.id or 0 for r in rules]
        written = self.store.apply(changes, evaluated=(evaluated, now), fence=self.fence)
        published = _published(written, events)
        silences = self.store.list_silences(active_at=now) if published else []
        by_id = {r.id: r for r in rules}
        for event, instance in published:
            labels = alert_labels(by_id[instance.rule_id], instance)
            shown = item(instance, silenced=bool(silenced_by(silences, labels, now)))
            self.bus.publish(ALERTS_CHANNEL, {"type": "alert", "event": event, "alert": shown})
        if self.on_queued is not None and any(c.outbox for c in changes):
            self.on_queued()
        return len(rules)


def evaluate_due(
    store: AlertStore,
    metrics: MetricsStore,
    logs: LogStore,
    bus: LiveBus,
    now: float,
    enqueue: Enqueue,
    fence: Fence | None = None,
) -> int:
    """One cycle of a new ``Evaluator``: evaluate every rule due at ``now``."""
    return Evaluator(store, metrics, logs, bus, enqueue, fence).run(now)


def iso(ts: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC, as every response and export writes times
    (``2026-11-28T10:00:00Z``); None stays None."""
    return None if ts is None else iso_time(datetime.fromtimestamp(ts, UTC))


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
    series: dict[tuple, dict] = {}
    machines: dict[tuple, Instance] = {}
    transitions: list[dict] = []
    series_of = metrics.series_of([rule.metric]) if rule.metric else None
    with metrics.reading() as conn:
        sources = Sources(metrics, logs, series_of, conn)
        for now in times:
            known = [s["labels"] for s in series.values()]
            for key, observation in observe(rule, sources, now, known).items():
                entry = series.setdefault(key, {"labels": observation.labels, "points": []})
                entry["points"].append([now, observation.result.value])
                moved, made = engine.step(
                    machines.get(key, Instance()),
                    observation.result,
                    now,
                    rule.thresholds,
                    rule.policy,
                )
                machines[key] = moved
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
