"""The thresholds that colour Pulseboard's health: one table that the Overview cards, the
health endpoint and (as default alert rules) alerting read, so they never disagree."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Threshold:
    """A metric is ``warning`` from ``warning`` up and ``critical`` from ``critical`` up."""

    metric: str
    warning: float
    critical: float
    summary: str

    def level(self, value: float) -> str:
        """``ok``, ``warning`` or ``critical`` for ``value``."""
        if value >= self.critical:
            return "critical"
        return "warning" if value >= self.warning else "ok"


THRESHOLDS: dict[str, Threshold] = {
    t.metric: t
    for t in (
        Threshold("system_cpu_usage_percent", 80.0, 95.0, "CPU usage is high"),
        Threshold("system_memory_used_percent", 85.0, 95.0, "Memory usage is high"),
        # Also the data disk's health: a full disk stops every write.
        Threshold("system_disk_used_percent", 90.0, 98.0, "Disk is filling up"),
    )
}
