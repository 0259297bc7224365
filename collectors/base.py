"""The collector protocol, the base of collectors that watch targets, field metadata and
counter-rate maths shared by collectors."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from storage.metrics import Sample

__all__ = ["Collector", "Field", "RateTracker", "Sample", "TargetCollector"]

TARGET_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class Field:
    """What one metric a collector yields means: unit, kind and labels."""

    name: str
    unit: str
    description: str
    kind: Literal["gauge", "counter"] = "gauge"
    labels: tuple[str, ...] = ()


class Collector(Protocol):
    """A source of samples; every input it reads comes in through its constructor."""

    name: str
    fields: tuple[Field, ...]

    def collect(self, now: float) -> list[Sample]:
        """Read the source once and return the samples, stamped ``now`` (epoch seconds)."""
        ...


class TargetCollector(ABC):
    """Base of the collectors that watch other services (a PostgreSQL database, a Redis
    server) rather than this host; keeps each target's last error for the health endpoint.

    Targets are named ``host:port/db``, never with a password, since the names are shown.
    """

    name: str
    fields: tuple[Field, ...]

    def __init__(self, host: str, targets: Iterable[str]) -> None:
        self.host = host
        self.targets: dict[str, str | None] = dict.fromkeys(targets)
        """Each target's last error (None: it answered, or has not been read yet)."""

    @abstractmethod
    def collect(self, now: float) -> list[Sample]:
        """Read every target once and return the samples, stamped ``now`` (epoch seconds)."""

    def target_answered(self, target: str) -> None:
        """Record that ``target`` answered this collection."""
        self.targets[target] = None

    def target_failed(self, target: str, error: BaseException) -> None:
        """Record why ``target`` could not be read this collection."""
        self.targets[target] = f"{type(error).__name__}: {error}".strip()[:TARGET_ERROR_CHARS]


class RateTracker:
    """Per-second rates from monotonically increasing counters.

    The first reading of a counter has no rate. A counter that goes down was reset (a
    reboot, a re-created interface); as Prometheus does, the new value is taken as the
    increase since the reset.
    """

    def __init__(self) -> None:
        self._last: dict[Hashable, tuple[float, float]] = {}

    def rate(self, key: Hashable, now: float, value: float) -> float | None:
        """Rate of ``key`` between its previous reading and ``value`` at ``now``."""
        previous = self._last.get(key)
        self._last[key] = (now, value)
        if previous is None:
            return None
        elapsed = now - previous[0]
        if elapsed <= 0:
            return None
        delta = value - previous[1]
        if delta < 0:
            delta = value
        return delta / elapsed
