"""File tailer: follows files matching glob patterns and stores each new complete line.

Where it stopped in each file is kept in a positions file (JSON, replaced atomically), keyed
by path with the file's inode, device and offset, so a restart continues there and reads
nothing twice. A changed inode means the file was rotated: the old file's rest is read
first (it stays open a few seconds in case its writer has not reopened yet), then the new
file from its start. A file shorter than the offset was truncated: it is read from 0.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from storage.logs import LogEntry

log = logging.getLogger(__name__)

SOURCE = "file"
MAX_LINE = 64 * 1024
"""Bytes of a line without an end that are taken as one line anyway."""

_LEVEL_WORDS = {
    "emerg": "critical", "emergency": "critical", "crit": "critical",
    "critical": "critical", "fatal": "critical", "panic": "critical",
    "err": "error", "error": "error",
    "warn": "warning", "warning": "warning",
    "notice": "info", "info": "info",
    "debug": "debug", "trace": "debug",
}  # fmt: skip


def guess_level(line: str) -> str:
    """The level named by a level word (``ERROR``, ``[warn]``, ``level=debug``, ``ERROR:root``)
    among the first four words of ``line``; info when there is none."""
    for token in line.split(None, 4)[:4]:
        if token.lower().startswith(("level=", "lvl=")):
            token = token.split("=", 1)[1]
        word = token.strip("[](){}<>|\"',").split(":", 1)[0]
        level = _LEVEL_WORDS.get(word.lower())
        if level is not None:
            return level
    return "info"


@dataclass
class _Followed:
    path: str
    fh: BinaryIO
    inode: int
    device: int
    offset: int
    last_growth: float = 0.0


class FileTailer:
    """Reads what is new in files matching ``patterns`` on each ``poll()``."""

    name = "tail"

    def __init__(
        self,
        patterns: Sequence[str],
        write: Callable[[Sequence[LogEntry]], int],
        positions_path: str | os.PathLike[str],
        hostname: str,
        *,
        chunk_size: int = 1024 * 1024,
        rotate_grace: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.patterns = [os.path.expanduser(p) for p in patterns]
        self.write = write
        self.positions_path = os.path.abspath(positions_path)
        self.hostname = hostname
        self.chunk_size = max(chunk_size, MAX_LINE)
        self.rotate_grace = rotate_grace
        self.clock = clock
        self.lines_read = 0
        self._files: dict[str, _Followed] = {}
        self._draining: list[_Followed] = []
        self._positions: dict[str, dict] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._loaded = False
        self._lock = threading.Lock()

    # -- public ------------------------------------------------------------------------

    def poll(self) -> int:
        """Read and store every new complete line; the number of lines stored."""
        with self._lock:
            self._load_if_changed()
            written = 0
            try:
                for old in list(self._draining):
                    idle = self.clock() - old.last_growth >= self.rotate_grace
                    written += self._read(old, final=idle)
                    if idle:
                        self._draining.remove(old)
                        old.fh.close()
                matched = self._matches()
                for path, followed in list(self._files.items()):
                    written += self._check(path, followed, matched)
                for path in matched:
                    if path not in self._files:
                        self._open(path)
                for followed in list(self._files.values()):
                    written += self._read(followed)
            finally:
                self._save()
            return written

    def close(self) -> None:
        """Save the positions and close every file."""
        with self._lock:
            if self._loaded:
                self._save()
            for followed in [*self._files.values(), *self._draining]:
                followed.fh.close()
            self._files.clear()
            self._draining.clear()
            self._loaded = False

    @property
    def files(self) -> dict[str, int]:
        """Followed paths and their offsets."""
        return {path: f.offset for path, f in self._files.items()}

    # -- files -------------------------------------------------------------------------

    def _matches(self) -> list[str]:
        paths: set[str] = set()
        for pattern in self.patterns:
            for path in glob.glob(pattern, recursive=True):
                path = os.path.abspath(path)
                if path != self.positions_path and os.path.isfile(path):
                    paths.add(path)
        return sorted(paths)

    def _open(self, path: str) -> None:
        try:
            fh = open(path, "rb")  # noqa: SIM115 - kept open between polls
        except OSError as exc:
            log.warning("tail: cannot open %s: %s", path, exc)
            return
        st = os.fstat(fh.fileno())
        saved = self._positions.get(path) or {}
        offset = 0
        if saved.get("inode") == st.st_ino and saved.get("device") == st.st_dev:
            offset = int(saved.get("offset", 0))
            if st.st_size < offset:  # truncated while we were away
                offset = 0
        self._files[path] = _Followed(path, fh, st.st_ino, st.st_dev, offset, self.clock())

    def _check(self, path: str, followed: _Followed, matched: list[str]) -> int:
        """Handle rotation, deletion and truncation of a followed path; lines stored."""
        try:
            st = os.stat(path)
        except OSError:
            st = None
        if st is not None and (st.st_ino, st.st_dev) == (followed.inode, followed.device):
            if st.st_size < followed.offset:
                log.info("tail: %s was truncated; reading it from the start", path)
                followed.offset = 0
            return 0
        # Rotated (a new file at the path) or gone: finish the old file, then let it drain.
        written = self._read(followed)
        del self._files[path]
        followed.last_growth = self.clock()
        self._draining.append(followed)
        if st is not None and path in matched:
            log.info("tail: %s was rotated; reading the new file from the start", path)
            self._open(path)
            new = self._files.get(path)
            if new is not None:
                new.offset = 0
        return written

    def _read(self, followed: _Followed, final: bool = False) -> int:
        """Store the complete lines after the offset (and a partial last one if ``final``)."""
        written = 0
        while True:
            followed.fh.seek(followed.offset)
            data = followed.fh.read(self.chunk_size)
            if not data:
                return written
            end = data.rfind(b"\n") + 1
            if end == 0:
                if not final and len(data) < MAX_LINE:
                    return written  # a partial line: wait for its end
                end = min(len(data), MAX_LINE)
            lines = data[:end].split(b"\n")
            entries = self._entries(followed.path, lines)
            if entries:
                self.write(entries)
            followed.offset += end
            followed.last_growth = self.clock()
            self.lines_read += len(entries)
            written += len(entries)

    def _entries(self, path: str, lines: list[bytes]) -> list[LogEntry]:
        now = datetime.now(UTC)
        entries = []
        for raw in lines:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            if text.strip():
                entries.append(
                    LogEntry(now, guess_level(text), SOURCE, self.hostname, text, {"path": path})
                )
        return entries

    # -- positions ---------------------------------------------------------------------

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.positions_path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _load_if_changed(self) -> None:
        """Load the positions at first, and again when another process wrote them (it led
        the scheduler for a while): then every file is reopened at the saved offsets."""
        stamp = self._file_stamp()
        if self._loaded and stamp == self._stamp:
            return
        for followed in [*self._files.values(), *self._draining]:
            followed.fh.close()
        self._files.clear()
        self._draining.clear()
        self._positions = {}
        if stamp is not None:
            try:
                with open(self.positions_path, encoding="utf-8") as fh:
                    data = json.load(fh)
                if isinstance(data, dict):
                    self._positions = {k: v for k, v in data.items() if isinstance(v, dict)}
            except (OSError, ValueError) as exc:
                log.error("tail: positions file %s unreadable, starting over: %s",
                          self.positions_path, exc)  # fmt: skip
        self._stamp = stamp
        self._loaded = True

    def _save(self) -> None:
        positions = {
            path: {"inode": f.inode, "device": f.device, "offset": f.offset}
            for path, f in sorted(self._files.items())
        }
        if positions == self._positions and self._stamp is not None:
            return
        directory = os.path.dirname(self.positions_path)
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".positions-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(positions, fh, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.positions_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._positions = positions
        self._stamp = self._file_stamp()
