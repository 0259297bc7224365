"""leader terms: the generation of each leader lock, checked by a leader's writes

Revision ID: 0005_leader_terms
Revises: 0004_login_counters
Create Date: 2026-12-01 10:15:00.000000

A leader that lost its lock's connection keeps collecting into its buffer; each write of
the backlog checks, in its own transaction, that no other process has claimed a newer term
of the lock since (a fencing token).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_leader_terms"
down_revision: str | None = "0004_login_counters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leader_terms",
        sa.Column("lock_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("lock_key"),
    )


def downgrade() -> None:
    op.drop_table("leader_terms")
