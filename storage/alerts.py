"""Alert rules, their instances, the append-only alert history and silences.

Every change to an instance is written with its history and the notifications it causes
(``storage.outbox``) in one transaction, so a state change is never told without having
happened, nor lost between being made and being sent. Times are epoch seconds (UTC).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace

from sqlalchemy import Connection, Engine, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from storage.models import AlertHistory, AlertInstance, AlertRule, AlertSilence
from storage.outbox import OutboxEntry, enqueue

MACHINE_COLUMNS: tuple[str, ...] = (
    "rule_name",
    "labels",
    "state",
    "severity",
    "value",
    "active_at",
    "fired_at",
    "resolved_at",
    "flapping",
    "machine",
    "evaluated_at",
    "lines",
)
"""What evaluating an instance changes (and ``notified_at`` when it notifies)."""
PEOPLE_COLUMNS: tuple[str, ...] = (
    "ack_by",
    "ack_at",
    "ack_until",
    "ack_comment",
    "closed_by",
    "closed_at",
)
"""What people change of an instance (acknowledging, closing)."""
OPEN_STATES: tuple[str, ...] = ("pending", "firing", "recovering", "nodata", "error")
"""States of an instance that count as an open alert."""
_JSON_RULE_FIELDS = ("spec", "labels", "annotations", "channels")
_JSON_INSTANCE_FIELDS = ("labels", "machine", "lines")


class DuplicateName(ValueError):
    """Another object of that kind already has this name."""


@dataclass(frozen=True, slots=True)
class RuleRecord:
    """A stored alert rule; ``spec`` holds what its kind needs (query, thresholds, …)."""

    name: str
    kind: str
    spec: dict
    for_s: float = 0.0
    keep_firing_s: float = 0.0
    interval_s: int = 60
    no_data: str = "nodata"
    on_error: str = "error"
    repeat_s: int = 14400
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    channels: list = field(default_factory=list)
    enabled: bool = True
    builtin: str | None = None
    id: int | None = None
    created_by: str | None = None
    created_at: float | None = None
    updated_by: str | None = None
    updated_at: float | None = None
    version: int = 1
    evaluated_at: float | None = None


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """A stored alert instance: one rule and label set."""

    rule_id: int
    rule_name: str
    fingerprint: str
    labels: dict
    state: str = "normal"
    severity: str | None = None
    value: float | None = None
    active_at: float | None = None
    fired_at: float | None = None
    resolved_at: float | None = None
    flapping: bool = False
    machine: dict = field(default_factory=dict)
    """The rest of the state machine's instance (timers, flap changes), as the engine keeps it."""
    evaluated_at: float | None = None
    notified_at: float | None = None
    lines: list = field(default_factory=list)
    ack_by: str | None = None
    ack_at: float | None = None
    ack_until: float | None = None
    ack_comment: str | None = None
    closed_by: str | None = None
    closed_at: float | None = None
    id: int | None = None

    @property
    def is_open(self) -> bool:
        """Pending, firing, recovering, NoData or Error."""
        return self.state in OPEN_STATES

    @property
    def acknowledged(self) -> bool:
        """Whether someone has acknowledged it (the ``until`` time aside)."""
        return self.ack_at is not None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of an alert's history: a transition (``from_state``/``to_state``) or a
    human action (``actor``), with the value and the reason."""

    ts: float
    event: str
    reason: str = ""
    from_state: str | None = None
    to_state: str | None = None
    severity: str | None = None
    value: float | None = None
    actor: str | None = None
    instance_id: int | None = None
    rule_id: int | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class InstanceChange:
    """An instance as it is now, with what happened to it and what to notify.

    ``columns`` names what the change may write of an existing instance (all when None):
    the evaluation writes the state machine's columns and people write theirs, so neither
    undoes what the other wrote since it read the instance."""

    instance: InstanceRecord
    history: Sequence[HistoryEntry] = ()
    outbox: Sequence[OutboxEntry] = ()
    columns: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class SilenceRecord:
    """Matchers that mute notifications between ``starts_at`` and ``ends_at``, and within
    those dates, when ``weekly`` is set, only in its weekly window."""

    matchers: dict
    starts_at: float
    ends_at: float
    weekly: dict | None = None
    author: str | None = None
    comment: str = ""
    created_at: float | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class InstancePage:
    """One page of instances and the cursor of the next (None at the end)."""

    items: list[InstanceRecord]
    next_cursor: int | None


Fence = Callable[[Connection], None]


def _rule(row) -> RuleRecord:
    values = {f.name: getattr(row, f.name) for f in fields(RuleRecord)}
    for name in _JSON_RULE_FIELDS:
        values[name] = json.loads(values[name])
    return RuleRecord(**values)


def _instance(row) -> InstanceRecord:
    values = {f.name: getattr(row, f.name) for f in fields(InstanceRecord)}
    for name in _JSON_INSTANCE_FIELDS:
        values[name] = json.loads(values[name])
    return InstanceRecord(**values)


def _history(row) -> HistoryEntry:
    return HistoryEntry(**{f.name: getattr(row, f.name) for f in fields(HistoryEntry)})


def _silence(row) -> SilenceRecord:
    values = {f.name: getattr(row, f.name) for f in fields(SilenceRecord)}
    values["matchers"] = json.loads(values["matchers"])
    values["weekly"] = json.loads(values["weekly"]) if values["weekly"] else None
    return SilenceRecord(**values)


def _columns(record, json_fields: Sequence[str]) -> dict:
    values = asdict(record)
    values.pop("id", None)
    for name in json_fields:
        values[name] = json.dumps(values[name], sort_keys=True)
    return values


class AlertStore:
    """Rules, instances, history and silences on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- rules -------------------------------------------------------------------------

    def create_rule(self, rule: RuleRecord, actor: str | None, now: float) -> RuleRecord:
        """Store a new rule; raises ``DuplicateName`` when its name is taken."""
        rule = replace(rule, created_by=actor, created_at=now, updated_by=actor, updated_at=now)
        values = _columns(rule, _JSON_RULE_FIELDS)
        try:
            with self.engine.begin() as conn:
                rule_id = conn.execute(
                    insert(AlertRule).values(values).returning(AlertRule.id)
                ).scalar_one()
        except IntegrityError as exc:
            raise DuplicateName(rule.name) from exc
        return replace(rule, id=rule_id)

    def replace_rule(
        self, rule_id: int, rule: RuleRecord, actor: str | None, now: float
    ) -> RuleRecord | None:
        """Replace rule ``rule_id`` with ``rule`` (its version goes up); None if missing."""
        values = _columns(rule, _JSON_RULE_FIELDS)
        for kept in ("created_by", "created_at", "version", "evaluated_at", "builtin"):
            values.pop(kept)
        values.update(updated_by=actor, updated_at=now, version=AlertRule.version + 1)
        try:
            with self.engine.begin() as conn:
                found = conn.execute(
                    update(AlertRule).where(AlertRule.id == rule_id).values(values)
                ).rowcount
                if found:
                    # Instances carry the rule's name for the history; keep them in step.
                    conn.execute(
                        update(AlertInstance)
                        .where(AlertInstance.rule_id == rule_id)
                        .values(rule_name=rule.name)
                    )
        except IntegrityError as exc:
            raise DuplicateName(rule.name) from exc
        return self.get_rule(rule_id) if found else None

    def delete_rule(self, rule_id: int, changes: Sequence[InstanceChange]) -> bool:
        """Delete a rule, applying ``changes`` (its open instances resolved) in the same
        transaction; False when there was no such rule."""
        with self.engine.begin() as conn:
            gone = conn.execute(delete(AlertRule).where(AlertRule.id == rule_id)).rowcount
            if gone:
                self._apply(conn, changes)
        return bool(gone)

    def get_rule(self, rule_id: int) -> RuleRecord | None:
        """One rule, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(AlertRule).where(AlertRule.id == rule_id)).first()
        return _rule(row) if row else None

    def list_rules(self) -> list[RuleRecord]:
        """Every rule, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(AlertRule).order_by(AlertRule.name)).all()
        return [_rule(r) for r in rows]

    def due_rules(self, now: float, early: float = 0.5) -> list[RuleRecord]:
        """Enabled rules whose interval has passed since their last evaluation, or will
        within ``early`` seconds (a job that ticks every second and comes a hair early
        would otherwise leave a rule of one second waiting two)."""
        return [
            r
            for r in self.list_rules()
            if r.enabled
            and (r.evaluated_at is None or r.evaluated_at + r.interval_s <= now + early)
        ]

    # -- instances ---------------------------------------------------------------------

    def apply(
        self,
        changes: Sequence[InstanceChange],
        *,
        evaluated: tuple[Sequence[int], float] | None = None,
        fence: Fence | None = None,
    ) -> list[InstanceRecord]:
        """Write instances with their history and notifications in one transaction
        (``evaluated``: the rules evaluated and when; ``fence``: the leader's check)."""
        with self.engine.begin() as conn:
            if fence is not None:
                fence(conn)
            written = self._apply(conn, changes)
            if evaluated is not None and evaluated[0]:
                rule_ids, ts = evaluated
                conn.execute(
                    update(AlertRule)
                    .where(AlertRule.id.in_(list(rule_ids)))
                    .values(evaluated_at=ts)
                )
        return written

    def _apply(self, conn: Connection, changes: Sequence[InstanceChange]) -> list[InstanceRecord]:
        """Insert new instances one by one (their ids are needed), update the others in
        one executemany per set of columns, then the history and the outbox in bulk."""
        written = []
        updates: dict[tuple[str, ...], list[dict]] = {}
        history: list[dict] = []
        outbox: list[OutboxEntry] = []
        for change in changes:
            instance = change.instance
            values = _columns(instance, _JSON_INSTANCE_FIELDS)
            if instance.id is None:
                instance_id = conn.execute(
                    insert(AlertInstance).values(values).returning(AlertInstance.id)
                ).scalar_one()
                instance = replace(instance, id=instance_id)
            else:
                columns = tuple(change.columns if change.columns is not None else values)
                row = {f"v_{k}": values[k] for k in columns}
                updates.setdefault(columns, []).append({"key": instance.id, **row})
            history += [
                _columns(replace(h, instance_id=instance.id, rule_id=instance.rule_id), ())
                for h in change.history
            ]
            outbox += [replace(e, instance_id=instance.id) for e in change.outbox]
            written.append(instance)
        table = AlertInstance.__table__
        for columns, rows in updates.items():
            conn.execute(
                update(table)
                .where(table.c.id == bindparam("key"))
                .values({k: bindparam(f"v_{k}") for k in columns}),
                rows,
            )
        if history:
            conn.execute(insert(AlertHistory), history)
        enqueue(conn, outbox)
        return written

    def instances(self, rule_id: int) -> list[InstanceRecord]:
        """Every instance of one rule."""
        return self.instances_of([rule_id])[rule_id]

    def instances_of(self, rule_ids: Iterable[int]) -> dict[int, list[InstanceRecord]]:
        """Every instance of each of ``rule_ids``, by rule, in one statement."""
        wanted = sorted(set(rule_ids))
        out: dict[int, list[InstanceRecord]] = {rule_id: [] for rule_id in wanted}
        if not wanted:
            return out
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(AlertInstance).where(AlertInstance.rule_id.in_(wanted))
            ).all()
        for row in rows:
            out[row.rule_id].append(_instance(row))
        return out

    def get_instance(self, instance_id: int) -> InstanceRecord | None:
        """One instance, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(AlertInstance).where(AlertInstance.id == instance_id)).first()
        return _instance(row) if row else None

    def list_instances(
        self,
        *,
        states: Sequence[str] | None = None,
        resolved: bool = False,
        severity: str | None = None,
        rule_id: int | None = None,
        start: float | None = None,
        end: float | None = None,
        cursor: int | None = None,
        limit: int = 100,
    ) -> InstancePage:
        """Instances newest first (by id): in ``states``, or resolved ones, filtered by
        severity, rule and the time they became active or were resolved."""
        sql = select(AlertInstance).order_by(AlertInstance.id.desc()).limit(limit + 1)
        if states is not None:
            sql = sql.where(AlertInstance.state.in_(list(states)))
        if resolved:
            sql = sql.where(AlertInstance.state == "normal", AlertInstance.resolved_at.is_not(None))
        if severity is not None:
            sql = sql.where(AlertInstance.severity == severity)
        if rule_id is not None:
            sql = sql.where(AlertInstance.rule_id == rule_id)
        if start is not None:
            sql = sql.where(
                or_(AlertInstance.resolved_at.is_(None), AlertInstance.resolved_at >= start)
            )
        if end is not None:
            sql = sql.where(or_(AlertInstance.active_at <= end, AlertInstance.fired_at <= end))
        if cursor is not None:
            sql = sql.where(AlertInstance.id < cursor)
        with self.engine.connect() as conn:
            rows = [_instance(r) for r in conn.execute(sql).all()]
        more = len(rows) > limit
        rows = rows[:limit]
        return InstancePage(rows, rows[-1].id if more and rows else None)

    def open_instances(self) -> list[InstanceRecord]:
        """Every open instance (pending, firing, recovering, NoData, Error)."""
        return self.list_instances(states=OPEN_STATES, limit=1_000_000).items

    # -- history -----------------------------------------------------------------------

    def history(self, instance_id: int) -> list[HistoryEntry]:
        """One instance's history, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(AlertHistory)
                .where(AlertHistory.instance_id == instance_id)
                .order_by(AlertHistory.ts, AlertHistory.id)
            ).all()
        return [_history(r) for r in rows]

    def history_range(
        self,
        start: float,
        end: float,
        *,
        rule_id: int | None = None,
        events: Sequence[str] | None = None,
        batch: int = 5000,
    ) -> Iterator[HistoryEntry]:
        """Every history entry between ``start`` and ``end``, oldest first, read in
        batches so an export of any length holds one batch at a time."""
        last: tuple[float, int] = (start, 0)
        while True:
            sql = (
                select(AlertHistory)
                .where(
                    or_(
                        AlertHistory.ts > last[0],
                        (AlertHistory.ts == last[0]) & (AlertHistory.id > last[1]),
                    ),
                    AlertHistory.ts < end,
                )
                .order_by(AlertHistory.ts, AlertHistory.id)
                .limit(batch)
            )
            if last == (start, 0):
                sql = sql.where(AlertHistory.ts >= start)
            if rule_id is not None:
                sql = sql.where(AlertHistory.rule_id == rule_id)
            if events:
                sql = sql.where(AlertHistory.event.in_(list(events)))
            with self.engine.connect() as conn:
                rows = [_history(r) for r in conn.execute(sql).all()]
            yield from rows
            if len(rows) < batch:
                return
            last = (rows[-1].ts, rows[-1].id)

    # -- silences ----------------------------------------------------------------------

    def create_silence(self, silence: SilenceRecord) -> SilenceRecord:
        """Store a silence; returned with its id."""
        values = _columns(silence, ("matchers",))
        values["weekly"] = json.dumps(silence.weekly) if silence.weekly else None
        with self.engine.begin() as conn:
            silence_id = conn.execute(
                insert(AlertSilence).values(values).returning(AlertSilence.id)
            ).scalar_one()
        return replace(silence, id=silence_id)

    def get_silence(self, silence_id: int) -> SilenceRecord | None:
        """One silence, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(AlertSilence).where(AlertSilence.id == silence_id)).first()
        return _silence(row) if row else None

    def list_silences(self, *, active_at: float | None = None) -> list[SilenceRecord]:
        """Silences newest first; with ``active_at``, only those not yet ended then."""
        sql = select(AlertSilence).order_by(AlertSilence.id.desc())
        if active_at is not None:
            sql = sql.where(AlertSilence.ends_at > active_at)
        with self.engine.connect() as conn:
            return [_silence(r) for r in conn.execute(sql).all()]

    def expire_silence(self, silence_id: int, now: float) -> SilenceRecord | None:
        """End a silence now (kept for the record); None if there is no such silence."""
        with self.engine.begin() as conn:
            conn.execute(
                update(AlertSilence)
                .where(AlertSilence.id == silence_id, AlertSilence.ends_at > now)
                .values(ends_at=now)
            )
        return self.get_silence(silence_id)
