"""The Overview's figure builder: the x axis spans the chosen window, lines bridge short
pauses and break at outages, limits do not flatten the data, hidden series stay listed;
its plain dicts are figures Plotly accepts as they are, themed by Plotly's own templates."""

from __future__ import annotations

import json
from calendar import timegm
from time import strptime

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from app.components.charts import GAP_INTERVALS, time_label, time_series_figure
from app.services.overview import CHARTS
from storage.metrics import SeriesData

SPECS = {spec.key: spec for spec in CHARTS}
NOW = 1_764_583_200.0  # 2025-12-01 10:00 UTC
HOUR = (NOW - 3600, NOW)


def series(name: str, points: list[tuple[float, float]], step: int = 6, **labels) -> SeriesData:
    """A raw-tier series of ``(ts, value)`` points."""
    return SeriesData(name, "h", labels, step, "raw", [(t, v, v, v) for t, v in points])


def every(seconds: float, start: float, end: float, value: float = 1.0):
    """Points every ``seconds`` from ``start`` up to ``end``."""
    count = int((end - start) // seconds)
    return [(start + i * seconds, value) for i in range(count + 1)]


def trace(fig, name: str):
    """The trace whose legend name starts with ``name``."""
    return next(t for t in fig["data"] if t["name"].startswith(name))


def _epoch(label: str) -> float:
    return float(timegm(strptime(label, "%Y-%m-%d %H:%M:%S")))


def test_the_x_axis_spans_the_whole_window_when_data_covers_only_its_end():
    recent = series("system_cpu_usage_percent", every(5, NOW - 60, NOW))
    fig = time_series_figure(SPECS["cpu"], [recent], dark=False, shown=HOUR, interval=5)
    xaxis = fig["layout"]["xaxis"]
    assert xaxis["autorange"] is True  # live points past the end still show
    assert xaxis["autorangeoptions"]["include"] == [time_label(HOUR[0]), time_label(HOUR[1])]


def test_an_empty_chart_spans_the_window_too():
    fig = time_series_figure(SPECS["cpu"], [], dark=False, shown=HOUR, interval=5)
    assert fig["layout"]["xaxis"]["autorangeoptions"]["include"] == [
        time_label(HOUR[0]),
        time_label(HOUR[1]),
    ]
    assert fig["layout"]["annotations"][0]["text"] == "No data in this range yet"


def test_a_few_missed_collections_are_bridged():
    points = every(5, NOW - 600, NOW - 300) + every(5, NOW - 300 + 5 * 4, NOW)
    fig = time_series_figure(
        SPECS["cpu"], [series("system_cpu_usage_percent", points)], False, HOUR, interval=5
    )
    assert None not in fig["data"][0]["y"]
    assert len(fig["data"][0]["x"]) == len(points)


def test_an_outage_shows_as_a_gap_in_the_line():
    before, after = every(5, NOW - 900, NOW - 600), every(5, NOW - 300, NOW)
    fig = time_series_figure(
        SPECS["cpu"],
        [series("system_cpu_usage_percent", before + after)],
        dark=False,
        shown=HOUR,
        interval=5,
    )
    ys = fig["data"][0]["y"]
    assert ys.count(None) == 1
    gap = ys.index(None)
    assert gap == len(before)
    assert before[-1][0] < _epoch(fig["data"][0]["x"][gap]) < after[0][0]
    assert fig["layout"]["meta"]["gap"] == GAP_INTERVALS * 6  # the live extension breaks alike


def test_the_gap_follows_the_bucket_width_of_long_ranges():
    hourly = series("system_cpu_usage_percent", every(3600, NOW - 7 * 86400, NOW), step=3600)
    fig = time_series_figure(
        SPECS["cpu"], [hourly], dark=False, shown=(NOW - 7 * 86400, NOW), interval=5
    )
    assert None not in fig["data"][0]["y"]


def test_max_connections_far_above_use_is_listed_not_drawn():
    used = series("pg_connections", every(5, NOW - 300, NOW, 6.0), state="active")
    limit = series("pg_max_connections", every(5, NOW - 300, NOW, 100.0))
    fig = time_series_figure(SPECS["pg-connections"], [used, limit], False, HOUR, interval=5)
    assert trace(fig, "max")["name"] == "max 100"
    assert trace(fig, "max")["visible"] == "legendonly"
    assert trace(fig, "active")["visible"] is True


def test_max_connections_in_reach_is_drawn_as_a_dashed_line():
    used = series("pg_connections", every(5, NOW - 300, NOW, 80.0), state="active")
    limit = series("pg_max_connections", every(5, NOW - 300, NOW, 100.0))
    fig = time_series_figure(SPECS["pg-connections"], [used, limit], False, HOUR, interval=5)
    assert trace(fig, "max")["visible"] is True
    assert trace(fig, "max")["line"]["dash"] == "dash"


def test_redis_max_memory_zero_means_unlimited():
    used = series("redis_memory_used_bytes", every(5, NOW - 300, NOW, 2.0e6), target="main")
    limit = series("redis_memory_max_bytes", every(5, NOW - 300, NOW, 0.0), target="main")
    fig = time_series_figure(SPECS["redis-memory"], [used, limit], False, HOUR, interval=5)
    assert trace(fig, "max")["name"] == "max unlimited"
    assert trace(fig, "max")["visible"] == "legendonly"


def test_redis_max_memory_is_named_in_bytes():
    used = series("redis_memory_used_bytes", every(5, NOW - 300, NOW, 3.5 * 2**30))
    limit = series("redis_memory_max_bytes", every(5, NOW - 300, NOW, 4 * 2**30))
    fig = time_series_figure(SPECS["redis-memory"], [used, limit], False, HOUR, interval=5)
    assert trace(fig, "max")["name"] == "max 4 GiB"
    assert trace(fig, "max")["visible"] is True


def test_loopback_traffic_is_listed_but_not_drawn():
    eth = series(
        "system_network_receive_bytes_per_second", every(5, NOW - 60, NOW), interface="eth0"
    )
    lo = series("system_network_receive_bytes_per_second", every(5, NOW - 60, NOW), interface="lo")
    fig = time_series_figure(SPECS["network"], [eth, lo], False, HOUR, interval=5)
    assert trace(fig, "rx eth0")["visible"] is True
    assert trace(fig, "rx lo")["visible"] == "legendonly"


def _json(figure) -> dict:
    """A figure as the JSON Dash sends, read back, without empty objects (an axis title
    left to its default, which Plotly leaves out when it builds the figure)."""

    def pruned(value):
        if isinstance(value, dict):
            return {k: pruned(v) for k, v in value.items() if v != {}}
        if isinstance(value, list):
            return [pruned(v) for v in value]
        return value

    return pruned(json.loads(pio.to_json(figure, validate=False)))


@pytest.mark.parametrize("dark", [False, True])
@pytest.mark.parametrize("key", ["cpu", "network", "latency", "errors", "pg-connections"])
def test_the_figure_is_one_plotly_builds_from_it_unchanged(key, dark):
    spec = SPECS[key]
    outage = every(5, NOW - 900, NOW - 600, 3.0) + every(5, NOW - 300, NOW, 4.0)
    data = [
        series(name, outage, interface=iface, quantile="0.95", state="active")
        for name in spec.metrics
        for iface in ("eth0", "lo")
    ]
    for shown in (data, []):
        fig = time_series_figure(spec, shown, dark=dark, shown=HOUR, interval=5)
        # Plotly's own validation raises on a property it does not know or a bad value.
        assert _json(go.Figure(fig)) == _json(fig)


def test_the_template_is_plotlys_own_for_the_theme():
    light = time_series_figure(SPECS["cpu"], [], dark=False, shown=HOUR)
    dark = time_series_figure(SPECS["cpu"], [], dark=True, shown=HOUR)
    assert light["layout"]["template"] == pio.templates["plotly_white"].to_plotly_json()
    assert dark["layout"]["template"] == pio.templates["plotly_dark"].to_plotly_json()
