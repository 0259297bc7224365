"""five-minute rollups: a metric tier between the minutes and the hours, backfilled from
the minutes already stored

Revision ID: 0008_five_minute_rollups
Revises: 0007_diagnostics
Create Date: 2026-12-01 19:50:00.000000

The tier is rows of metric_rollups with step 300, so no table changes. Only complete
5-minute periods are backfilled (those that end by the end of the newest minute row):
the rollup job writes the rest as their minutes complete.
"""

import math
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_five_minute_rollups"
down_revision: str | None = "0007_diagnostics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MINUTE = 60
FIVE_MINUTES = 300


def upgrade() -> None:
    conn = op.get_bind()
    newest = conn.execute(
        sa.text("SELECT MAX(ts) FROM metric_rollups WHERE step = :minute"), {"minute": MINUTE}
    ).scalar()
    if newest is None:
        return
    until = math.floor((newest + MINUTE) / FIVE_MINUTES) * FIVE_MINUTES
    period = (
        f"floor(ts / {FIVE_MINUTES})::bigint"
        if conn.dialect.name == "postgresql"
        else f"CAST(ts / {FIVE_MINUTES} AS INTEGER)"
    )
    conn.execute(
        sa.text(
            "INSERT INTO metric_rollups (series_id, step, ts, count, sum, min, max) "
            f"SELECT series_id, {FIVE_MINUTES}, ({period}) * {FIVE_MINUTES}, SUM(count), "
            "SUM(sum), MIN(min), MAX(max) FROM metric_rollups "
            "WHERE step = :minute AND ts < :until GROUP BY series_id, 3 "
            "ON CONFLICT (series_id, step, ts) DO NOTHING"
        ),
        {"minute": MINUTE, "until": until},
    )


def downgrade() -> None:
    op.execute(f"DELETE FROM metric_rollups WHERE step = {FIVE_MINUTES}")
