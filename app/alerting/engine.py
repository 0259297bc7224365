"""The alert state machine: one instance per rule and label set, advanced by pure functions
of (state, evaluation result, now), so every rule of it is tested without a clock, a
database or a channel.

    Normal --cond--> Pending --held for `for`--> Firing(warning|critical)
    Firing --not cond--> Recovering --held for `keep_firing_for`--> Normal (resolved)
    Recovering --cond--> Firing

NoData and Error results follow the rule's policies (their own state, alerting, ok, or
keep the last state) and honour the pending period like a condition does.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

State = Literal["normal", "pending", "firing", "recovering", "nodata", "error"]
Severity = Literal["warning", "critical"]
NoDataPolicy = Literal["nodata", "alerting", "ok", "keep_last"]
ErrorPolicy = Literal["error", "alerting", "keep_last"]

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
ACTIVE: frozenset[str] = frozenset({"firing", "recovering", "nodata", "error"})
"""States in which an instance is open and notifies."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a value is ``warning`` or ``critical``; a clear threshold (hysteresis) keeps a
    severity until the value passes it (default: the threshold itself)."""

    op: str
    warning: float | None = None
    critical: float | None = None
    warning_clear: float | None = None
    critical_clear: float | None = None

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ValueError(f"unknown comparison {self.op!r}; use one of {', '.join(OPERATORS)}")
        if self.warning is None and self.critical is None:
            raise ValueError("a rule needs a warning or a critical threshold")

    def severity(self, value: float, current: Severity | None) -> Severity | None:
        """The severity of ``value`` for an instance now at ``current`` (critical first)."""
        holds = OPERATORS[self.op]

        def reached(threshold: float | None, clear: float | None, held: bool) -> bool:
            if threshold is None:
                return False
            return holds(value, threshold) or (held and holds(value, _or(clear, threshold)))

        if reached(self.critical, self.critical_clear, current == "critical"):
            return "critical"
        if reached(self.warning, self.warning_clear, current is not None):
            return "warning"
        return None

    @property
    def highest(self) -> Severity:
        """The severity a NoData or Error result alerts with under an ``alerting`` policy."""
        return "critical" if self.critical is not None else "warning"


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


@dataclass(frozen=True, slots=True)
class Policy:
    """How long conditions must hold and what missing data and failures mean (seconds)."""

    for_s: float = 0.0
    keep_firing_s: float = 0.0
    no_data: NoDataPolicy = "nodata"
    on_error: ErrorPolicy = "error"
    missing_evaluations: int = 3
    flap_threshold: int = 6
    flap_window: float = 600.0


@dataclass(frozen=True, slots=True)
class Result:
    """One evaluation of one label set: a value, no data in the window, or an error."""

    value: float | None = None
    error: str | None = None

    @property
    def kind(self) -> Literal["value", "nodata", "error"]:
        """``value``, ``nodata`` or ``error``."""
        if self.error is not None:
            return "error"
        return "nodata" if self.value is None else "value"


@dataclass(frozen=True, slots=True)
class Instance:
    """Where one alert instance stands."""

    state: State = "normal"
    severity: Severity | None = None
    value: float | None = None
    active_at: float | None = None
    """When the condition (or NoData, or Error) began: the start of the pending period."""
    fired_at: float | None = None
    resolved_at: float | None = None
    recovering_at: float | None = None
    pending_to: State | None = None
    """The state the condition asks for: where the pending period leads (firing, nodata or
    error), and while flapping, whether the condition is open (normal when it is not)."""
    missing: int = 0
    flapping: bool = False
    changes: tuple[float, ...] = field(default_factory=tuple)
    """Times of the recent transitions, for flap detection."""
    quiet_since: float | None = None
    """While flapping: when the condition last changed."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of state, for the append-only history (and notifications)."""

    ts: float
    from_state: State
    to_state: State
    severity: Severity | None
    value: float | None
    reason: str


Target = tuple[State, Severity | None, str]
"""What a result asks for: the open state it leads to (normal: none), severity, reason."""


def target(
    result: Result, instance: Instance, thresholds: Thresholds, policy: Policy
) -> Target | None:
    """What ``result`` asks of ``instance``; None means keep the last state."""
    kind, value = result.kind, result.value
    if kind == "value" and value is not None:
        severity = thresholds.severity(value, instance.severity)
        if severity is None:
            return ("normal", None, "condition cleared")
        return ("firing", severity, f"value {value:g} {thresholds.op} threshold")
    chosen = policy.no_data if kind == "nodata" else policy.on_error
    reason = "no data in the window" if kind == "nodata" else f"evaluation failed: {result.error}"
    if chosen == "keep_last":
        return None
    if chosen == "ok":
        return ("normal", None, reason)
    if chosen == "alerting":
        return ("firing", thresholds.highest, reason)
    return (kind, None, reason)


def step(
    instance: Instance, result: Result, now: float, thresholds: Thresholds, policy: Policy
) -> tuple[Instance, list[Transition]]:
    """Advance ``instance`` by one evaluation; the new instance and its transitions."""
    wanted = target(result, instance, thresholds, policy)
    current = replace(instance, missing=0, value=result.value)
    if wanted is None:
        return current, []
    to_state, severity, reason = wanted
    if current.flapping:
        return _while_flapping(current, to_state, severity, now, policy)
    moved = _advance(current, to_state, severity, reason, now, policy)
    return _note_flapping(*moved, now, policy)


def missing(instance: Instance, now: float, policy: Policy) -> tuple[Instance, list[Transition]]:
    """An evaluation in which the instance's label set did not appear: it resolves after
    ``missing_evaluations`` of them."""
    gone = replace(instance, missing=instance.missing + 1)
    if instance.state == "normal" or gone.missing < policy.missing_evaluations:
        return gone, []
    return _to(gone, "normal", None, "the series is gone", now)


def _advance(
    instance: Instance,
    to_state: State,
    severity: Severity | None,
    reason: str,
    now: float,
    policy: Policy,
) -> tuple[Instance, list[Transition]]:
    state = instance.state
    if to_state == "normal":
        if state == "pending":
            return _to(instance, "normal", None, reason, now)
        if state == "firing" and policy.keep_firing_s > 0:
            return _to(
                replace(instance, recovering_at=now), "recovering", instance.severity, reason, now
            )
        if state == "recovering" and _held(instance.recovering_at, now) < policy.keep_firing_s:
            return instance, []
        if state in ACTIVE:
            return _to(instance, "normal", None, reason, now)
        return instance, []
    if state == "normal":
        pending = replace(instance, active_at=now, pending_to=to_state, severity=severity)
        if policy.for_s > 0:
            return _to(pending, "pending", severity, reason, now)
        return _to(pending, to_state, severity, reason, now)
    if state == "pending":
        held = _held(instance.active_at, now) >= policy.for_s
        if held:
            return _to(instance, to_state, severity, reason, now)
        return replace(instance, pending_to=to_state, severity=severity), []
    if state == to_state and (to_state != "firing" or severity == instance.severity):
        return instance, []
    if state == to_state:
        return _to(instance, "firing", severity, f"severity {instance.severity} -> {severity}", now)
    return _to(instance, to_state, severity, reason, now)


def _held(since: float | None, now: float) -> float:
    """Seconds from ``since`` to ``now`` (0 when it has not begun)."""
    return 0.0 if since is None else now - since


def _to(
    instance: Instance, state: State, severity: Severity | None, reason: str, now: float
) -> tuple[Instance, list[Transition]]:
    transition = Transition(now, instance.state, state, severity, instance.value, reason)
    changed = replace(instance, state=state, severity=severity, changes=(*instance.changes, now))
    if state == "firing" and instance.state not in ("firing", "recovering"):
        changed = replace(changed, fired_at=now, resolved_at=None)
    if state == "normal":
        changed = replace(
            changed,
            resolved_at=now if instance.state in ACTIVE else instance.resolved_at,
            active_at=None,
            pending_to=None,
            recovering_at=None,
        )
    return changed, [transition]


def _note_flapping(
    instance: Instance, transitions: list[Transition], now: float, policy: Policy
) -> tuple[Instance, list[Transition]]:
    recent = tuple(t for t in instance.changes if now - t <= policy.flap_window)
    instance = replace(instance, changes=recent)
    if len(recent) <= policy.flap_threshold or instance.state == "normal":
        return instance, transitions
    held = replace(
        instance, state="firing", flapping=True, quiet_since=now, pending_to=instance.state
    )
    reason = f"flapping: {len(recent)} changes in {policy.flap_window:g} s"
    return held, [
        *transitions,
        Transition(now, instance.state, "firing", held.severity, instance.value, reason),
    ]


def _while_flapping(
    instance: Instance, to_state: State, severity: Severity | None, now: float, policy: Policy
) -> tuple[Instance, list[Transition]]:
    """Held open as firing: quiet only once the condition has not changed for the window."""
    wants_open = to_state != "normal"
    was_open = instance.pending_to != "normal"
    if wants_open != was_open:
        instance = replace(
            instance, quiet_since=now, pending_to=to_state if wants_open else "normal"
        )
    if wants_open and severity is not None:
        instance = replace(instance, severity=severity)
    if wants_open or _held(instance.quiet_since, now) < policy.flap_window:
        return instance, []
    settled = replace(instance, flapping=False, changes=())
    return _to(settled, "normal", None, "quiet again after flapping", now)
