"""Request and response models of the alerting API (the rule body itself is
``app.alerting.rules.RuleBody``); the OpenAPI document comes from them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.alerting.channels.base import MAX_SECRET
from app.alerting.channels.dingtalk import MOBILE
from app.alerting.channels.email import MAX_ADDRESS, MAX_RECIPIENTS
from app.alerting.rules import MAX_DURATION, LabelValue, RuleBody, label_map
from app.alerting.silences import WeeklyWindow
from app.api.models import BIG_ID_MAX, NoNulText, RowId, Timestamp
from storage.outbox import STATUSES

AlertState = Literal["normal", "pending", "firing", "recovering", "nodata", "error"]
Severity = Literal["warning", "critical"]
Comment = Annotated[NoNulText, Field(max_length=4000)]
IsoTime = Annotated[str, Field(description="ISO 8601, UTC")]


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# -- alerts --------------------------------------------------------------------------------


class AlertsQuery(_Query):
    """Query string of GET /api/v1/admin/alerts."""

    state: Literal["open", "firing", "resolved", "all"] = Field(
        "open",
        description="open: pending, firing, recovering, nodata or error; firing (recovering "
        "included); resolved; all",
    )
    severity: Severity | None = None
    rule_id: RowId | None = None
    from_: Timestamp | None = Field(None, alias="from", description="Active at or after")
    to: Timestamp | None = Field(None, description="Active at or before")
    cursor: RowId | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(100, ge=1, le=1000)


class Acknowledgement(BaseModel):
    """Who acknowledged an alert, when, why and until when."""

    by: str | None
    at: IsoTime
    comment: str | None
    until: IsoTime | None


class AlertOut(BaseModel):
    """One alert: a rule and one label set."""

    id: int
    rule_id: int
    rule_name: str
    state: AlertState
    severity: Severity | None
    labels: dict[str, str]
    value: float | None
    active_at: IsoTime | None
    fired_at: IsoTime | None
    resolved_at: IsoTime | None
    acknowledged: Acknowledgement | None
    closed: bool = Field(description="Closed by hand once resolved (who and when: its history)")
    silenced: bool = Field(description="A silence mutes its notifications now")
    silences: list[int] = Field(description="The ids of the silences that mute it now")
    flapping: bool


class AlertPage(BaseModel):
    """A page of alerts, newest first."""

    items: list[AlertOut]
    next_cursor: int | None


class HistoryOut(BaseModel):
    """One line of an alert's history: a transition or a person's action."""

    model_config = ConfigDict(populate_by_name=True)

    id: int
    ts: IsoTime
    event: str
    from_: str | None = Field(alias="from")
    to: str | None
    severity: str | None
    value: float | None
    reason: str
    actor: str | None


class DeliveryOut(BaseModel):
    """A notification to one channel and how its delivery went."""

    id: int
    channel_id: int
    channel: str | None = Field(description="The channel's name (null once deleted)")
    rule_id: int
    alert_id: int
    event: str
    status: Literal[STATUSES]  # type: ignore[valid-type]
    attempts: int
    next_attempt_at: IsoTime | None
    last_code: int | None = Field(description="The receiver's status (or SMTP) code")
    last_answer: str | None = Field(description="The first bytes of the receiver's answer")
    created_at: IsoTime | None
    sent_at: IsoTime | None


class AlertDetail(AlertOut):
    """One alert with its history (oldest first) and its notifications (newest first)."""

    history: list[HistoryOut]
    notifications: list[DeliveryOut]


class AckBody(_Body):
    """Body of POST /api/v1/admin/alerts/{id}/ack."""

    comment: Comment = ""
    until: Timestamp | None = Field(
        None, description="Notify again if it still fires then (default: while it is open)"
    )


class CommentBody(_Body):
    """Body of POST /api/v1/admin/alerts/{id}/unack, /comment and /close."""

    comment: Comment = ""


class AlertSilenceBody(_Body):
    """Body of POST /api/v1/admin/alerts/{id}/silence: mute this alert for a while."""

    duration: float = Field(3600, ge=60, le=MAX_DURATION, description="Seconds from now")
    comment: Comment = ""


# -- rules ---------------------------------------------------------------------------------


class RuleOut(RuleBody):
    """A stored rule: its body with its id and bookkeeping."""

    id: int
    builtin: str | None = Field(description="The key of a default rule (cpu, disk, …)")
    version: int
    created_by: str | None
    created_at: IsoTime | None
    updated_by: str | None
    updated_at: IsoTime | None
    evaluated_at: IsoTime | None


class RuleSaved(RuleOut):
    """A rule as created or replaced, with what it was accepted despite."""

    warnings: list[str] = Field(description="E.g. a metric not seen yet (it may appear later)")


class RuleList(BaseModel):
    """Every rule, by name."""

    items: list[RuleOut]


class PreviewBody(RuleBody):
    """Body of POST /api/v1/admin/alerts/rules/preview: a rule and the range to try it on."""

    from_: Timestamp | None = Field(None, alias="from", description="Default: 24 h before `to`")
    to: Timestamp | None = Field(None, description="Default: now")


class PreviewSeries(BaseModel):
    """The reduced series of one label group: ``[ts, value]`` points (value null: no data)."""

    labels: dict[str, str]
    points: list[tuple[float, float | None]]


class PreviewThresholds(BaseModel):
    """The rule's comparison and thresholds, for drawing them."""

    op: str
    warning: float | None
    warning_clear: float | None
    critical: float | None
    critical_clear: float | None


class PreviewTransition(BaseModel):
    """A transition the rule would have made."""

    model_config = ConfigDict(populate_by_name=True)

    ts: float
    labels: dict[str, str]
    event: str
    from_: str = Field(alias="from")
    to: str
    severity: Severity | None
    value: float | None
    reason: str


class PreviewOut(BaseModel):
    """What the rule would have seen over the range and the transitions it would have made."""

    series: list[PreviewSeries]
    thresholds: PreviewThresholds
    transitions: list[PreviewTransition]
    step: float = Field(description="Seconds between two evaluations of the preview")


# -- silences ------------------------------------------------------------------------------


class SilenceBody(_Body):
    """Body of POST /api/v1/admin/alerts/silences."""

    matchers: label_map(LabelValue, 30, min_items=1) = Field(
        description="alertname (the rule's name) or a label, and the value it must have"
    )
    starts_at: Timestamp | None = Field(None, description="Default: now")
    ends_at: Timestamp
    comment: Comment = ""
    weekly: WeeklyWindow | None = Field(
        None, description="Mute only inside this weekly window (a maintenance window)"
    )


class SilenceOut(BaseModel):
    """A silence and where it stands now."""

    id: int
    matchers: dict[str, str]
    starts_at: IsoTime
    ends_at: IsoTime
    weekly: WeeklyWindow | None
    author: str | None
    comment: str
    created_at: IsoTime | None
    state: Literal["active", "pending", "expired"] = Field(
        description="pending: before its start or outside its weekly window"
    )


class SilenceList(BaseModel):
    """Silences, newest first."""

    items: list[SilenceOut]


class SilencesQuery(_Query):
    """Query string of GET /api/v1/admin/alerts/silences."""

    state: Literal["active", "all"] = Field(
        "active", description="active: not yet ended (muting now or later); all"
    )


# -- channels ------------------------------------------------------------------------------

ChannelKind = Literal[
    "webhook", "slack", "dingtalk", "feishu", "wecom", "email", "alertmanager", "apprise"
]
ReceiverUrl = Annotated[NoNulText, Field(min_length=1, max_length=2000)]
# The characters an address part cannot hold (the e-mail channel's ``ADDRESS`` says so
# with \s, which regex engines read differently), spelled out so every engine agrees.
_NOT_IN_ADDRESS = (
    "@\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    + "<>,;:\"'()\\[\\]\\\\"
)
Recipient = Annotated[
    str,
    Field(max_length=MAX_ADDRESS, pattern=f"^[^{_NOT_IN_ADDRESS}]+@[^{_NOT_IN_ADDRESS}]+$"),
]
Mobile = Annotated[str, Field(pattern=f"^{MOBILE.pattern}$")]


class ChannelBody(_Body):
    """Body of POST /api/v1/admin/alerts/channels and PUT …/channels/{id} (on PUT a
    ``url`` or ``secret`` left out keeps the saved one)."""

    name: Annotated[NoNulText, Field(min_length=1, max_length=200, pattern=r"\S")]
    kind: ChannelKind
    enabled: bool = True
    url: ReceiverUrl | None = Field(
        None, description="The receiver (an Apprise URL for apprise); not for email"
    )
    secret: Annotated[NoNulText, Field(max_length=MAX_SECRET)] | None = Field(
        None, description="Webhook HMAC key, DingTalk or Feishu signing secret"
    )
    to: Annotated[list[Recipient], Field(max_length=MAX_RECIPIENTS)] = Field(
        default_factory=list, description="email: the recipients"
    )
    at_mobiles: Annotated[list[Mobile], Field(max_length=50)] = Field(
        default_factory=list, description="dingtalk: phone numbers to @"
    )


class ChannelOut(BaseModel):
    """A channel as every read shows it: ``secret`` and any token in ``url`` masked."""

    id: int
    name: str
    kind: ChannelKind
    enabled: bool
    url: str | None = None
    secret: str | None = None
    to: list[str] | None = None
    at_mobiles: list[str] | None = None
    created_by: str | None
    created_at: IsoTime | None
    updated_at: IsoTime | None


class ChannelList(BaseModel):
    """Every channel, by name."""

    items: list[ChannelOut]


class ChannelTestOut(BaseModel):
    """What the receiver answered to a sample notification."""

    ok: bool
    status: int | None = Field(description="Its HTTP (or SMTP) status code")
    answer: str = Field(description="The first bytes of its reply")


# -- deliveries and export -----------------------------------------------------------------


class DeliveriesQuery(_Query):
    """Query string of GET /api/v1/admin/alerts/deliveries."""

    channel_id: RowId | None = None
    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]
    cursor: int | None = Field(
        None, ge=1, le=BIG_ID_MAX, description="next_cursor of the previous page"
    )
    limit: int = Field(100, ge=1, le=1000)


class DeliveryPage(BaseModel):
    """A page of the delivery log, newest first."""

    items: list[DeliveryOut]
    next_cursor: int | None


HistoryEvent = Annotated[
    str, Field(min_length=1, max_length=24, pattern=r"^[a-z_]+$", description="e.g. firing")
]


class AlertExportQuery(_Query):
    """Query string of GET /api/v1/admin/alerts/export."""

    from_: Timestamp | None = Field(None, alias="from", description="Default: the first entry")
    to: Timestamp | None = Field(None, description="End, excluded (default: now)")
    rule_id: RowId | None = None
    event: list[HistoryEvent] = Field(
        default_factory=list, max_length=20, description="Only these events; repeat for several"
    )
    format: Literal["csv", "json"] = Field("csv", description="File format")
