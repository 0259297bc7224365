"""The one thresholds table: its levels, and that health and the Overview read it."""

from __future__ import annotations

import pytest

from app.services.health import HEALTH_STATUS
from storage.thresholds import THRESHOLDS


@pytest.mark.parametrize(
    ("value", "level"), [(0.0, "ok"), (89.9, "ok"), (90.0, "warning"), (98.0, "critical")]
)
def test_a_threshold_levels_a_value(value, level):
    assert THRESHOLDS["system_disk_used_percent"].level(value) == level


def test_every_level_is_a_health_status():
    for threshold in THRESHOLDS.values():
        for value in (0.0, threshold.warning, threshold.critical):
            assert HEALTH_STATUS[threshold.level(value)] in ("ok", "degraded", "down")
