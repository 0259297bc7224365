"""Alert rules: the body people send (validated by pydantic, which also documents it in
OpenAPI), what a rule means once checked (``Rule``), and its stored form.

A metric rule reduces a metric's series over a window (one value per label group); a log
rule aggregates the records a query matches over a window; a ``new_error_group`` rule
counts the records of each error group first seen within the window (one label group per
fingerprint, optionally only records its query matches). All then compare the value
with warning and critical thresholds and run through the same state machine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
)

from app.alerting.engine import OPERATORS, Policy, Thresholds
from app.alerting.templates import check as check_template
from storage.alerts import RuleRecord
from storage.logquery import Query, QueryError, parse

REDUCERS = ("avg", "min", "max", "last", "sum", "rate", "p95", "p99")
AGGREGATES = ("count", "rate", "ratio")
LOG_GROUPS = ("host", "source")
KINDS = ("metric", "log", "new_error_group")
NEW_GROUP_LABELS = ("fingerprint", "title")
"""The labels of a ``new_error_group`` alert: which group it is and what it says."""
MAX_WINDOW = 7 * 86400
MAX_DURATION = 30 * 86400

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*\S")]
LabelName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
]
LabelValue = Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00]*$")]
Template = Annotated[str, StringConstraints(max_length=4000, pattern=r"^[^\x00]*$")]


def _whole(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def whole_number(low: int, high: int) -> Any:
    """An integer from ``low`` to ``high``; a whole float (``5.0``) counts, as it does
    in JSON Schema (and the API validates bodies strictly)."""
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_whole)]


def label_map(value: Any, max_items: int, min_items: int = 0) -> Any:
    """A JSON object from label names to ``value``, documented as such (pydantic writes
    the key pattern as patternProperties, which would let any other key through)."""
    schema = {
        "type": "object",
        "propertyNames": TypeAdapter(LabelName).json_schema(),
        "additionalProperties": TypeAdapter(value).json_schema(),
        "minProperties": min_items,
        "maxProperties": max_items,
    }
    return Annotated[
        dict[LabelName, value],
        Field(min_length=min_items, max_length=max_items),
        WithJsonSchema(schema),
    ]


Seconds = whole_number(0, MAX_DURATION)
Labels = label_map(LabelValue, 20)
Threshold = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]


class RuleBody(BaseModel):
    """An alert rule as the API and the editor send it (``metric`` or ``log`` fields by
    ``kind``; the other kind's fields must be left out). A ``new_error_group`` rule takes
    an optional ``query`` and fires, without a threshold given, on any record of a new
    group (warning above 0)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Name
    kind: Literal["metric", "log", "new_error_group"]
    enabled: bool = True
    metric: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z_:][A-Za-z0-9_:]{0,199}$")] | None
    ) = None
    matchers: Labels = {}
    reduce: Literal["avg", "min", "max", "last", "sum", "rate", "p95", "p99"] | None = None
    query: Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")] | None = None
    aggregate: Literal["count", "rate", "ratio"] | None = None
    group_by: Annotated[list[LabelName], Field(max_length=10)] = []
    window: whole_number(1, MAX_WINDOW) = 300
    op: Literal[">", ">=", "<", "<="] = ">"
    warning: Threshold | None = None
    warning_clear: Threshold | None = None
    critical: Threshold | None = None
    critical_clear: Threshold | None = None
    for_: Seconds = Field(0, alias="for")
    keep_firing_for: Seconds = 0
    interval: whole_number(1, 86400) = 60
    no_data: Literal["nodata", "alerting", "ok", "keep_last"] = "nodata"
    on_error: Literal["error", "alerting", "keep_last"] = "error"
    repeat_interval: whole_number(60, MAX_DURATION) = 14400
    channels: Annotated[list[whole_number(1, 2**31 - 1)], Field(max_length=20)] = []
    labels: Labels = {}
    annotations: label_map(Template, 20) = {}


class RuleError(ValueError):
    """A rule body that cannot be a rule: ``fields`` names each problem."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True, slots=True)
class Rule:
    """A checked rule, ready to evaluate."""

    id: int | None
    name: str
    kind: str
    thresholds: Thresholds
    policy: Policy
    interval: int
    window: int
    repeat_interval: int
    group_by: tuple[str, ...]
    labels: dict[str, str]
    annotations: dict[str, str]
    channels: tuple[int, ...]
    enabled: bool
    metric: str | None = None
    matchers: dict[str, str] | None = None
    reduce: str | None = None
    query: Query | None = None
    query_text: str | None = None
    aggregate: str | None = None
    builtin: str | None = None


_REQUIRED = {"metric": ("metric", "reduce"), "log": ("query", "aggregate"), "new_error_group": ()}
_OWN = {
    "metric": ("metric", "matchers", "reduce"),
    "log": _REQUIRED["log"],
    "new_error_group": ("query",),
}
"""Fields of one kind only: those each kind requires, and those it has (an empty
``matchers`` may come with any kind)."""


def check(body: RuleBody) -> Rule:
    """The rule ``body`` describes; raises ``RuleError`` naming every field that is wrong."""
    problems: dict[str, str] = {}
    given = body.model_fields_set
    for name in _REQUIRED[body.kind]:
        if getattr(body, name) is None:
            problems[name] = f"required for a {body.kind} rule"
    for name in {n for fields in _OWN.values() for n in fields} - {*_OWN[body.kind], "matchers"}:
        if name in given:
            problems[name] = f"not part of a {body.kind} rule"
    if body.kind != "metric" and body.matchers:
        problems["matchers"] = f"not part of a {body.kind} rule; put conditions in query"
    if body.kind == "new_error_group":
        if body.group_by:
            problems["group_by"] = "a new_error_group rule groups by fingerprint (and title)"
        if body.warning is None and body.critical is None:
            body = body.model_copy(update={"op": ">", "warning": 0.0})
    query = None
    if body.kind != "metric" and body.query is not None:
        try:
            query = parse(body.query)
        except QueryError as exc:
            problems["query"] = f"{exc.message} at position {exc.position}"
    if body.kind == "log":
        for group in body.group_by:
            if group not in LOG_GROUPS and not group.startswith("attrs."):
                problems["group_by"] = "a log rule groups by host, source or attrs.<name>"
    problems.update(_threshold_problems(body))
    for key, template in body.annotations.items():
        error = check_template(template)
        if error:
            problems[f"annotations.{key}"] = error
    if problems:
        raise RuleError(problems)
    thresholds = Thresholds(
        body.op, body.warning, body.critical, body.warning_clear, body.critical_clear
    )
    policy = Policy(
        for_s=float(body.for_),
        keep_firing_s=float(body.keep_firing_for),
        no_data=body.no_data,
        on_error=body.on_error,
    )
    return Rule(
        id=None,
        name=body.name.strip(),
        kind=body.kind,
        thresholds=thresholds,
        policy=policy,
        interval=body.interval,
        window=body.window,
        repeat_interval=body.repeat_interval,
        group_by=tuple(dict.fromkeys(body.group_by)),
        labels=dict(body.labels),
        annotations=dict(body.annotations),
        channels=tuple(dict.fromkeys(body.channels)),
        enabled=body.enabled,
        metric=body.metric,
        matchers=dict(body.matchers) if body.kind == "metric" else None,
        reduce=body.reduce,
        query=query,
        query_text=body.query,
        aggregate=body.aggregate,
    )


def _threshold_problems(body: RuleBody) -> dict[str, str]:
    """Thresholds that cannot fire or cannot clear as written."""
    if body.warning is None and body.critical is None:
        return {"critical": "give a warning or a critical threshold (or both)"}
    problems = {}
    # Strictly beyond: a clear threshold equal to its threshold is the default.
    beyond = OPERATORS[body.op.rstrip("=")]
    for level in ("warning", "critical"):
        threshold, clear = getattr(body, level), getattr(body, f"{level}_clear")
        if clear is None:
            continue
        if threshold is None:
            problems[f"{level}_clear"] = f"a clear threshold needs a {level} threshold"
        elif beyond(clear, threshold):
            problems[f"{level}_clear"] = (
                f"must be on the clearing side of {level} {threshold:g} "
                f"(the rule fires when the value is {body.op} it)"
            )
    if (
        body.warning is not None
        and body.critical is not None
        and beyond(body.warning, body.critical)
    ):
        problems["warning"] = f"must not be beyond critical {body.critical:g} for {body.op}"
    return problems


def to_record(rule: Rule) -> RuleRecord:
    """The stored form of ``rule``."""
    t = rule.thresholds
    spec: dict = {
        "group_by": list(rule.group_by),
        "window": rule.window,
        "op": t.op,
        "warning": t.warning,
        "warning_clear": t.warning_clear,
        "critical": t.critical,
        "critical_clear": t.critical_clear,
    }
    if rule.kind == "metric":
        spec.update(metric=rule.metric, matchers=rule.matchers or {}, reduce=rule.reduce)
    elif rule.kind == "log":
        spec.update(query=rule.query_text, aggregate=rule.aggregate)
    else:
        spec.update(query=rule.query_text)
    return RuleRecord(
        name=rule.name,
        kind=rule.kind,
        spec=spec,
        for_s=rule.policy.for_s,
        keep_firing_s=rule.policy.keep_firing_s,
        interval_s=rule.interval,
        no_data=rule.policy.no_data,
        on_error=rule.policy.on_error,
        repeat_s=rule.repeat_interval,
        labels=rule.labels,
        annotations=rule.annotations,
        channels=list(rule.channels),
        enabled=rule.enabled,
        builtin=rule.builtin,
    )


def to_body(record: RuleRecord) -> dict:
    """``record`` as the API shows it: the rule body plus its id and bookkeeping."""
    spec = record.spec
    body = {
        "id": record.id,
        "name": record.name,
        "kind": record.kind,
        "enabled": record.enabled,
        **{k: spec.get(k) for k in _OWN[record.kind]},
        **{
            k: spec.get(k)
            for k in (
                "group_by",
                "window",
                "op",
                "warning",
                "warning_clear",
                "critical",
                "critical_clear",
            )
        },
        "for": int(record.for_s),
        "keep_firing_for": int(record.keep_firing_s),
        "interval": record.interval_s,
        "no_data": record.no_data,
        "on_error": record.on_error,
        "repeat_interval": record.repeat_s,
        "channels": record.channels,
        "labels": record.labels,
        "annotations": record.annotations,
        "builtin": record.builtin,
        "version": record.version,
        "created_by": record.created_by,
        "created_at": record.created_at,
        "updated_by": record.updated_by,
        "updated_at": record.updated_at,
        "evaluated_at": record.evaluated_at,
    }
    return body


def from_record(record: RuleRecord) -> Rule:
    """The rule a stored record holds (stored rules were checked when saved)."""
    fields = {k: v for k, v in to_body(record).items() if k in RuleBody.model_fields or k == "for"}
    return replace(check(RuleBody.model_validate(fields)), id=record.id, builtin=record.builtin)
