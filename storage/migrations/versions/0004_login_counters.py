"""login counters: failed logins per (user, address), per address and per user

Revision ID: 0004_login_counters
Revises: 0002
Create Date: 2026-12-01 10:30:00.000000

The login throttle counted failures by reading the audit log, which let parallel guesses
all pass before any was counted. These rows are counted and locked in one transaction.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_login_counters"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_counters",
        sa.Column("scope", sa.String(8), primary_key=True),
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True)),
        sa.Column("last_checked_at", sa.DateTime(timezone=True)),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("trusted_until", sa.DateTime(timezone=True)),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_counters_expires_at", "login_counters", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_login_counters_expires_at", table_name="login_counters")
    op.drop_table("login_counters")
