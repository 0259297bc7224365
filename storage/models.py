"""SQLAlchemy models. They never leave ``storage``: stores return dataclasses or dicts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
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
