"""Request and response models of the monitoring API; the OpenAPI document comes from them."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)

from app.services.accounts import TOKEN_NAME
from app.services.timerange import EARLIEST, LATEST, parse_timestamp
from storage.logquery import LEVEL_ALIASES, LEVELS

ID_MAX = 2**31 - 1
"""The largest user or token id (their columns are PostgreSQL integers)."""
BIG_ID_MAX = 2**63 - 1
"""The largest audit entry or log record id (bigint columns)."""

RowId = Annotated[int, Field(ge=1, le=ID_MAX)]
"""The id of a user or a token."""

ISO_TIME_PATTERN = (
    r"^(197[1-9]|19[89][0-9]|20[0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-]0[0-9]:[0-5][0-9])?)?$"
)
"""The ISO 8601 times the document promises (the parser takes more), 1971 to 2099
whatever the offset, so that each is inside the range ``parse_timestamp`` accepts."""

Timestamp = Annotated[
    float,
    BeforeValidator(parse_timestamp),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": EARLIEST, "maximum": LATEST},
                {"type": "string", "pattern": ISO_TIME_PATTERN},
            ]
        }
    ),
    Field(description="ISO 8601 time (UTC unless an offset is given) or epoch seconds"),
]

LOG_CURSOR_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,6})?:[1-9][0-9]{0,17}$"
"""A keyset cursor as the log search hands it out: epoch seconds, a colon, a record id."""


def no_nul(value: str) -> str:
    """Refuse NUL characters: no name holds one, and PostgreSQL cannot compare with one."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNulText = Annotated[
    str, AfterValidator(no_nul), Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})
]
"""Text without NUL characters (the document says so too)."""

NOT_BLANK = r"\S"
"""Pattern of text holding something besides whitespace."""

ShortText = Annotated[NoNulText, Field(min_length=1, max_length=200)]

LEVEL_NAMES = [*LEVELS, *LEVEL_ALIASES]
LevelName = Annotated[ShortText, WithJsonSchema({"type": "string", "enum": LEVEL_NAMES})]
"""A log level (or an alias of one); checked by the log services, in any letter case."""


def log_cursor(value: str) -> str:
    """Refuse what is not a cursor the log search hands out, before it reaches a query."""
    if not re.fullmatch(LOG_CURSOR_PATTERN, value):
        raise ValueError("not a cursor from this API")
    return value


LogCursor = Annotated[
    str,
    AfterValidator(log_cursor),
    WithJsonSchema({"type": "string", "pattern": LOG_CURSOR_PATTERN}),
    Field(description="next_cursor of a page"),
]


class MetricsQuery(BaseModel):
    """Query string of GET /api/v1/admin/monitoring/metrics."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: list[ShortText] = Field(
        default_factory=list,
        max_length=50,
        description="Metric name; repeat for several. Without it the catalogue is returned.",
    )
    from_: Timestamp | None = Field(
        None, alias="from", description="Start (default: 1 h before `to`)"
    )
    to: Timestamp | None = Field(None, description="End (default: now)")
    host: ShortText | None = Field(None, description="Only series from this host")
    max_points: int = Field(
        1000, ge=1, le=10000, description="At most this many buckets per series"
    )


class SeriesLatest(BaseModel):
    """The latest value of one series."""

    host: str
    labels: dict[str, str]
    ts: float
    value: float


class MetricInfo(BaseModel):
    """A metric in the catalogue with its series' latest values."""

    name: str
    unit: str
    kind: Literal["gauge", "counter"]
    description: str
    series: list[SeriesLatest]


class Catalogue(BaseModel):
    """Every known metric with its latest values, and the hosts that report."""

    metrics: list[MetricInfo]
    hosts: list[str]


class SeriesOut(BaseModel):
    """A bucketed series; each point is ``[ts, avg, min, max]``."""

    name: str
    host: str
    labels: dict[str, str]
    points: list[tuple[float, float, float, float]]


class SeriesResponse(BaseModel):
    """Bucketed series for a time range."""

    model_config = ConfigDict(populate_by_name=True)

    from_: float = Field(alias="from")
    to: float
    step: int = Field(description="Bucket width in seconds")
    source: Literal["raw", "rollup", "rollup_5m", "rollup_1h"] = Field(
        description="raw samples, 1-minute, 5-minute or 1-hour rollups (plus newer raw samples)"
    )
    series: list[SeriesOut]


class ComponentHealth(BaseModel):
    """The state of one part of Pulseboard."""

    status: Literal["ok", "degraded", "down"]
    detail: str | None = None
    info: dict = Field(default_factory=dict)


class HealthResponse(BaseModel):
    """Overall state and the state of each part."""

    status: Literal["ok", "degraded", "down"]
    checked_at: float
    components: dict[str, ComponentHealth]


class Liveness(BaseModel):
    """Answer of /healthz."""

    status: Literal["ok"]


# -- accounts, tokens, audit ------------------------------------------------------------

Role = Literal["admin", "analyst", "ingest"]


class UserOut(BaseModel):
    """A user (never the password)."""

    id: int
    name: str
    role: Role
    disabled: bool
    created_at: str | None


class UserList(BaseModel):
    """Every user."""

    items: list[UserOut]


class UserCreate(BaseModel):
    """Body of POST /api/v1/admin/users."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$", description="1-64 letters, digits, _ . @ -"
    )
    role: Role
    password: str = Field(min_length=8, max_length=1024)


def _without_default(schema: dict) -> None:
    schema.pop("default", None)


class UserUpdate(BaseModel):
    """Body of PATCH /api/v1/admin/users/{id}: any of role, disabled, password."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    # Each field given must have a value: a missing one stays as it is.
    role: Role = Field(None, validate_default=False, json_schema_extra=_without_default)
    disabled: bool = Field(None, validate_default=False, json_schema_extra=_without_default)
    password: str = Field(
        None,
        min_length=8,
        max_length=1024,
        validate_default=False,
        json_schema_extra=_without_default,
    )


class PasswordChange(BaseModel):
    """Body of POST /api/v1/admin/me/password."""

    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=8, max_length=1024)


class TokenCreate(BaseModel):
    """Body of POST /api/v1/admin/users/{id}/tokens."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=100,
        json_schema_extra={"pattern": TOKEN_NAME.pattern},
        description="What the token is for: letters, digits, spaces or _ . @ : / -",
    )


class TokenOut(BaseModel):
    """A token's metadata (the token itself is shown once, at creation)."""

    id: int
    user_id: int
    user: str
    name: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class TokenCreated(TokenOut):
    """A new token, with its value: store it now, it is never shown again."""

    token: str


class TokenList(BaseModel):
    """Tokens the caller may see."""

    items: list[TokenOut]


class AuditQuery(BaseModel):
    """Query string of GET /api/v1/admin/audit."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    actor: ShortText | None = None
    action: ShortText | None = Field(None, description="An action, or a prefix ending in '.'")
    from_: Timestamp | None = Field(None, alias="from")
    to: Timestamp | None = None
    cursor: int | None = Field(
        None, ge=1, le=BIG_ID_MAX, description="next_cursor of the previous page"
    )
    limit: int = Field(100, ge=1, le=1000)


class AuditOut(BaseModel):
    """One audit entry."""

    id: int
    ts: str
    actor: str | None
    action: str
    target: str | None
    remote_addr: str | None
    details: dict


class AuditPage(BaseModel):
    """A page of audit entries, newest first."""

    items: list[AuditOut]
    next_cursor: int | None


NameText = Annotated[str, Field(max_length=200, json_schema_extra={"pattern": NOT_BLANK})]
"""A source or host name of an ingested record: not blank, at most 200 characters."""


class RangeQuery(BaseModel):
    """A query string naming only a range: the last hour up to ``to`` (default now)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Timestamp | None = Field(
        None, alias="from", description="Start (default: 1 h before `to`)"
    )
    to: Timestamp | None = Field(None, description="End (default: now)")


class PoolOut(BaseModel):
    """Pulseboard's own database connection pool."""

    size: int
    in_use: int
    overflow: int
    waiting: int = Field(description="Threads waiting for a connection")


class DiagnosticsSummary(BaseModel):
    """The top of each Diagnostics section (GET /api/v1/admin/monitoring/diagnostics)."""

    generated_at: str
    from_: str = Field(alias="from")
    to: str
    slow_queries: list[dict] = Field(description="Top statements by total time in the range")
    endpoints: list[dict] = Field(
        description="Busiest routes: count, error_rate, p50, p95, p99 and buckets [[le, count]]"
    )
    error_groups: list[dict] = Field(description="Top error groups by count in the range")
    dependencies: list[dict] = Field(
        description="Each check, then PostgreSQL, Redis and the scheduler: name, kind, up, "
        "latency_ms, detail"
    )
    db_pool: PoolOut
    unavailable: dict[str, str] = Field(
        description="Parts that could not be read now, with the reason"
    )


class LogRecordIn(BaseModel):
    """One record of POST /api/v1/logs (a line of NDJSON, or an item of a JSON array)."""

    ts: Timestamp | None = Field(
        None,
        description="ISO 8601 or epoch seconds; default now; within the log retention "
        "and at most 10 minutes ahead",
    )
    level: LevelName | None = Field(
        "info", description="debug, info, warning, error, critical (or warn, err, fatal, crit)"
    )
    message: str = Field(description="The text; the store keeps the first 64 KiB")
    source: NameText | None = Field("api")
    host: NameText | None = Field(None, description="Default: the caller's address")
    attrs: dict | None = Field(None, description="Any JSON object")


LogBatch = Annotated[list[LogRecordIn], Field(min_length=1)]
"""The records of one POST /api/v1/logs, as a JSON array."""


class IngestAccepted(BaseModel):
    """Records committed by POST /api/v1/logs."""

    accepted: int


# -- log search -----------------------------------------------------------------------------


class LogSearchQuery(BaseModel):
    """Query string of GET /api/v1/admin/logs and /api/v1/admin/logs/histogram."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    q: NoNulText = Field("", max_length=2000, description="Query language, e.g. level>=warning api")
    level: LevelName | None = Field(None, description="Minimum level")
    source: ShortText | None = None
    host: ShortText | None = None
    from_: Timestamp | None = Field(None, alias="from")
    to: Timestamp | None = None
    cursor: LogCursor | None = None
    limit: int = Field(100, ge=1, le=1000)
    buckets: int = Field(60, ge=1, le=500, description="Histogram buckets")


class LogOut(BaseModel):
    """A stored log record."""

    id: int
    ts: str
    level: str
    source: str
    host: str
    message: str
    attrs: dict


class LogPage(BaseModel):
    """A page of matching records, newest first."""

    items: list[LogOut]
    next_cursor: str | None


class LogHistogram(BaseModel):
    """Counts per level per bucket of ``step`` seconds."""

    step: float
    buckets: list[dict]


class LogExportRequest(BaseModel):
    """Body of POST /api/v1/admin/logs/export, as JSON or as an HTML form post."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    q: NoNulText = Field("", max_length=2000, description="Query language, e.g. level>=warning api")
    level: LevelName | None = Field(None, description="Minimum level")
    source: ShortText | None = None
    host: ShortText | None = None
    from_: Timestamp | None = Field(None, alias="from", description="Start (default: no limit)")
    to: Timestamp | None = Field(None, description="End, excluded (default: now)")
    format: Literal["csv", "json", "ndjson"] = Field("csv", description="File format")
    gzip: bool = Field(False, description="Compress into a .gz file")


# -- log archives ---------------------------------------------------------------------------


ArchiveName = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^logs-[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
            r"(\.[1-9][0-9]{0,3})?\.ndjson\.gz$",
        }
    ),
]
"""An archive's file name, as the document describes it (the archive service checks it)."""


class LogArchiveOut(BaseModel):
    """One archive: the records of a UTC day (or a later part of it) as gzip NDJSON."""

    name: str = Field(description="logs-YYYY-MM-DD.ndjson.gz, or logs-YYYY-MM-DD.N.ndjson.gz")
    day: str = Field(description="The UTC day, YYYY-MM-DD")
    part: int = Field(description="0 for the first file of the day, then 1, 2, ...")
    size: int = Field(description="File size in bytes")
    records: int | None = Field(description="Records in the file (null without its sidecar)")
    sha256: str | None = Field(description="SHA-256 of the file, hex")
    created: str = Field(description="When it was written, ISO 8601 UTC")
    url: str = Field(description="Where to download it")


class LogArchiveList(BaseModel):
    """Every log archive, newest day first."""

    items: list[LogArchiveOut]


class LogCount(BaseModel):
    """How many records match a query."""

    count: int = Field(description="Exact, or an estimate of at least 100,000 when not exact")
    exact: bool = Field(description="False when the count is an estimate")
