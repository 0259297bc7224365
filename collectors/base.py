"""The collector protocol, field metadata and counter-rate maths shared by collectors."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal, Protocol

from storage.metrics import Sample

__all__ = ["Collector", "Field", "RateTracker", "Sample"]


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
