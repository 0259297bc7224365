"""Times and ranges: parsing, presets, custom windows and the range check."""

from __future__ import annotations

import pytest

from app.services import FieldError, timerange


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0.0),
        ("1795860000", 1795860000.0),
        ("2026-11-28T10:00:00Z", 1795860000.0),
        ("2026-11-28T11:00:00+01:00", 1795860000.0),
        ("2026-11-28T10:00:00", 1795860000.0),
    ],
)
def test_parse_timestamp_reads_epoch_and_iso(value, seconds):
    assert timerange.parse_timestamp(value) == seconds


@pytest.mark.parametrize("value", [True, "inf", "nan", "1e400", -1, "5000000000", "noon", None])
def test_parse_timestamp_refuses_what_is_no_time(value):
    with pytest.raises(ValueError):
        timerange.parse_timestamp(value)


def test_a_preset_ends_now_and_an_unknown_one_is_the_default():
    assert timerange.preset_window("15m", 10_000.0) == (9_100.0, 10_000.0)
    assert timerange.preset_window("nope", 10_000.0) == (6_400.0, 10_000.0)
    assert timerange.time_window("1h", {"from": 1, "to": 2}, 10_000.0) == (1.0, 2.0)


def test_check_range_names_from_when_the_range_runs_backwards():
    timerange.check_range(None, 5.0)
    timerange.check_range(1.0, 2.0)
    with pytest.raises(FieldError) as refused:
        timerange.check_range(2.0, 2.0)
    assert refused.value.field == "from"
