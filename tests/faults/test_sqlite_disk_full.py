"""SQLite on a disk that fills up: writes fail, samples wait in the buffer, and once space is
freed the backlog and later writes go through without a restart."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from collectors.scheduler import ScheduleConfig, Scheduler
from collectors.system import SystemCollector
from storage.db import make_engine, upgrade
from storage.leader import FileLeaderLock
from storage.live import InProcessBus
from storage.metrics import MetricsStore
from storage.models import MetricSample, MetricSeries
from tests.conftest import wait_until
from tests.services import unavailable

log = logging.getLogger(__name__)

DISK_BYTES = 4 * 1024 * 1024
SERIES = "system_memory_used_bytes"  # in every collection (a rate would miss the first)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for this test (root only), unmounted afterwards."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mountpoint)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        unavailable("a tmpfs mount", exc)
    yield mountpoint
    subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(path: Path) -> None:
    """Write ``path`` until the filesystem has no byte left."""
    with path.open("wb", buffering=0) as out:
        for chunk in (b"\0" * 65536, b"\0" * 4096, b"\0"):
            with contextlib.suppress(OSError):
                while True:
                    out.write(chunk)


def samples_of(engine, name: str) -> list[float]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(MetricSample.ts)
                .join(MetricSeries, MetricSeries.id == MetricSample.series_id)
                .where(MetricSeries.name == name)
                .order_by(MetricSample.ts)
            ).scalars()
        )


def test_writes_and_the_backlog_resume_by_themselves_once_a_full_disk_has_room(
    small_disk: Path, tmp_path: Path
):
    db_path = small_disk / "pulseboard.db"
    url = f"sqlite:///{db_path}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:  # the pool keeps this connection, its WAL and -shm open
        conn.exec_driver_sql("SELECT 1")
    with sqlite3.connect(db_path) as raw:  # an empty WAL: the first write must grow it
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    filler = small_disk / "filler"
    fill(filler)

    scheduler = Scheduler(
        [SystemCollector("test-host")],
        MetricsStore(engine),
        InProcessBus(),
        FileLeaderLock(tmp_path / "lock"),
        ScheduleConfig(collect_interval=1, buffer_limit=100_000),
    )
    scheduler.start()
    try:
        wait_until(
            lambda: scheduler.status.get("store", None) and scheduler.status["store"].errors >= 3,
            30,
        )
        assert scheduler.buffered_samples > 0
        assert samples_of(engine, SERIES) == []

        filler.unlink()
        freed = time.monotonic()
        wait_until(lambda: scheduler.buffered_samples == 0, 30, 0.01)
        log.info("backlog written %.2f s after space was freed", time.monotonic() - freed)
        runs = scheduler.status["collector:system"].runs
        wait_until(lambda: scheduler.status["collector:system"].runs >= runs + 2, 10)
        assert scheduler.status["store"].last_ok is True
    finally:
        scheduler.shutdown()
    stored = samples_of(engine, SERIES)
    assert len(stored) == scheduler.status["collector:system"].runs
    assert len(set(stored)) == len(stored)
    assert scheduler.dropped_samples == 0
    engine.dispose()
