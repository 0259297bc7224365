"""Log retention for the scheduler, the CLI, the API and the Logs page: archive the days
older than the retention, list and find archives, restore one."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.runtime import Runtime
from app.services import FieldError
from app.settings import Settings
from storage.log_archive import LogArchive, day_start, parse_name
from storage.logs import LogStore

log = logging.getLogger(__name__)

ARCHIVE_CHECK_INTERVAL = 3600.0
"""Seconds between the leader's checks for days past the retention. A check with nothing
to do is one indexed query."""
ARCHIVE_FIRST_DELAY = 300.0
"""The first check comes this long after start (not a whole interval), so a process that
restarts often still archives, without slowing its start."""
ARCHIVES_URL = "/api/v1/admin/logs/archives/"


def archive_dir(settings: Settings) -> Path:
    """Where the archives are: ``archives`` in the data dir."""
    return settings.data_dir / "archives"


def retention_cutoff(settings: Settings, now: float | None = None) -> datetime:
    """Records older than this are past the retention."""
    now_dt = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return now_dt - timedelta(days=settings.log_retention_days)


def archive_expired(settings: Settings, logs: LogStore, now: float | None = None) -> list[dict]:
    """Archive and delete every whole UTC day of records past the retention; the files
    written, oldest first."""
    written = LogArchive(logs, archive_dir(settings)).archive_older_than(
        retention_cutoff(settings, now)
    )
    for archive in written:
        log.info("archived %d log records of %s to %s", archive.records, archive.day, archive.name)
    return [_public(a.to_dict()) for a in written]


def list_archives(rt: Runtime) -> list[dict]:
    """Every archive, newest day first: name, day, part, size (bytes), records, sha256,
    created and the download url."""
    return [_public(a.to_dict()) for a in LogArchive(rt.logs, archive_dir(rt.settings)).archives()]


def download(rt: Runtime, name: str, *, actor: str, remote_addr: str | None) -> Path | None:
    """The file of the archive called ``name`` (the download is audited), None if there is
    none; FieldError when ``name`` is not an archive name at all."""
    if parse_name(name) is None:
        raise FieldError(
            "name", "not an archive name (logs-YYYY-MM-DD.ndjson.gz or logs-YYYY-MM-DD.N.ndjson.gz)"
        )
    archives = LogArchive(rt.logs, archive_dir(rt.settings))
    archive = archives.find(name)
    if archive is None:
        return None
    rt.accounts.audit(
        "logs.archive.download",
        actor=actor,
        target=name,
        remote_addr=remote_addr,
        details={"records": archive.records, "size": archive.size},
    )
    return archives.path(archive)


def restore(settings: Settings, logs: LogStore, path: Path) -> dict:
    """Load an archive back (new ids); ``records`` restored, their ``first`` and ``last``
    times, and ``rearchived``: whether they are past the retention, so that the next
    archive run moves them out again."""
    restored = LogArchive(logs, archive_dir(settings)).restore(path)
    return {
        "records": restored.records,
        "first": restored.first.isoformat(),
        "last": restored.last.isoformat(),
        "rearchived": restored.first < day_start(retention_cutoff(settings).date()),
    }


def _public(archive: dict) -> dict:
    return {**archive, "url": ARCHIVES_URL + archive["name"]}
