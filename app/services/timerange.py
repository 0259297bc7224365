"""Times and ranges, the one home for every page, service and API model: parsing a time,
the range presets, a custom From/To window and checking that a range runs forward."""

from __future__ import annotations

from datetime import UTC, datetime

from app.services import FieldError

EARLIEST = 0.0
LATEST = 4102444800.0  # 2100-01-01: anything later is a typo, not a time

RANGES: dict[str, int] = {
    "15m": 900,
    "1h": 3600,
    "6h": 21600,
    "24h": 86400,
    "7d": 604800,
    "14d": 1209600,
}
"""The presets every page offers, each ending now: key -> seconds."""
DEFAULT_RANGE = "1h"
DEFAULT_SPAN = RANGES[DEFAULT_RANGE]
"""Seconds an API range covers when it names no start."""

_INPUT_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def parse_timestamp(value: object) -> float:
    """Epoch seconds from epoch seconds (number or string) or an ISO 8601 time.

    ValueError says what is wrong (pydantic turns it into a message naming the field).
    """
    if isinstance(value, bool):
        raise ValueError("expected an ISO 8601 time or epoch seconds")
    if isinstance(value, (int, float)):  # a tuple: ``int | float`` is built on every call
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        # Text that starts like a date ("YYYY-", as every ingested time does) is read as a
        # time first: float() would refuse it with an exception, which costs more than the
        # parsing. A number that starts so (123e-5) still ends up in float().
        parsed = _iso_time(text) if text[4:5] == "-" else None
        if parsed is None:
            try:
                seconds = float(text)
            except ValueError:
                parsed = _iso_time(text)
                if parsed is None:
                    raise ValueError("expected an ISO 8601 time or epoch seconds") from None
        if parsed is not None:
            seconds = parsed.timestamp()
    else:
        raise ValueError("expected an ISO 8601 time or epoch seconds")
    if not EARLIEST <= seconds <= LATEST:  # also refuses nan and inf
        raise ValueError("time out of range (1970 to 2100)")
    return seconds


def _iso_time(text: str) -> datetime | None:
    """``text`` as an ISO 8601 time (UTC when it names no offset), None when it is not one."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def preset_window(range_key: str | None, now: float) -> tuple[float, float]:
    """The (start, end) of a preset up to ``now`` (the default preset for an unknown key)."""
    return now - RANGES.get(range_key or DEFAULT_RANGE, RANGES[DEFAULT_RANGE]), now


def time_window(range_key: str | None, window: dict | None, now: float) -> tuple[float, float]:
    """The (start, end) shown: a zoomed or custom ``window``, else the preset up to now."""
    if window:
        return float(window["from"]), float(window["to"])
    return preset_window(range_key, now)


def parse_input_time(value: str) -> float:
    """Epoch seconds from a chart's x value or a datetime-local input (both UTC)."""
    text = value.strip().replace("T", " ").rstrip("Z")
    for fmt in _INPUT_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise FieldError("time", f"not a time: {value[:40]!r}")


def custom_window(start: str | None, end: str | None) -> dict:
    """A window from the custom range inputs; FieldError names the bad one."""
    if not start:
        raise FieldError("from", "pick a start time")
    if not end:
        raise FieldError("to", "pick an end time")
    lo, hi = parse_input_time(start), parse_input_time(end)
    if lo >= hi:
        raise FieldError("from", "must be earlier than the end")
    return {"from": lo, "to": hi}


def window_inputs(window: dict) -> tuple[str, str]:
    """The From and To input values (UTC, to the second) that show ``window``."""
    return tuple(
        datetime.fromtimestamp(window[k], UTC).strftime("%Y-%m-%dT%H:%M:%S") for k in ("from", "to")
    )


def check_range(start: float | None, end: float | None) -> None:
    """FieldError on ``from`` unless the range runs forward (an open end always does)."""
    if start is not None and end is not None and start >= end:
        raise FieldError("from", "must be earlier than 'to'")


def api_range(start: float | None, end: float | None, now: float) -> tuple[float, float]:
    """The range an API call names: up to ``now`` and ``DEFAULT_SPAN`` long unless it says;
    FieldError names ``from`` when it does not run forward."""
    end = now if end is None else end
    start = end - DEFAULT_SPAN if start is None else start
    check_range(start, end)
    return start, end
