"""Pulseboard's own Python logs into the log store, batched by a background thread.

``emit`` never blocks: a record goes into a bounded queue or, when that is full, is counted
in ``dropped``. A daemon thread writes batches with ``LogStore.write``. Records logged by
that thread itself are ignored (no recursion), and a database that is away costs retries
and counted drops, never an exception in the caller.

Analysts read these records, so the values bound to a failed SQL statement (passwords,
tokens, whatever the caller sent) are cut out of the message and the traceback: the
statement and the traceback stay.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import threading
import time
from datetime import UTC, datetime

from flask import has_request_context, request

from app.timing import trace_id_of
from storage.logs import LogEntry, LogStore

log = logging.getLogger(__name__)

SOURCE = "pulseboard"
QUEUE_SIZE = 10_000
BATCH_SIZE = 500
FLUSH_INTERVAL = 0.5
WRITE_ATTEMPTS = 3
_STOP = object()
SQL_PARAMETERS = re.compile(r"^\[(?:SQL )?parameters: .*\]$", re.MULTILINE)
"""The line SQLAlchemy adds to a statement's error with the values bound to it."""
PARAMETERS_HIDDEN = "[SQL parameters hidden]"
QUIET_LOGGERS = {"werkzeug": logging.WARNING}
"""Loggers whose records below the given level are not stored: werkzeug's INFO lines are the
access log (one per request, ingest included), which request metrics already count."""


def without_sql_parameters(text: str) -> str:
    """``text`` with the bound values of any SQLAlchemy statement error in it left out."""
    return SQL_PARAMETERS.sub(PARAMETERS_HIDDEN, text)


def level_name(levelno: int) -> str:
    """The store's level for a Python logging level number."""
    if levelno >= logging.CRITICAL:
        return "critical"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warning"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


class LogStoreHandler(logging.Handler):
    """A logging handler that hands records to a writer thread; see the module docstring."""

    def __init__(
        self,
        store: LogStore,
        host: str,
        *,
        level: int = logging.INFO,
        queue_size: int = QUEUE_SIZE,
        batch_size: int = BATCH_SIZE,
        flush_interval: float = FLUSH_INTERVAL,
    ) -> None:
        super().__init__(level)
        self.store = store
        self.host = host
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._dropped = 0
        self._failed_writes = 0
        self._written = 0
        self._counts = threading.Lock()
        self._closed = False
        self._failing = False
        self._formatter = logging.Formatter()
        self._thread = threading.Thread(target=self._run, name="pulseboard-log-writer", daemon=True)
        self._thread.start()

    # -- counters ---------------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        """Records lost: queue full, or their batch could not be written."""
        return self._dropped

    @property
    def written(self) -> int:
        """Records committed to the store."""
        return self._written

    @property
    def failed_writes(self) -> int:
        """Batch writes that raised (each is retried, then dropped)."""
        return self._failed_writes

    @property
    def queued(self) -> int:
        """Records waiting for the writer thread."""
        return self._queue.qsize()

    def _count_dropped(self, n: int) -> None:
        with self._counts:
            self._dropped += n

    # -- caller side ------------------------------------------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        """Queue ``record`` without blocking; count it as dropped when the queue is full."""
        if self._closed or record.thread == self._thread.ident:
            return  # the writer's own records (e.g. the database being away) would recurse
        if record.levelno < QUIET_LOGGERS.get(record.name, 0):
            return
        try:
            entry = self._entry(record)
        except Exception:  # a record whose message cannot be formatted: lose it, counted
            self._count_dropped(1)
            return
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self._count_dropped(1)

    def _entry(self, record: logging.LogRecord) -> LogEntry:
        attrs: dict = {"logger": record.name, "thread": record.threadName}
        if record.exc_info and record.exc_info[0] is not None:
            attrs["exc_info"] = without_sql_parameters(
                self._formatter.formatException(record.exc_info)
            )
        elif record.exc_text:
            attrs["exc_info"] = without_sql_parameters(record.exc_text)
        if record.stack_info:
            attrs["stack_info"] = record.stack_info
        if has_request_context():  # logged while answering a request: link it to that request
            attrs["trace_id"] = trace_id_of(request.environ)
        return LogEntry(
            ts=datetime.fromtimestamp(record.created, UTC),
            level=level_name(record.levelno),
            source=SOURCE,
            host=self.host,
            message=without_sql_parameters(record.getMessage()),
            attrs=attrs,
        )

    def flush(self, timeout: float = 5.0) -> None:
        """Wait (up to ``timeout`` seconds) until what is queued now has been handled."""
        if threading.current_thread() is self._thread:
            return
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (up to ``timeout`` seconds), stop the thread, detach."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(queue.Full):
                self._queue.put(_STOP, timeout=timeout)
            if threading.current_thread() is not self._thread:
                self._thread.join(timeout)
        super().close()

    # -- writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        pending: list[LogEntry] = []
        taken = 0  # queue items behind ``pending`` (and stop marks), not yet marked done
        attempts = 0
        stopping = False
        while not stopping:
            deadline = time.monotonic() + self.flush_interval
            while len(pending) < self.batch_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                taken += 1
                if item is _STOP:
                    stopping = True
                    break
                pending.append(item)
            if stopping:  # take what is left, then make one last attempt
                rest = self._drain()
                taken += len(rest)
                pending += [item for item in rest if item is not _STOP]
            if pending and not self._write(pending):
                attempts += 1
                if attempts < WRITE_ATTEMPTS and not stopping:
                    continue
                self._count_dropped(len(pending))
                log.warning("log handler: dropped %d records, the store is away", len(pending))
            pending, attempts = [], 0
            for _ in range(taken):
                self._queue.task_done()
            taken = 0

    def _drain(self) -> list:
        items = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items

    def _write(self, batch: list[LogEntry]) -> bool:
        try:
            self.store.write(batch)
        except Exception as exc:  # the database away, or anything else: never into callers
            with self._counts:
                self._failed_writes += 1
                first = not self._failing
                self._failing = True
            if first:
                log.warning("log handler: writing to the store failed: %s", exc)
            return False
        with self._counts:
            self._written += len(batch)
            self._failing = False
        return True


_root_level_before: list[int] = []  # the root level before the first install lowered it


def install(store: LogStore, host: str, level: int = logging.INFO) -> LogStoreHandler:
    """Attach a new handler to the root logger, lowering the root level to ``level`` if needed."""
    handler = LogStoreHandler(store, host, level=level)
    root = logging.getLogger()
    if root.getEffectiveLevel() > level:
        _root_level_before[:] = [root.level]
        root.setLevel(level)
    root.addHandler(handler)
    return handler


def uninstall(handler: LogStoreHandler) -> None:
    """Detach ``handler`` from the root logger and close it (writing what it holds)."""
    root = logging.getLogger()
    root.removeHandler(handler)
    if _root_level_before and not any(isinstance(h, LogStoreHandler) for h in root.handlers):
        root.setLevel(_root_level_before.pop())
    handler.close()
