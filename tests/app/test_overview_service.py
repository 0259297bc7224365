"""What the Overview's service layer decides: which charts can get data, the neutral card of
an unconfigured Redis, the slowest routes without the console's own, and downloads that
hold exactly what is shown."""

from __future__ import annotations

import csv
import io
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from app.alerting.evaluate import evaluate_rule
from app.alerting.rules import from_record
from app.services import overview
from app.services.downloads import utc_iso
from storage.metrics import Sample

METRICS = "/api/v1/admin/monitoring/metrics"
PG_CHARTS = {"pg-connections", "pg-transactions", "pg-cache", "pg-locks"}
REDIS_CHARTS = {"redis-memory", "redis-ops", "redis-hits", "redis-clients"}
SPECS = {spec.key: spec for spec in overview.CHARTS}


def runtime(app):
    """The runtime behind ``app``."""
    return app.server.extensions["pulseboard"]


def card(rt, key: str) -> overview.Card:
    """One health card as the Overview shows it now."""
    return next(c for c in overview.health_cards(rt, time.time()) if c.key == key)


def test_embedded_default_has_no_postgres_or_redis_charts(make_app):
    available = overview.available_charts(runtime(make_app()))
    assert not available & (PG_CHARTS | REDIS_CHARTS)
    assert {"cpu", "network", "requests", "latency", "db-pool"} <= available


def test_postgres_storage_brings_the_database_charts(make_app, pg_url):
    available = overview.available_charts(runtime(make_app(database_url=pg_url)))
    assert available >= PG_CHARTS
    assert not available & REDIS_CHARTS


def test_a_configured_redis_brings_the_redis_charts(make_app, shared_redis_url):
    available = overview.available_charts(runtime(make_app(redis_url=shared_redis_url)))
    assert available >= REDIS_CHARTS
    assert not available & PG_CHARTS


def test_metrics_already_stored_make_their_chart_available(app):
    rt = runtime(app)
    rt.metrics.write([Sample(time.time(), "db-1", "pg_cache_hit_ratio", 0.99)])
    assert "pg-cache" in overview.available_charts(rt)


def test_an_unconfigured_redis_is_a_neutral_card_not_a_green_ok(make_app):
    redis = card(runtime(make_app()), "redis")
    assert (redis.value, redis.status) == ("OFF", "off")
    assert "not configured" in redis.detail


def test_a_configured_redis_that_answers_is_ok(make_app, shared_redis_url):
    redis = card(runtime(make_app(redis_url=shared_redis_url)), "redis")
    assert (redis.value, redis.status) == ("OK", "ok")


def route_latencies(rt, routes: dict[str, float]) -> None:
    """The latest p50/p95/p99 and rate of each route (p95 as given, in seconds)."""
    now = time.time()
    samples = []
    for route, p95 in routes.items():
        for quantile, factor in (("0.5", 0.5), ("0.95", 1.0), ("0.99", 1.2)):
            labels = {"route": route, "method": "GET", "quantile": quantile}
            samples.append(
                Sample(
                    now, "test-host", "http_route_request_duration_seconds", p95 * factor, labels
                )
            )
        samples.append(
            Sample(
                now,
                "test-host",
                "http_route_requests_per_second",
                2.0,
                {"route": route, "method": "GET"},
            )
        )
    rt.metrics.write(samples)


def test_slowest_routes_leave_out_the_consoles_own_unless_asked(app):
    rt = runtime(app)
    api = {f"/api/v1/r{i}": 0.01 * (i + 1) for i in range(11)}
    console = {
        "/_dash-update-component": 2.0,
        "/assets/<path:filename>": 1.5,
        "/<path:path>": 1.2,
    }
    route_latencies(rt, {**api, **console})

    shown = overview.slowest_routes(rt, None)
    assert [r["route"] for r in shown] == [f"/api/v1/r{i}" for i in range(10, 0, -1)]
    assert shown[0] == {
        "route": "/api/v1/r10",
        "method": "GET",
        "p50": 55.0,
        "p95": 110.0,
        "p99": 132.0,
        "rate": 2.0,
    }

    with_console = overview.slowest_routes(rt, None, include_console=True)
    assert [r["route"] for r in with_console[:3]] == list(console)


def test_a_chart_download_link_asks_for_exactly_what_the_chart_plots(app, accounts, client):
    rt = runtime(app)
    now = time.time()
    rt.metrics.write(
        [
            Sample(now - 1800 + i * 5, host, "system_network_receive_bytes_per_second", v, labels)
            for i in range(360)
            for host in ("test-host", "db-2")
            for v, labels in ((100.0 + i, {"interface": "eth0"}), (5.0, {"interface": "lo"}))
        ]
    )
    spec, start, end = SPECS["network"], now - 3600, now
    href = overview.export_href(spec, start, end, "test-host", "json")
    url = urlsplit(href)
    query = parse_qs(url.query)
    assert url.path == "/api/v1/admin/monitoring/metrics/export"
    assert query["format"] == ["json"]
    assert query["name"] == list(spec.metrics)
    assert query["host"] == ["test-host"]
    assert query["max_points"] == [str(overview.CHART_POINTS)]

    # The export streams what the series API answers for the same parameters.
    del query["format"]
    reader = accounts.login(client, "analyst")
    answer = reader.get(METRICS, query_string=query).get_json()
    plotted = overview.chart_series(rt, spec, start, end, "test-host")
    assert [(s["name"], s["host"], s["labels"]) for s in answer["series"]] == [
        (s.name, s.host, s.labels) for s in plotted
    ]
    assert [s["points"] for s in answer["series"]] == [[list(p) for p in s.points] for s in plotted]
    assert {s["labels"]["interface"] for s in answer["series"]} == {"eth0", "lo"}

    # And the link itself downloads those very points.
    response = reader.get(href)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.get_json() == [
        {
            "name": s.name,
            "host": s.host,
            "labels": s.labels,
            "ts": utc_iso(ts),
            "avg": avg,
            "min": low,
            "max": high,
        }
        for s in plotted
        for ts, avg, low, high in s.points
    ]


def test_a_chart_download_link_of_all_hosts_names_none():
    query = parse_qs(urlsplit(overview.export_href(SPECS["cpu"], 1.5, 2.5, None, "csv")).query)
    assert "host" not in query
    assert (query["from"], query["to"], query["format"]) == (["1.5"], ["2.5"], ["csv"])


SHOWN_ROWS = [
    {"route": "/login", "method": "POST", "p50": 175, "p95": 242.5, "p99": 248.5, "rate": 0.5},
    {"route": "/", "method": "GET", "p50": 2.5, "p95": 4.8, "p99": 5, "rate": 0.5, "x": "<b>"},
]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_routes_download_holds_the_rows_shown_and_names_what_and_when(fmt):
    stamp = 1_764_583_200.0  # 2025-12-01 10:00:00 UTC
    file = overview.routes_download(SHOWN_ROWS, fmt, "web-1", stamp)
    assert file["filename"] == (
        f"pulseboard-slowest-routes-web-1-20251201T100000Z-20251201T100000Z.{fmt}"
    )
    if fmt == "json":
        rows = json.loads(file["content"])
    else:
        rows = [
            {k: (v if k in ("route", "method") else float(v)) for k, v in row.items()}
            for row in csv.DictReader(io.StringIO(file["content"]))
        ]
    assert rows == [{k: row[k] for k in overview.ROUTE_FIELDS} for row in SHOWN_ROWS]


def test_the_routes_download_refuses_what_is_not_a_row():
    file = overview.routes_download([{"route": {"x": 1}, "method": "GET"}, "junk"], "json", None, 0)
    assert json.loads(file["content"]) == [
        {"route": None, "method": "GET", "p50": None, "p95": None, "p99": None, "rate": None}
    ]
    assert "all-hosts" in file["filename"]


def test_the_cpu_card_takes_its_colour_from_the_default_rule_state(app):
    rt = runtime(app)
    host = rt.settings.hostname
    now = time.time()
    rt.metrics.write(
        [Sample(now - 290 + i * 10, host, "system_cpu_usage_percent", 97.0) for i in range(29)]
    )
    # Above the critical threshold, but the rule is still pending ("for" 120 s).
    (cpu_rule,) = [r for r in rt.alerts.list_rules() if r.builtin == "cpu"]
    rule = from_record(cpu_rule)
    evaluate_rule(rule, rt.alerts, rt.metrics, rt.logs, now, lambda *a: [])
    assert card(rt, "cpu").status == overview.HEALTH_STATUS["ok"]
    evaluate_rule(rule, rt.alerts, rt.metrics, rt.logs, now + 121, lambda *a: [])
    assert card(rt, "cpu").status == overview.HEALTH_STATUS["critical"]
    # Without its rule the card falls back to the threshold it was made from.
    rt.alerts.delete_rule(cpu_rule.id, [])
    assert card(rt, "cpu").status == overview.HEALTH_STATUS["critical"]
    rt.metrics.write([Sample(now + 1, host, "system_cpu_usage_percent", 85.0)])
    assert card(rt, "cpu").status == overview.HEALTH_STATUS["warning"]
