"""diagnostics: statement and activity history, endpoint histograms, slow requests, error
groups (and the fingerprint of each error record), Redis slowlog, dependency checks,
annotations and long diagnostic jobs

Revision ID: 0007_diagnostics
Revises: 0006_alerting
Create Date: 2026-12-01 16:18:08.382127

The fingerprint column is nullable with no default, so adding it to a large log table on
PostgreSQL rewrites nothing; its index holds only the records that have one (errors).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_diagnostics"
down_revision: str | None = "0006_alerting"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity_samples",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("wait_event_type", sa.String(length=64), nullable=False),
        sa.Column("wait_event", sa.String(length=64), nullable=False),
        sa.Column("query_s", sa.Float(), nullable=True),
        sa.Column("xact_s", sa.Float(), nullable=True),
        sa.Column("blocked_by", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("application", sa.String(length=200), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("activity_samples", schema=None) as batch_op:
        batch_op.create_index("ix_activity_samples_target_ts", ["target", "ts"], unique=False)

    op.create_table(
        "annotations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("ts_end", sa.Float(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.create_index("ix_annotations_ts", ["ts"], unique=False)

    op.create_table(
        "dependency_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("timeout_s", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("last_run_at", sa.Float(), nullable=True),
        sa.Column("last_up", sa.Boolean(), nullable=True),
        sa.Column("last_latency_ms", sa.Float(), nullable=True),
        sa.Column("last_cert_expiry", sa.Float(), nullable=True),
        sa.Column("last_detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "diagnostic_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("done", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "endpoint_histograms",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("route", sa.String(length=300), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("client_errors", sa.BigInteger(), nullable=False),
        sa.Column("server_errors", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("b0", sa.BigInteger(), nullable=False),
        sa.Column("b1", sa.BigInteger(), nullable=False),
        sa.Column("b2", sa.BigInteger(), nullable=False),
        sa.Column("b3", sa.BigInteger(), nullable=False),
        sa.Column("b4", sa.BigInteger(), nullable=False),
        sa.Column("b5", sa.BigInteger(), nullable=False),
        sa.Column("b6", sa.BigInteger(), nullable=False),
        sa.Column("b7", sa.BigInteger(), nullable=False),
        sa.Column("b8", sa.BigInteger(), nullable=False),
        sa.Column("b9", sa.BigInteger(), nullable=False),
        sa.Column("b10", sa.BigInteger(), nullable=False),
        sa.Column("b11", sa.BigInteger(), nullable=False),
        sa.Column("b12", sa.BigInteger(), nullable=False),
        sa.Column("b13", sa.BigInteger(), nullable=False),
        sa.Column("b14", sa.BigInteger(), nullable=False),
        sa.Column("b15", sa.BigInteger(), nullable=False),
        sa.Column("b16", sa.BigInteger(), nullable=False),
        sa.Column("b17", sa.BigInteger(), nullable=False),
        sa.Column("b18", sa.BigInteger(), nullable=False),
        sa.Column("b19", sa.BigInteger(), nullable=False),
        sa.Column("b20", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "step", "ts", "host", "route", "method", name="uq_endpoint_histograms_key"
        ),
    )
    with op.batch_alter_table("endpoint_histograms", schema=None) as batch_op:
        batch_op.create_index("ix_endpoint_histograms_step_ts", ["step", "ts"], unique=False)

    op.create_table(
        "error_groups",
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("sample", sa.Text(), nullable=False),
        sa.Column("regressed_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("fingerprint"),
    )
    with op.batch_alter_table("error_groups", schema=None) as batch_op:
        batch_op.create_index("ix_error_groups_last_seen", ["last_seen"], unique=False)

    op.create_table(
        "redis_slowlog",
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("duration_us", sa.BigInteger(), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("target", "entry_id"),
    )
    with op.batch_alter_table("redis_slowlog", schema=None) as batch_op:
        batch_op.create_index("ix_redis_slowlog_ts", ["ts"], unique=False)

    op.create_table(
        "slow_requests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("route", sa.String(length=300), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("trace_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("slow_requests", schema=None) as batch_op:
        batch_op.create_index("ix_slow_requests_ts", ["ts"], unique=False)

    op.create_table(
        "statement_samples",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("queryid", sa.String(length=32), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("total_time_ms", sa.Float(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("shared_blks_hit", sa.BigInteger(), nullable=False),
        sa.Column("shared_blks_read", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("statement_samples", schema=None) as batch_op:
        batch_op.create_index(
            "ix_statement_samples_query_ts", ["target", "queryid", "ts"], unique=False
        )
        batch_op.create_index(
            "ix_statement_samples_target_ts", ["target", "step", "ts"], unique=False
        )

    op.create_table(
        "statement_texts",
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("queryid", sa.String(length=32), nullable=False),
        sa.Column("database", sa.String(length=200), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("target", "queryid"),
    )
    op.add_column("log_records", sa.Column("fingerprint", sa.String(length=32), nullable=True))
    op.create_index(
        "ix_log_records_fingerprint_ts",
        "log_records",
        ["fingerprint", "ts"],
        postgresql_where=sa.text("fingerprint IS NOT NULL"),
        sqlite_where=sa.text("fingerprint IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_log_records_fingerprint_ts", table_name="log_records")
    # Not batch mode: on SQLite that rebuilds the table, losing its full-text triggers.
    op.execute("ALTER TABLE log_records DROP COLUMN fingerprint")

    op.drop_table("statement_texts")
    with op.batch_alter_table("statement_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_statement_samples_target_ts")
        batch_op.drop_index("ix_statement_samples_query_ts")

    op.drop_table("statement_samples")
    with op.batch_alter_table("slow_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_slow_requests_ts")

    op.drop_table("slow_requests")
    with op.batch_alter_table("redis_slowlog", schema=None) as batch_op:
        batch_op.drop_index("ix_redis_slowlog_ts")

    op.drop_table("redis_slowlog")
    with op.batch_alter_table("error_groups", schema=None) as batch_op:
        batch_op.drop_index("ix_error_groups_last_seen")

    op.drop_table("error_groups")
    with op.batch_alter_table("endpoint_histograms", schema=None) as batch_op:
        batch_op.drop_index("ix_endpoint_histograms_step_ts")

    op.drop_table("endpoint_histograms")
    op.drop_table("diagnostic_jobs")
    op.drop_table("dependency_checks")
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.drop_index("ix_annotations_ts")

    op.drop_table("annotations")
    with op.batch_alter_table("activity_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_samples_target_ts")

    op.drop_table("activity_samples")
