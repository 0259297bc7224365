"""SQLAlchemy models. They never leave ``storage``: stores return dataclasses or dicts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base for every Pulseboard table."""


class MetricSeries(Base):
    """One series: a metric name, the host it came from and its labels (canonical JSON).

    Samples refer to a series by id, which keeps the sample rows narrow.
    """

    __tablename__ = "metric_series"
    __table_args__ = (UniqueConstraint("name", "host", "labels", name="uq_metric_series_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(200))
    labels: Mapped[str] = mapped_column(Text, default="{}")


class MetricSample(Base):
    """A raw sample: epoch seconds (UTC) and a value for one series."""

    __tablename__ = "metric_samples"
    __table_args__ = (Index("ix_metric_samples_series_ts", "series_id", "ts"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    series_id: Mapped[int] = mapped_column(Integer, ForeignKey("metric_series.id"))
    ts: Mapped[float] = mapped_column(Float)
    value: Mapped[float] = mapped_column(Float)


class MetricRollup(Base):
    """Samples of one series aggregated over ``step`` seconds starting at ``ts``."""

    __tablename__ = "metric_rollups"

    series_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("metric_series.id"), primary_key=True
    )
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[float] = mapped_column(Float, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    sum: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)


class LeaderTerm(Base):
    """The current term of one leader lock (PostgreSQL): each process that takes the lock
    after another held it claims the next generation, and a leader's writes check theirs
    inside their transaction, so one that lost the lock cannot write after a successor."""

    __tablename__ = "leader_terms"

    lock_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger)


class LogRecord(Base):
    """One log line from Pulseboard itself or from a producer."""

    __tablename__ = "log_records"
    __table_args__ = (
        Index("ix_log_records_ts", "ts"),
        Index("ix_log_records_level_ts", "level", "ts"),
        Index("ix_log_records_source_ts", "source", "ts"),
        # Partial: only error records have a fingerprint, and the rest add no entries.
        Index(
            "ix_log_records_fingerprint_ts",
            "fingerprint",
            "ts",
            postgresql_where=text("fingerprint IS NOT NULL"),
            sqlite_where=text("fingerprint IS NOT NULL"),
        ),
        Index(
            "ix_log_records_message_trgm",
            "message",
            postgresql_using="gin",
            postgresql_ops={"message": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    level: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    attrs: Mapped[str] = mapped_column(Text, default="{}")
    fingerprint: Mapped[str | None] = mapped_column(String(32))
    """The error group of a record at ``error`` or above (set at write time), else null."""


LOG_SEARCH_FTS = "log_records_fts"
"""SQLite only: the FTS5 trigram index over ``log_records.message`` (migration 0002), a
virtual table rather than a model."""

_FTS5_SHADOW_SUFFIXES = ("_data", "_idx", "_content", "_docsize", "_config")
_POSTGRESQL_ONLY_INDEXES = frozenset({"ix_log_records_message_trgm"})


def schema_filters(dialect: str) -> dict[str, Callable[..., bool]]:
    """Alembic's ``include_name`` and ``include_object`` hooks for a ``dialect`` database:
    what the models and the migrated schema must agree on. Left out are the SQLite FTS5
    table with its shadow tables, and PostgreSQL-only indexes on other databases."""
    fts_tables = {LOG_SEARCH_FTS, *(LOG_SEARCH_FTS + s for s in _FTS5_SHADOW_SUFFIXES)}

    def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
        return not (type_ == "table" and name in fts_tables)

    def include_object(obj, name: str | None, type_: str, reflected: bool, compare_to) -> bool:
        return type_ != "index" or name not in _POSTGRESQL_ONLY_INDEXES or dialect == "postgresql"

    return {"include_name": include_name, "include_object": include_object}


class User(Base):
    """A person or program that can sign in; ``role`` is admin, analyst or ingest."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """A bearer token; only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Append-only record of who did what, when and from where."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_ts", "ts"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(String(200))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text, default="{}")


class LoginCounter(Base):
    """Failed logins of one subject in the current window: a (user, address) pair, an
    address or a user name (``scope`` says which), with the lockout or trust it earned."""

    __tablename__ = "login_counters"
    __table_args__ = (Index("ix_login_counters_expires_at", "expires_at"),)

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    trusted_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AlertRule(Base):
    """An alert rule: its kind (metric or log), its query and thresholds (``spec``, JSON)
    and the common settings every kind shares. Times are epoch seconds (UTC)."""

    __tablename__ = "alert_rules"
    # Ids are never reused (SQLite reuses the highest without AUTOINCREMENT): alerts,
    # history and deliveries keep pointing at what they were about.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    spec: Mapped[str] = mapped_column(Text, default="{}")
    for_s: Mapped[float] = mapped_column(Float, default=0.0)
    keep_firing_s: Mapped[float] = mapped_column(Float, default=0.0)
    interval_s: Mapped[int] = mapped_column(Integer, default=60)
    no_data: Mapped[str] = mapped_column(String(16), default="nodata")
    on_error: Mapped[str] = mapped_column(String(16), default="error")
    repeat_s: Mapped[int] = mapped_column(Integer, default=14400)
    labels: Mapped[str] = mapped_column(Text, default="{}")
    annotations: Mapped[str] = mapped_column(Text, default="{}")
    channels: Mapped[str] = mapped_column(Text, default="[]")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    builtin: Mapped[str | None] = mapped_column(String(64))
    """The key of a default rule (``cpu``, ``disk``, …), so the Overview finds its rule."""
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[float] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, default=1)
    evaluated_at: Mapped[float | None] = mapped_column(Float)


class AlertInstance(Base):
    """One alert: a rule and one label set (``fingerprint``), where its state machine
    stands (``machine``, JSON) and the people's layer (acknowledgement, closing)."""

    __tablename__ = "alert_instances"
    __table_args__ = (
        UniqueConstraint("rule_id", "fingerprint", name="uq_alert_instances_key"),
        Index("ix_alert_instances_state", "state"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(Integer)
    rule_name: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    labels: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str | None] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    active_at: Mapped[float | None] = mapped_column(Float)
    fired_at: Mapped[float | None] = mapped_column(Float)
    resolved_at: Mapped[float | None] = mapped_column(Float)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    machine: Mapped[str] = mapped_column(Text, default="{}")
    evaluated_at: Mapped[float | None] = mapped_column(Float)
    notified_at: Mapped[float | None] = mapped_column(Float)
    """When a firing notification was last queued: repeats count from it."""
    lines: Mapped[str] = mapped_column(Text, default="[]")
    ack_by: Mapped[str | None] = mapped_column(String(100))
    ack_at: Mapped[float | None] = mapped_column(Float)
    ack_until: Mapped[float | None] = mapped_column(Float)
    ack_comment: Mapped[str | None] = mapped_column(Text)
    closed_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[float | None] = mapped_column(Float)


class AlertHistory(Base):
    """Append-only: every transition of an alert and every human action on it."""

    __tablename__ = "alert_history"
    __table_args__ = (
        Index("ix_alert_history_instance_ts", "instance_id", "ts"),
        Index("ix_alert_history_ts", "ts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(Integer)
    rule_id: Mapped[int] = mapped_column(Integer)
    ts: Mapped[float] = mapped_column(Float)
    event: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    severity: Mapped[str | None] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str | None] = mapped_column(String(100))


class NotificationChannel(Base):
    """Where notifications go; ``config`` is JSON with its secret encrypted."""

    __tablename__ = "notification_channels"
    # Ids are never reused (SQLite reuses the highest without AUTOINCREMENT): alerts,
    # history and deliveries keep pointing at what they were about.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[str] = mapped_column(Text, default="{}")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class AlertSilence(Base):
    """Label matchers that mute notifications between two times, or weekly (maintenance)."""

    __tablename__ = "alert_silences"
    # Ids are never reused (SQLite reuses the highest without AUTOINCREMENT): alerts,
    # history and deliveries keep pointing at what they were about.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    matchers: Mapped[str] = mapped_column(Text, default="{}")
    starts_at: Mapped[float] = mapped_column(Float)
    ends_at: Mapped[float] = mapped_column(Float)
    weekly: Mapped[str | None] = mapped_column(Text)
    """JSON ``{"days": [0-6, Monday first], "start": "HH:MM", "end": "HH:MM"}`` (UTC)."""
    author: Mapped[str | None] = mapped_column(String(100))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)


class NotificationOutbox(Base):
    """A notification to send, written in the transaction of the change it tells of; its
    attempts and the receiver's answers make it the delivery log too."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        Index("ix_notification_outbox_due", "status", "next_attempt_at"),
        Index("ix_notification_outbox_created", "created_at"),
        # Delivery asks what a group last sent and what a channel last heard of an alert.
        Index("ix_notification_outbox_group", "channel_id", "group_key", "status"),
        Index("ix_notification_outbox_instance", "instance_id", "channel_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(300), unique=True)
    group_key: Mapped[str] = mapped_column(String(300))
    channel_id: Mapped[int] = mapped_column(Integer)
    rule_id: Mapped[int] = mapped_column(Integer)
    instance_id: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(16))
    payload: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    last_code: Mapped[int | None] = mapped_column(Integer)
    last_answer: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[float | None] = mapped_column(Float)
    batch: Mapped[str | None] = mapped_column(String(64))
    """The send that carried it: rows grouped into one notification share it."""


# -- diagnostics (migration 0007) -------------------------------------------------------------


class StatementSample(Base):
    """What one statement of ``pg_stat_statements`` did during one interval (a delta), for
    the statements that did most in it; ``step`` 0 for collected rows, else a rollup's."""

    __tablename__ = "statement_samples"
    __table_args__ = (
        Index("ix_statement_samples_target_ts", "target", "step", "ts"),
        Index("ix_statement_samples_query_ts", "target", "queryid", "ts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Float)
    step: Mapped[int] = mapped_column(Integer, default=0)
    interval_s: Mapped[float] = mapped_column(Float)
    target: Mapped[str] = mapped_column(String(200))
    queryid: Mapped[str] = mapped_column(String(32))
    calls: Mapped[int] = mapped_column(BigInteger)
    total_time_ms: Mapped[float] = mapped_column(Float)
    rows: Mapped[int] = mapped_column(BigInteger)
    shared_blks_hit: Mapped[int] = mapped_column(BigInteger)
    shared_blks_read: Mapped[int] = mapped_column(BigInteger)


class StatementText(Base):
    """The normalised text of a statement, per monitored database."""

    __tablename__ = "statement_texts"

    target: Mapped[str] = mapped_column(String(200), primary_key=True)
    queryid: Mapped[str] = mapped_column(String(32), primary_key=True)
    database: Mapped[str] = mapped_column(String(200))
    username: Mapped[str] = mapped_column(String(200), default="")
    query: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)


class ActivitySample(Base):
    """A session worth remembering at one collection: blocked, blocking or long-running."""

    __tablename__ = "activity_samples"
    __table_args__ = (Index("ix_activity_samples_target_ts", "target", "ts"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Float)
    target: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32), default="")
    wait_event_type: Mapped[str] = mapped_column(String(64), default="")
    wait_event: Mapped[str] = mapped_column(String(64), default="")
    query_s: Mapped[float | None] = mapped_column(Float)
    xact_s: Mapped[float | None] = mapped_column(Float)
    blocked_by: Mapped[str] = mapped_column(Text, default="[]")
    username: Mapped[str] = mapped_column(String(200), default="")
    application: Mapped[str] = mapped_column(String(200), default="")
    client: Mapped[str] = mapped_column(String(200), default="")
    query: Mapped[str] = mapped_column(Text, default="")


class RedisSlowEntry(Base):
    """One entry of a Redis server's SLOWLOG, kept past the server's own short list."""

    __tablename__ = "redis_slowlog"
    __table_args__ = (Index("ix_redis_slowlog_ts", "ts"),)

    target: Mapped[str] = mapped_column(String(200), primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[float] = mapped_column(Float)
    duration_us: Mapped[int] = mapped_column(BigInteger)
    command: Mapped[str] = mapped_column(Text)
    client: Mapped[str] = mapped_column(String(200), default="")


LATENCY_BUCKETS: tuple[float, ...] = (
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    2.0,
    5.0,
    10.0,
    30.0,
    60.0,
)
"""Upper bounds (seconds) of the request-latency buckets, roughly log-spaced from 1 ms to
60 s; the column after the last one counts what took longer (+Inf)."""
BUCKET_COLUMNS: tuple[str, ...] = tuple(f"b{i}" for i in range(len(LATENCY_BUCKETS) + 1))

endpoint_histograms = Table(
    "endpoint_histograms",
    Base.metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("step", Integer, nullable=False),
    Column("host", String(200), nullable=False),
    Column("route", String(300), nullable=False),
    Column("method", String(16), nullable=False),
    Column("requests", BigInteger, nullable=False),
    Column("client_errors", BigInteger, nullable=False),
    Column("server_errors", BigInteger, nullable=False),
    Column("seconds", Float, nullable=False),
    *(Column(name, BigInteger, nullable=False) for name in BUCKET_COLUMNS),
    Index("ix_endpoint_histograms_step_ts", "step", "ts"),
    UniqueConstraint("step", "ts", "host", "route", "method", name="uq_endpoint_histograms_key"),
)
"""Request-latency bucket counts of one route over one interval (step 0, as collected) or
one rollup period (step in seconds): counter deltas, so any range sums them."""


class SlowRequest(Base):
    """A request that took longer than the slow-request threshold."""

    __tablename__ = "slow_requests"
    __table_args__ = (Index("ix_slow_requests_ts", "ts"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Float)
    host: Mapped[str] = mapped_column(String(200))
    route: Mapped[str] = mapped_column(String(300))
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    trace_id: Mapped[str | None] = mapped_column(String(64))


class ErrorGroup(Base):
    """Log records at ``error`` or above that share a fingerprint, kept at write time."""

    __tablename__ = "error_groups"
    __table_args__ = (Index("ix_error_groups_last_seen", "last_seen"),)

    fingerprint: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(200))
    first_seen: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(BigInteger)
    sample: Mapped[str] = mapped_column(Text)
    regressed_at: Mapped[float | None] = mapped_column(Float)
    """When it was seen again after a quiet period of more than a day (latest time)."""


class DependencyCheck(Base):
    """An HTTP(S), TCP or DNS check the leader runs, with its latest result."""

    __tablename__ = "dependency_checks"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    spec: Mapped[str] = mapped_column(Text, default="{}")
    interval_s: Mapped[int] = mapped_column(Integer)
    timeout_s: Mapped[float] = mapped_column(Float)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    last_run_at: Mapped[float | None] = mapped_column(Float)
    last_up: Mapped[bool | None] = mapped_column(Boolean)
    last_latency_ms: Mapped[float | None] = mapped_column(Float)
    last_cert_expiry: Mapped[float | None] = mapped_column(Float)
    last_detail: Mapped[str] = mapped_column(Text, default="")


class Annotation(Base):
    """A mark on the time axis (a deploy, a config change), from the API or the page."""

    __tablename__ = "annotations"
    __table_args__ = (Index("ix_annotations_ts", "ts"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Float)
    ts_end: Mapped[float | None] = mapped_column(Float)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[str] = mapped_column(Text, default="[]")
    author: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[float] = mapped_column(Float)


class DiagnosticJob(Base):
    """A long diagnostic job (a Redis big-keys scan): its progress, result and whether
    someone asked it to stop; any process can read it, the one running it writes it."""

    __tablename__ = "diagnostic_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int | None] = mapped_column(BigInteger)
    result: Mapped[str] = mapped_column(Text, default="{}")
    error: Mapped[str] = mapped_column(Text, default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
