"""PostgreSQL stopped for a minute under two real ``pulseboard serve`` processes: the leader
keeps collecting into its buffer and writes the backlog when the database is back, and the
two never both collect, during the outage or after it."""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.app.test_processes import ROOT, kill, start_server
from tests.conftest import wait_until
from tests.services import ThrowawayPostgres

log = logging.getLogger(__name__)

OUTAGE_SECONDS = 60
SERIES = "system_cpu_usage_percent"
HOST = "outage-host"  # both servers report as one host: a second collector shows as twins


def sample_times(engine: Engine) -> list[float]:
    """Timestamps of every stored ``SERIES`` sample, oldest first."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT m.ts FROM metric_samples m JOIN metric_series s "
                    "ON s.id = m.series_id WHERE s.name = :name AND s.host = :host ORDER BY m.ts"
                ),
                {"name": SERIES, "host": HOST},
            ).scalars()
        )


def within(times: list[float], start: float, end: float) -> list[float]:
    return [ts for ts in times if start <= ts < end]


def twins(times: list[float]) -> list[tuple[float, float]]:
    """Neighbouring samples closer than half the collect interval: two collectors at once."""
    return [(a, b) for a, b in itertools.pairwise(times) if b - a < 0.5]


@pytest.mark.timeout(300)
def test_a_minute_without_postgres_leaves_no_gap_and_no_sample_twice(
    throwaway_postgres: ThrowawayPostgres, tmp_path: Path
):
    url = throwaway_postgres.url
    subprocess.run(
        [str(Path(sys.executable).parent / "pulseboard"), "db", "upgrade"],
        cwd=ROOT,
        env={**os.environ, "PULSEBOARD_DATABASE_URL": url, "PULSEBOARD_DATA_DIR": str(tmp_path)},
        check=True,
        capture_output=True,
    )
    env = {"PULSEBOARD_HOSTNAME": HOST, "PULSEBOARD_LEADER_LOCK_TTL": "15"}
    servers = [start_server(tmp_path, name, url, **env)[0] for name in ("first", "second")]
    engine = create_engine(url, pool_pre_ping=True)
    try:
        wait_until(lambda: len(sample_times(engine)) >= 5, 60, 0.5)

        throwaway_postgres.stop()
        stopped = time.time()
        time.sleep(OUTAGE_SECONDS)
        throwaway_postgres.start()
        started = time.time()

        # The backlog goes out oldest first: its last second in means all of it is.
        wait_until(lambda: within(sample_times(engine), started - 2, started), 60, 0.5)
        recovered = time.time() - started
        wait_until(lambda: within(sample_times(engine), started + 3, time.time()), 30, 0.5)
        assert all(server.poll() is None for server in servers)
    finally:
        for server in servers:
            kill(server)
    times = sample_times(engine)
    engine.dispose()
    gap = within(times, stopped, started)
    expected = round(started - stopped)  # one collection a second
    log.info(
        "%d of %d samples in the outage, written %.1f s after it", len(gap), expected, recovered
    )
    assert len(gap) >= 0.95 * expected, (len(gap), expected)
    assert len(gap) <= expected + 1
    steps = [b - a for a, b in itertools.pairwise(gap)]
    assert max(steps) < 2.5  # one collection a second went on through the outage
    assert twins(times) == []
