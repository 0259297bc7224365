"""The leader's bounded buffer of samples collected but not yet written."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence

from collectors.base import Sample

log = logging.getLogger(__name__)


class SampleBacklog:
    """Samples waiting for the database, oldest first, taken out in batches to be written.

    Bounded: past ``limit`` samples the oldest are dropped and counted in ``dropped``. The
    backlog belongs to one leader term; samples of another term are dropped, never written
    under this one (the process that led in between wrote its own for that time).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.dropped = 0
        self.term: int | None = None
        self._samples: deque[Sample] = deque()
        self._in_flight = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Samples not yet written, those being written included."""
        return len(self._samples) + self._in_flight

    def start_term(self, term: int | None) -> int:
        """Belong to ``term`` (None: not leading); drop what another term left, return how
        many samples that was."""
        with self._lock:
            if term == self.term:
                return 0
            self.term = term
            lost = len(self._samples)
            self._samples.clear()
            self.dropped += lost
        if lost:
            log.error("leader term changed: dropped %d samples buffered in the earlier one", lost)
        return lost

    def add(self, samples: Sequence[Sample], term: int | None) -> None:
        """Queue ``samples`` collected during ``term``."""
        with self._lock:
            if term != self.term:
                self.dropped += len(samples)
                return
            self._samples.extend(samples)
            self._bound()

    def take(self, limit: int) -> tuple[int | None, list[Sample]]:
        """Up to ``limit`` of the oldest samples, with their term, to be written now; hand
        them back with ``written`` or ``put_back``."""
        with self._lock:
            batch = [self._samples.popleft() for _ in range(min(limit, len(self._samples)))]
            self._in_flight += len(batch)
            return self.term, batch

    def written(self, batch: Sequence[Sample]) -> None:
        """``batch`` (from ``take``) is committed."""
        with self._lock:
            self._in_flight -= len(batch)

    def put_back(self, batch: Sequence[Sample], term: int | None) -> None:
        """``batch`` (from ``take`` during ``term``) was not written: it goes first again."""
        with self._lock:
            self._in_flight -= len(batch)
            if term != self.term:
                self.dropped += len(batch)
                return
            self._samples.extendleft(reversed(batch))
            self._bound()

    def _bound(self) -> None:
        # A batch being written is not counted: it is written, or put back and bounded then.
        over = len(self._samples) - self.limit
        if over <= 0:
            return
        for _ in range(over):
            self._samples.popleft()
        self.dropped += over
        log.error("sample buffer full: dropped %d oldest samples", over)
