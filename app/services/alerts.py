"""Alerts for the API and the Alerts page: instances as people see them, the human
actions on them, rules, silences, the delivery log and the history download.

Every function takes the runtime and plain values and returns plain dicts (times as
ISO 8601 UTC, as ``app.alerting.evaluate`` writes them); it raises the services' domain
errors (``NotFound``, ``Conflict``, ``FieldError``, ``Invalid``). Every change is
audited and, for an alert, published on the live bus (``ALERTS_CHANNEL``) after it is
committed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from app.alerting import evaluate, people
from app.alerting.evaluate import iso
from app.alerting.rules import Rule, RuleBody, RuleError, check, from_record, to_body, to_record
from app.alerting.silences import ALERTNAME, silenced_by
from app.alerting.silences import state as silence_state
from app.alerting.views import alert_labels, notifier
from app.runtime import Runtime
from app.services import Conflict, FieldError, Invalid, NotFound
from app.services.accounts import Actor
from app.services.downloads import Download, Table, file_name, table_download, utc_iso
from app.services.timerange import check_range
from storage.alerts import (
    MACHINE_COLUMNS,
    OPEN_STATES,
    DuplicateName,
    HistoryEntry,
    InstanceChange,
    InstanceRecord,
    RuleRecord,
    SilenceRecord,
)
from storage.live import ALERTS_CHANNEL
from storage.outbox import OutboxRecord

STATE_FILTERS: dict[str, tuple[str, ...] | None] = {
    "open": OPEN_STATES,
    "firing": ("firing", "recovering"),
    "resolved": None,
    "all": None,
}
"""The ``state`` filter of the alert list and the instance states each one means."""
SEVERITY_ORDER = {"critical": 0, "warning": 1}
NOTIFICATIONS = 100
"""The newest outbox rows shown with one alert."""
HISTORY_COLUMNS = (
    "ts",
    "alert_id",
    "rule",
    "labels",
    "event",
    "from",
    "to",
    "severity",
    "value",
    "reason",
    "actor",
)
UNKNOWN_METRIC = "unknown metric {name!r}: accepted with a warning: it may appear later"
PREVIEW_SPAN = 86400
"""Seconds a preview covers when it names no start: the last 24 h."""
PREVIEW_MAX_SPAN = 31 * 86400


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _audit(rt: Runtime, actor: Actor, action: str, target: str, **details) -> None:
    rt.accounts.audit(
        action,
        actor=actor.account.name,
        target=target,
        remote_addr=actor.remote_addr,
        details=details,
    )


def publish(rt: Runtime, event: str, alert: dict) -> None:
    """Tell the alerts stream and every page's toasts that ``alert`` changed."""
    rt.bus.publish(ALERTS_CHANNEL, {"type": "alert", "event": event, "alert": alert})


# -- alerts --------------------------------------------------------------------------------


def rules_by_id(rt: Runtime) -> dict[int, Rule]:
    """Every stored rule, checked, by id (one that no longer checks is left out)."""
    rules = {}
    for record in rt.alerts.list_rules():
        try:
            rules[record.id] = from_record(record)
        except ValueError:
            continue
    return rules


def labels_of(instance: InstanceRecord, rules: dict[int, Rule]) -> dict[str, str]:
    """The labels notifications and silences see on an alert (``alertname``, ``severity``,
    the rule's labels and its own); for an alert whose rule is gone, all but the rule's."""
    rule = rules.get(instance.rule_id)
    if rule is not None:
        return alert_labels(rule, instance)
    labels = {**instance.labels, ALERTNAME: instance.rule_name}
    return labels | ({"severity": instance.severity} if instance.severity else {})


class _Viewer:
    """Shows alerts at one moment, against the rules and silences read once for all."""

    def __init__(self, rt: Runtime, now: float) -> None:
        self.now = now
        self.rules = rules_by_id(rt)
        self.silences = rt.alerts.list_silences(active_at=now)

    def __call__(self, instance: InstanceRecord) -> dict:
        muting = silenced_by(self.silences, labels_of(instance, self.rules), self.now)
        return alert_dict(instance, muting)


def alert_dict(instance: InstanceRecord, muting: Sequence[SilenceRecord] = ()) -> dict:
    """One alert as the API, the page and the alerts stream show it (the evaluation's
    ``item``), with the ids of the silences ``muting`` it now."""
    return {
        **evaluate.item(instance, silenced=bool(muting)),
        "value": _finite(instance.value),
        "silences": [s.id for s in muting],
    }


def list_alerts(
    rt: Runtime,
    *,
    now: float,
    state: str = "open",
    severity: str | None = None,
    rule_id: int | None = None,
    start: float | None = None,
    end: float | None = None,
    cursor: int | None = None,
    limit: int = 100,
) -> dict:
    """Alerts newest first, ``{"items", "next_cursor"}``: ``state`` open (pending, firing,
    recovering, NoData, Error), firing, resolved or all; active within ``start``-``end``."""
    if state not in STATE_FILTERS:
        raise FieldError("state", f"must be one of {', '.join(STATE_FILTERS)}")
    check_range(start, end)
    show = _Viewer(rt, now)
    page = rt.alerts.list_instances(
        states=STATE_FILTERS[state],
        resolved=state == "resolved",
        severity=severity,
        rule_id=rule_id,
        start=start,
        end=end,
        cursor=cursor,
        limit=limit,
    )
    return {"items": [show(i) for i in page.items], "next_cursor": page.next_cursor}


def open_alerts(rt: Runtime, now: float) -> list[dict]:
    """Every open alert, the most severe first, then the longest active."""
    show = _Viewer(rt, now)
    instances = sorted(
        rt.alerts.open_instances(),
        key=lambda i: (SEVERITY_ORDER.get(i.severity or "", 2), i.active_at or now, i.id),
    )
    return [show(i) for i in instances]


def history_dict(entry: HistoryEntry) -> dict:
    """One line of an alert's history."""
    return {
        "id": entry.id,
        "ts": iso(entry.ts),
        "event": entry.event,
        "from": entry.from_state,
        "to": entry.to_state,
        "severity": entry.severity,
        "value": _finite(entry.value),
        "reason": entry.reason,
        "actor": entry.actor,
    }


def delivery_dict(record: OutboxRecord, channel_names: dict[int, str]) -> dict:
    """One row of the delivery log: a notification to one channel and how it went."""
    return {
        "id": record.id,
        "channel_id": record.channel_id,
        "channel": channel_names.get(record.channel_id),
        "rule_id": record.rule_id,
        "alert_id": record.instance_id,
        "event": record.event,
        "status": record.status,
        "attempts": record.attempts,
        "next_attempt_at": iso(record.next_attempt_at),
        "last_code": record.last_code,
        "last_answer": record.last_answer,
        "created_at": iso(record.created_at),
        "sent_at": iso(record.sent_at),
    }


def _channel_names(rt: Runtime) -> dict[int, str]:
    return {c.id: c.name for c in rt.channels.list() if c.id is not None}


def _instance(rt: Runtime, alert_id: int) -> InstanceRecord:
    instance = rt.alerts.get_instance(alert_id)
    if instance is None:
        raise NotFound(f"no alert {alert_id}")
    return instance


def get_alert(rt: Runtime, alert_id: int, now: float) -> dict:
    """One alert with its whole ``history`` (oldest first) and its newest
    ``notifications`` (outbox rows, newest first)."""
    instance = _instance(rt, alert_id)
    deliveries, _ = rt.outbox.deliveries(instance_id=alert_id, limit=NOTIFICATIONS)
    names = _channel_names(rt)
    return {
        **_Viewer(rt, now)(instance),
        "history": [history_dict(h) for h in rt.alerts.history(alert_id)],
        "notifications": [delivery_dict(d, names) for d in deliveries],
    }


def list_deliveries(
    rt: Runtime,
    *,
    channel_id: int | None = None,
    status: str | None = None,
    cursor: int | None = None,
    limit: int = 100,
) -> dict:
    """The delivery log newest first, ``{"items", "next_cursor"}``."""
    rows, next_cursor = rt.outbox.deliveries(
        channel_id=channel_id, status=status, cursor=cursor, limit=limit
    )
    names = _channel_names(rt)
    return {"items": [delivery_dict(r, names) for r in rows], "next_cursor": next_cursor}


# -- people's actions ----------------------------------------------------------------------


def _act(
    rt: Runtime,
    actor: Actor,
    alert_id: int,
    action: Callable[[InstanceRecord], InstanceChange],
    event: str,
    now: float,
    **details,
) -> dict:
    """Apply one human action: write it with its history, audit it, publish it."""
    instance = _instance(rt, alert_id)
    try:
        change = action(instance)
    except people.NotAllowed as exc:
        if exc.field is not None:
            raise FieldError(exc.field, exc.message) from None
        raise Conflict(exc.message) from None
    [written] = rt.alerts.apply([change])
    _audit(rt, actor, f"alert.{event}", f"alert:{alert_id}", rule=instance.rule_name, **details)
    alert = _Viewer(rt, now)(written)
    publish(rt, event, alert)
    return alert


def acknowledge(
    rt: Runtime, actor: Actor, alert_id: int, comment: str, until: float | None, now: float
) -> dict:
    """Acknowledge an open alert with a comment, optionally until a time (409 Conflict
    when it is not open)."""
    name = actor.account.name
    return _act(
        rt,
        actor,
        alert_id,
        lambda i: people.acknowledge(i, name, comment, now, until),
        "acknowledged",
        now,
        comment=comment,
        until=iso(until),
    )


COMMENTED_ACTIONS: dict[str, tuple[Callable, str]] = {
    "unack": (people.unacknowledge, "unacknowledged"),
    "comment": (people.comment, "commented"),
    "close": (people.close, "closed"),
}
"""The actions that take only a comment: their people's function and their event.
``unack`` takes an acknowledgement back (Conflict when there is none); ``comment`` adds to
the history in any state; ``close`` closes a resolved alert (Conflict while it is open or
once it is closed)."""


def act(rt: Runtime, actor: Actor, alert_id: int, action: str, comment: str, now: float) -> dict:
    """Do one of ``COMMENTED_ACTIONS`` on an alert; the alert as it is after."""
    change, event = COMMENTED_ACTIONS[action]
    name = actor.account.name
    return _act(
        rt,
        actor,
        alert_id,
        lambda i: change(i, name, comment, now),
        event,
        now,
        comment=comment,
    )


# -- rules ---------------------------------------------------------------------------------

RULE_TIMES = ("created_at", "updated_at", "evaluated_at")


def rule_dict(record: RuleRecord) -> dict:
    """A rule as the API shows it: its body, id and bookkeeping (times ISO 8601)."""
    body = to_body(record)
    return {**body, **{k: iso(body[k]) for k in RULE_TIMES}}


def list_rules(rt: Runtime) -> list[dict]:
    """Every rule, by name."""
    return [rule_dict(r) for r in rt.alerts.list_rules()]


def _rule(rt: Runtime, rule_id: int) -> RuleRecord:
    record = rt.alerts.get_rule(rule_id)
    if record is None:
        raise NotFound(f"no rule {rule_id}")
    return record


def get_rule(rt: Runtime, rule_id: int) -> dict:
    """One rule (NotFound when there is none)."""
    return rule_dict(_rule(rt, rule_id))


def _rule_of(body: RuleBody) -> Rule:
    """The rule ``body`` describes; Invalid naming each field that is wrong."""
    try:
        return check(body)
    except RuleError as exc:
        raise Invalid(f"Invalid parameter: {', '.join(exc.fields)}", exc.fields) from None


def _checked(rt: Runtime, body: RuleBody) -> tuple[RuleRecord, list[str]]:
    """The record to store for ``body`` and the warnings it is accepted with."""
    rule = _rule_of(body)
    known = {c.id for c in rt.channels.list()}
    unknown = [c for c in rule.channels if c not in known]
    if unknown:
        raise FieldError("channels", f"no such channel: {', '.join(map(str, unknown))}")
    warnings = []
    if rule.kind == "metric" and rule.metric not in set(rt.metrics.names()):
        warnings.append(UNKNOWN_METRIC.format(name=rule.metric))
    return to_record(rule), warnings


def _duplicate(name: str) -> Conflict:
    return Conflict(f"a rule named {name!r} exists already", {"name": "taken by another rule"})


def create_rule(rt: Runtime, actor: Actor, body: RuleBody, now: float) -> dict:
    """Store a new rule (FieldError or Invalid naming each bad field, Conflict on a taken
    name); the rule with ``warnings`` (a metric not seen yet)."""
    record, warnings = _checked(rt, body)
    try:
        saved = rt.alerts.create_rule(record, actor.account.name, now)
    except DuplicateName:
        raise _duplicate(record.name) from None
    shown = rule_dict(saved)
    _audit(rt, actor, "alert_rule.create", f"rule:{saved.id}", after=shown)
    return {**shown, "warnings": warnings}


def replace_rule(rt: Runtime, actor: Actor, rule_id: int, body: RuleBody, now: float) -> dict:
    """Replace a rule (its version goes up); as ``create_rule``, and NotFound."""
    before = _rule(rt, rule_id)
    record, warnings = _checked(rt, body)
    try:
        saved = rt.alerts.replace_rule(rule_id, record, actor.account.name, now)
    except DuplicateName:
        raise _duplicate(record.name) from None
    if saved is None:
        raise NotFound(f"no rule {rule_id}")
    shown = rule_dict(saved)
    _audit(
        rt, actor, "alert_rule.replace", f"rule:{rule_id}", before=rule_dict(before), after=shown
    )
    return {**shown, "warnings": warnings}


def _resolved_by_deletion(
    rt: Runtime, rule: Rule, instance: InstanceRecord, actor: str, now: float
) -> InstanceChange:
    after = replace(instance, state="normal", resolved_at=now, machine={})
    # Receivers that were told it fires are told it ended (a pending one was never told).
    told = instance.state != "pending"
    outbox = notifier(rt.settings.external_url)(after, rule, "resolved", now) if told else []
    entry = HistoryEntry(
        ts=now,
        event="resolved",
        reason="rule deleted",
        from_state=instance.state,
        to_state="normal",
        severity=instance.severity,
        value=instance.value,
        actor=actor,
    )
    return InstanceChange(after, history=[entry], outbox=outbox, columns=MACHINE_COLUMNS)


def delete_rule(rt: Runtime, actor: Actor, rule_id: int, now: float) -> None:
    """Delete a rule, resolving its open alerts in the same transaction (NotFound)."""
    before = _rule(rt, rule_id)
    opened = [i for i in rt.alerts.instances(rule_id) if i.is_open]
    rule = from_record(before)
    changes = [_resolved_by_deletion(rt, rule, i, actor.account.name, now) for i in opened]
    if not rt.alerts.delete_rule(rule_id, changes):
        raise NotFound(f"no rule {rule_id}")
    _audit(
        rt,
        actor,
        "alert_rule.delete",
        f"rule:{rule_id}",
        before=rule_dict(before),
        resolved=[i.id for i in opened],
    )
    for change in changes:
        publish(rt, "resolved", alert_dict(change.instance))


def preview_rule(
    rt: Runtime, body: RuleBody, start: float | None, end: float | None, now: float
) -> dict:
    """What the rule ``body`` would have seen and done over ``start``-``end`` (default:
    the last 24 h): ``{"series", "thresholds", "transitions", "step"}``, computed by the
    evaluation's own engine."""
    rule = _rule_of(body)
    end = now if end is None else end
    start = end - PREVIEW_SPAN if start is None else start
    check_range(start, end)
    if end - start > PREVIEW_MAX_SPAN:
        raise FieldError("from", f"a preview covers at most {PREVIEW_MAX_SPAN // 86400} days")
    return evaluate.preview(rule, rt.metrics, rt.logs, start, end)


# -- silences ------------------------------------------------------------------------------


def silence_dict(silence: SilenceRecord, now: float) -> dict:
    """A silence as the API shows it, with its ``state`` at ``now``: active, pending
    (before its start or outside its weekly window) or expired."""
    return {
        "id": silence.id,
        "matchers": silence.matchers,
        "starts_at": iso(silence.starts_at),
        "ends_at": iso(silence.ends_at),
        "weekly": silence.weekly,
        "author": silence.author,
        "comment": silence.comment,
        "created_at": iso(silence.created_at),
        "state": silence_state(silence, now),
    }


def list_silences(rt: Runtime, now: float, state: str = "active") -> list[dict]:
    """Silences newest first: ``active`` those not yet ended (muting now or later),
    ``all`` expired ones too."""
    if state not in ("active", "all"):
        raise FieldError("state", "must be active or all")
    found = rt.alerts.list_silences(active_at=now if state == "active" else None)
    return [silence_dict(s, now) for s in found]


def _silence(rt: Runtime, silence_id: int) -> SilenceRecord:
    silence = rt.alerts.get_silence(silence_id)
    if silence is None:
        raise NotFound(f"no silence {silence_id}")
    return silence


def get_silence(rt: Runtime, silence_id: int, now: float) -> dict:
    """One silence (NotFound when there is none)."""
    return silence_dict(_silence(rt, silence_id), now)


def create_silence(
    rt: Runtime,
    actor: Actor,
    *,
    matchers: dict[str, str],
    ends_at: float,
    now: float,
    starts_at: float | None = None,
    comment: str = "",
    weekly: dict | None = None,
) -> dict:
    """Store a silence (from now unless ``starts_at``) and tell the stream about each open
    alert it mutes at once; FieldError names what cannot be."""
    if not matchers:
        raise FieldError("matchers", "give at least one matcher (alertname or a label)")
    starts_at = now if starts_at is None else starts_at
    if ends_at <= starts_at:
        raise FieldError("ends_at", "must be after starts_at")
    if ends_at <= now:
        raise FieldError("ends_at", "must be in the future")
    record = SilenceRecord(
        matchers=dict(matchers),
        starts_at=starts_at,
        ends_at=ends_at,
        weekly=weekly,
        author=actor.account.name,
        comment=comment,
        created_at=now,
    )
    silence = rt.alerts.create_silence(record)
    shown = silence_dict(silence, now)
    _audit(rt, actor, "alert_silence.create", f"silence:{silence.id}", after=shown)
    show = _Viewer(rt, now)
    for instance in rt.alerts.open_instances():
        if silenced_by([silence], labels_of(instance, show.rules), now):
            publish(rt, "silenced", show(instance))
    return shown


def expire_silence(rt: Runtime, actor: Actor, silence_id: int, now: float) -> dict:
    """End a silence now (kept for the record); NotFound when there is none."""
    _silence(rt, silence_id)
    expired = rt.alerts.expire_silence(silence_id, now)
    if expired is None:
        raise NotFound(f"no silence {silence_id}")
    shown = silence_dict(expired, now)
    _audit(rt, actor, "alert_silence.expire", f"silence:{silence_id}", after=shown)
    return shown


def silence_alert(
    rt: Runtime, actor: Actor, alert_id: int, duration: float, comment: str, now: float
) -> dict:
    """Silence one alert (its rule and labels) for ``duration`` seconds from now: the
    silence, also noted in the alert's history."""
    instance = _instance(rt, alert_id)
    matchers = {**instance.labels, ALERTNAME: instance.rule_name}
    silence = create_silence(
        rt,
        actor,
        matchers=matchers,
        ends_at=now + duration,
        now=now,
        comment=comment,
    )
    note = f"silenced until {silence['ends_at']}" + (f": {comment}" if comment else "")
    rt.alerts.apply([people.silenced(instance, actor.account.name, note, now)])
    return silence


# -- history download ----------------------------------------------------------------------


def history_rows(
    rt: Runtime,
    start: float,
    end: float,
    *,
    rule_id: int | None = None,
    events: Sequence[str] | None = None,
) -> Iterator[dict]:
    """Every history entry from ``start`` to ``end`` (excluded), oldest first, as rows of
    ``HISTORY_COLUMNS`` (each with its alert's rule name and labels), read in batches."""
    alerts: dict[int, InstanceRecord | None] = {}
    for entry in rt.alerts.history_range(start, end, rule_id=rule_id, events=events):
        if entry.instance_id not in alerts:
            alerts[entry.instance_id] = rt.alerts.get_instance(entry.instance_id)
        instance = alerts[entry.instance_id]
        yield {
            "ts": utc_iso(entry.ts),
            "alert_id": entry.instance_id,
            "rule": instance.rule_name if instance else None,
            "labels": instance.labels if instance else {},
            "event": entry.event,
            "from": entry.from_state,
            "to": entry.to_state,
            "severity": entry.severity,
            "value": _finite(entry.value),
            "reason": entry.reason,
            "actor": entry.actor,
        }


def history_export(
    rt: Runtime,
    *,
    start: float | None,
    end: float | None,
    rule_id: int | None,
    events: Sequence[str] | None,
    fmt: str,
    actor: str,
    remote_addr: str | None,
    now: float,
) -> Download:
    """The alert history of the range (``start`` open: from the first entry; ``end``
    open: now) as a CSV or JSON download named after the range, audited."""
    check_range(start, end)
    end = now if end is None else end
    what = "alert-history" if rule_id is None else f"alert-history-rule-{rule_id}"
    filename = file_name(what, start, end, fmt)
    rows = history_rows(rt, 0.0 if start is None else start, end, rule_id=rule_id, events=events)
    details = {
        "from": iso(start),
        "to": utc_iso(end),
        "rule_id": rule_id,
        "event": list(events or ()),
        "format": fmt,
        "file": filename,
    }
    return table_download(
        rt,
        "alerts.export",
        filename,
        Table(fmt, HISTORY_COLUMNS, rows),
        actor=actor,
        remote_addr=remote_addr,
        details=details,
    )
