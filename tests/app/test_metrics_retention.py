"""Metric retention from the environment to deleted rows: raw samples, 1-minute, 5-minute
and 1-hour rollups each follow their own variable."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from app import build_runtime
from app.settings import Settings
from storage.metrics import FIVE_MINUTE_STEP, HOURLY_STEP, ROLLUP_STEP, Sample

HOUR = 3600.0
DAY = 86400.0
AGES = {"4 days": 4 * DAY, "2 days": 2 * DAY, "3 hours": 3 * HOUR, "30 minutes": 1800.0}


def ages_left(engine, sql: str, now: float) -> set[str]:
    """Which of ``AGES`` still have a row in what ``sql`` selects (one ts column)."""
    with engine.connect() as conn:
        stamps = list(conn.execute(text(sql)).scalars())
    return {
        age
        for age, seconds in AGES.items()
        if any(now - seconds - HOUR < ts <= now - seconds for ts in stamps)
    }


def test_each_retention_variable_decides_which_rows_of_its_tier_are_deleted(
    database_url: str, tmp_path: Path
):
    settings = Settings.from_env(
        {
            "PULSEBOARD_DATA_DIR": str(tmp_path),
            "PULSEBOARD_DATABASE_URL": database_url,
            "PULSEBOARD_SECRET_KEY": "retention-test",
            "PULSEBOARD_RAW_RETENTION_HOURS": "2",
            "PULSEBOARD_ROLLUP_RETENTION_DAYS": "1",
            "PULSEBOARD_FIVE_MINUTE_RETENTION_DAYS": "3",
            "PULSEBOARD_HOURLY_RETENTION_DAYS": "5",
        }
    )
    rt = build_runtime(settings)
    try:
        now = time.time()
        rt.metrics.write([Sample(now - age, "web-1", "cpu", 1.0) for age in AGES.values()])
        rt.metrics.rollup(now)
        rt.scheduler.is_leader = True

        rt.scheduler.retention()

        assert rt.scheduler.status["retention"].last_ok is True
        raw = ages_left(rt.engine, "SELECT ts FROM metric_samples", now)
        minutes = ages_left(
            rt.engine, f"SELECT ts FROM metric_rollups WHERE step = {ROLLUP_STEP}", now
        )
        five_minutes = ages_left(
            rt.engine, f"SELECT ts FROM metric_rollups WHERE step = {FIVE_MINUTE_STEP}", now
        )
        hours = ages_left(
            rt.engine, f"SELECT ts FROM metric_rollups WHERE step = {HOURLY_STEP}", now
        )
        assert raw == {"30 minutes"}
        assert minutes == {"3 hours", "30 minutes"}
        assert five_minutes == {"2 days", "3 hours", "30 minutes"}
        assert hours >= {"4 days", "2 days", "3 hours"}
    finally:
        rt.close()
