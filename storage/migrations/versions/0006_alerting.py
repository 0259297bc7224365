"""alerting: rules, instances, history, channels, silences and the notification outbox

Revision ID: 0006_alerting
Revises: 0005_leader_terms
Create Date: 2026-12-01 13:30:00.000000

Also creates the default rules from the thresholds that colour the Overview, so a fresh
database alerts on what the console already shows as warning or critical.
"""

import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.default_rules import default_rule_rows

revision: str = "0006_alerting"
down_revision: str | None = "0005_leader_terms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("for_s", sa.Float(), nullable=False),
        sa.Column("keep_firing_s", sa.Float(), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("no_data", sa.String(16), nullable=False),
        sa.Column("on_error", sa.String(16), nullable=False),
        sa.Column("repeat_s", sa.Integer(), nullable=False),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("annotations", sa.Text(), nullable=False),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("builtin", sa.String(64)),
        sa.Column("created_by", sa.String(100)),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(100)),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("evaluated_at", sa.Float()),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "alert_instances",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("rule_name", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16)),
        sa.Column("value", sa.Float()),
        sa.Column("active_at", sa.Float()),
        sa.Column("fired_at", sa.Float()),
        sa.Column("resolved_at", sa.Float()),
        sa.Column("flapping", sa.Boolean(), nullable=False),
        sa.Column("machine", sa.Text(), nullable=False),
        sa.Column("evaluated_at", sa.Float()),
        sa.Column("notified_at", sa.Float()),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("ack_by", sa.String(100)),
        sa.Column("ack_at", sa.Float()),
        sa.Column("ack_until", sa.Float()),
        sa.Column("ack_comment", sa.Text()),
        sa.Column("closed_by", sa.String(100)),
        sa.Column("closed_at", sa.Float()),
        sa.UniqueConstraint("rule_id", "fingerprint", name="uq_alert_instances_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_alert_instances_state", "alert_instances", ["state"])
    op.create_table(
        "alert_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("event", sa.String(24), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16)),
        sa.Column("severity", sa.String(16)),
        sa.Column("value", sa.Float()),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(100)),
    )
    op.create_index("ix_alert_history_instance_ts", "alert_history", ["instance_id", "ts"])
    op.create_index("ix_alert_history_ts", "alert_history", ["ts"])
    op.create_table(
        "notification_channels",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(100)),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "alert_silences",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("matchers", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.Float(), nullable=False),
        sa.Column("ends_at", sa.Float(), nullable=False),
        sa.Column("weekly", sa.Text()),
        sa.Column("author", sa.String(100)),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "notification_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("dedup_key", sa.String(300), nullable=False, unique=True),
        sa.Column("group_key", sa.String(300), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("last_code", sa.Integer()),
        sa.Column("last_answer", sa.Text()),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.Float()),
        sa.Column("batch", sa.String(64)),
    )
    op.create_index(
        "ix_notification_outbox_due", "notification_outbox", ["status", "next_attempt_at"]
    )
    op.create_index("ix_notification_outbox_created", "notification_outbox", ["created_at"])
    op.create_index(
        "ix_notification_outbox_group",
        "notification_outbox",
        ["channel_id", "group_key", "status"],
    )
    op.create_index(
        "ix_notification_outbox_instance", "notification_outbox", ["instance_id", "channel_id"]
    )
    _create_default_rules()


def _create_default_rules() -> None:
    rows = default_rule_rows(time.time())
    rules = sa.table("alert_rules", *(sa.column(c) for c in rows[0]))
    op.bulk_insert(rules, rows)


def downgrade() -> None:
    for table in (
        "notification_outbox",
        "alert_silences",
        "notification_channels",
        "alert_history",
        "alert_instances",
        "alert_rules",
    ):
        op.drop_table(table)
