"""The postmortem bundle: one tar.gz of everything the Diagnostics page knows about a window
(the timeline, the ranked changes, annotations, alert history, error groups and the error
logs), streamed as it is made and audited.

Each file comes from one entry of ``FILES``: a name, what it holds (for the README) and a
producer of its bytes. A member's size goes into its tar header before its bytes, so each
is spooled to a temporary file (on disk past a megabyte) and then streamed through one
gzip compressor: memory stays flat whatever the size of the logs.
"""

from __future__ import annotations

import functools
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from app.runtime import Runtime
from app.services import FieldError, alerts
from app.services.diagnostics import annotations, correlations, timeline
from app.services.downloads import Download, Table, audited, canonical_json, file_name, utc_iso
from storage.diagnostics.timeline import TimelineReads
from storage.log_export import CHUNK_BYTES, LogExport

CONTENT_TYPE = "application/gzip"
SPOOL_BYTES = 1024 * 1024
BLOCK = tarfile.BLOCKSIZE
ERROR_GROUP_COLUMNS = (
    "fingerprint",
    "title",
    "level",
    "source",
    "first_seen",
    "last_seen",
    "count",
    "regressed_at",
    "sample",
)


@dataclass
class Window:
    """What every producer reads from: the runtime and [start, end); the timeline is
    made once and shared by the files built from it."""

    rt: Runtime
    start: float
    end: float

    @functools.cached_property
    def changes(self) -> list[dict]:
        """The ranked changes of the window (none when it cannot be compared)."""
        try:
            return correlations.changes(self.rt, self.start, self.end, correlations.MAX_LIMIT)
        except FieldError:
            return []

    @functools.cached_property
    def timeline(self) -> dict:
        """The timeline of the window, with the top of ``changes``."""
        return timeline.timeline(self.rt, self.start, self.end, changes=self.changes)


@dataclass(frozen=True)
class BundleFile:
    """One member: its name, a line for the README, and the producer of its bytes."""

    name: str
    about: str
    produce: Callable[[Window], Iterable[bytes]]


def _json(value: object) -> Iterable[bytes]:
    return [canonical_json(value).encode(), b"\n"]


def _error_groups(w: Window) -> Iterable[bytes]:
    groups = TimelineReads(w.rt.engine).groups_seen(w.start, w.end, limit=10_000)
    rows = (
        {
            **g.to_dict(),
            "first_seen": utc_iso(g.first_seen),
            "last_seen": utc_iso(g.last_seen),
            "regressed_at": None if g.regressed_at is None else utc_iso(g.regressed_at),
        }
        for g in groups
    )
    return Table("csv", ERROR_GROUP_COLUMNS, rows)


def _error_logs(w: Window) -> Iterable[bytes]:
    start, end = (datetime.fromtimestamp(t, UTC) for t in (w.start, w.end))
    return LogExport(w.rt.logs, "ndjson", timeline.error_logs_query(), start, end)


FILES: tuple[BundleFile, ...] = (
    BundleFile(
        "timeline.json",
        "the incident timeline: events (alerts, errors, changes, annotations, leader "
        "changes, admin actions), the log level histogram and the top changes",
        lambda w: _json(w.timeline),
    ),
    BundleFile(
        "changes.json",
        "every metric series ranked by how differently it behaved in the window than in "
        "the four times longer period before it (Kolmogorov-Smirnov or volume method)",
        lambda w: _json(list(timeline.change_rows(w.changes))),
    ),
    BundleFile(
        "changes.csv",
        "the same ranking as CSV",
        lambda w: Table(
            "csv",
            timeline.CHANGE_COLUMNS,
            timeline.change_rows(w.changes),
        ),
    ),
    BundleFile(
        "annotations.json",
        "annotations (deploys and other marks) touching the window",
        lambda w: _json(annotations.between(w.rt, w.start, w.end, w.end)),
    ),
    BundleFile(
        "alert_history.csv",
        "every alert transition and action on an alert in the window",
        lambda w: Table("csv", alerts.HISTORY_COLUMNS, alerts.history_rows(w.rt, w.start, w.end)),
    ),
    BundleFile(
        "error_groups.csv",
        "error groups seen in the window, most records first",
        _error_groups,
    ),
    BundleFile(
        "error_logs.ndjson",
        "every log record at error or above in the window, one JSON object a line",
        _error_logs,
    ),
)


def readme(files: Iterable[BundleFile], start: float, end: float) -> bytes:
    """The README of a bundle: the window and what each file holds."""
    lines = [
        "Pulseboard diagnostics bundle",
        f"Window: {utc_iso(start)} to {utc_iso(end)} (UTC, end excluded)",
        "",
        *(f"{f.name}: {f.about}" for f in files),
        "",
    ]
    return "\n".join(lines).encode()


def tar_gz(members: Iterable[tuple[str, Iterable[bytes]]], mtime: float) -> Iterator[bytes]:
    """``members`` (name, chunks) as a gzip-compressed tar stream, in compressed chunks."""
    gz = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    pending = bytearray()

    def out(data: bytes) -> bytes | None:
        pending.extend(gz.compress(data))
        if len(pending) < CHUNK_BYTES:
            return None
        ready = bytes(pending)
        pending.clear()
        return ready

    for name, chunks in members:
        with tempfile.SpooledTemporaryFile(SPOOL_BYTES) as spool:
            size = 0
            for chunk in chunks:
                spool.write(chunk)
                size += len(chunk)
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = size, int(mtime), 0o644
            pieces = [info.tobuf(tarfile.PAX_FORMAT)]
            spool.seek(0)
            pieces.extend(iter(lambda: spool.read(CHUNK_BYTES), b""))
            pieces.append(b"\0" * (-size % BLOCK))
            for piece in pieces:
                if (ready := out(piece)) is not None:
                    yield ready
    pending.extend(gz.compress(b"\0" * 2 * BLOCK))  # the end-of-archive marker
    pending.extend(gz.flush())
    yield bytes(pending)


def bundle(
    rt: Runtime,
    start: float,
    end: float,
    *,
    actor: str,
    remote_addr: str | None,
    now: float,
    files: tuple[BundleFile, ...] = FILES,
) -> Download:
    """The bundle of [start, end) as a streamed tar.gz download, audited as
    ``diagnostics.bundle`` (and ``.end`` with the number of files sent)."""
    window = Window(rt, start, end)
    filename = file_name("diagnostics", start, end, "tar.gz")
    written = [0]

    def members() -> Iterator[tuple[str, Iterable[bytes]]]:
        yield "README.txt", [readme(files, start, end)]
        for f in files:
            yield f.name, f.produce(window)
            written[0] += 1

    body = audited(
        rt,
        "diagnostics.bundle",
        tar_gz(members(), now),
        lambda: written[0],
        actor=actor,
        remote_addr=remote_addr,
        details={
            "from": utc_iso(start),
            "to": utc_iso(end),
            "file": filename,
            "files": [f.name for f in files],
        },
    )
    return Download(filename, CONTENT_TYPE, body)
