"""Request timing: histogram percentiles, rates, error ratios and route labels."""

from __future__ import annotations

import pytest

from collectors.requests import (
    FIELDS,
    OTHER_ROUTE,
    UNMATCHED_ROUTE,
    Histogram,
    RequestCollector,
    RequestTimings,
)


def values(samples, name, **labels):
    return [
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def test_quantiles_interpolate_inside_buckets_as_prometheus_does():
    h = Histogram()
    for seconds in [0.003] * 50 + [0.2] * 45 + [3.0] * 5:
        h.observe(seconds)
    assert h.count == 100
    assert h.quantile(0.5) == pytest.approx(0.005)
    assert h.quantile(0.95) == pytest.approx(0.2)
    assert h.quantile(0.99) == pytest.approx(2.0 + 3.0 * 4 / 5)
    assert h.total == pytest.approx(50 * 0.003 + 45 * 0.2 + 5 * 3.0)


def test_slower_than_the_last_bucket_reports_the_largest_bound():
    h = Histogram()
    h.observe(61.0)
    assert h.quantile(0.5) == 60.0


def test_an_empty_histogram_has_no_quantile():
    assert Histogram().quantile(0.5) is None


def test_a_collection_yields_rates_errors_and_percentiles_of_its_interval():
    timings = RequestTimings()
    collector = RequestCollector("h", timings)
    timings.record("/old", "GET", 200, 9.0)  # before the first collection: not in the interval
    collector.collect(100.0)
    for _ in range(40):
        timings.record("/api/x", "GET", 200, 0.02)
    for _ in range(8):
        timings.record("/api/x", "GET", 404, 0.02)
    for _ in range(2):
        timings.record("/api/y", "POST", 500, 0.6)
    samples = collector.collect(110.0)
    assert values(samples, "http_requests_per_second") == [5.0]
    assert values(samples, "http_request_errors_ratio", **{"class": "4xx"}) == [0.16]
    assert values(samples, "http_request_errors_ratio", **{"class": "5xx"}) == [0.04]
    assert values(samples, "http_route_requests_per_second", route="/api/x", method="GET") == [4.8]
    p99 = values(samples, "http_route_request_duration_seconds", route="/api/y", quantile="0.99")
    assert 0.5 < p99[0] <= 0.75
    assert values(samples, "http_request_duration_seconds", quantile="0.5")[0] <= 0.025
    totals = values(samples, "http_requests_total", route="/api/x", method="GET", status="4xx")
    assert totals == [8.0]


def test_the_first_collection_has_counters_but_no_rates():
    timings = RequestTimings()
    timings.record("/a", "GET", 200, 0.01)
    samples = RequestCollector("h", timings).collect(5.0)
    assert {s.name for s in samples} == {"http_requests_total"}


def test_every_sample_is_a_declared_field_with_its_labels():
    timings = RequestTimings()
    collector = RequestCollector("h", timings)
    collector.collect(0.0)
    timings.record("/a", "GET", 200, 0.01)
    fields = {f.name: f for f in FIELDS}
    for sample in collector.collect(1.0):
        assert tuple(sample.labels) == fields[sample.name].labels, sample


def test_distinct_routes_are_capped_so_labels_cannot_explode():
    timings = RequestTimings(max_routes=3)
    for n in range(10):
        timings.record(f"/r{n}", "GET", 200, 0.01)
    routes = {route for route, _, _ in timings.snapshot()}
    assert routes == {"/r0", "/r1", "/r2", OTHER_ROUTE}


def test_flask_requests_are_labelled_by_route_template_not_path(app, accounts):
    rt = app.server.extensions["pulseboard"]
    client = app.server.test_client()
    token = accounts.token("admin")
    for user_id in (101, 202, 303):
        client.patch(
            f"/api/v1/admin/users/{user_id}",
            json={"role": "analyst"},
            headers={"Authorization": f"Bearer {token}"},
        )
    client.get("/no/such/page/42")  # Dash's page catch-all: its template is the label
    client.post("/no/such/page/42")  # no route takes a POST here
    client.get("/api/v1/admin/monitoring/health")  # refused: anonymous, still timed
    keys = rt.timings.snapshot()
    assert ("/api/v1/admin/users/<int:user_id>", "PATCH", "4xx") in keys
    assert keys[("/api/v1/admin/users/<int:user_id>", "PATCH", "4xx")].count == 3
    assert ("/<path:path>", "GET", "3xx") in keys  # anonymous: redirected to /login
    assert (UNMATCHED_ROUTE, "POST", "4xx") in keys
    assert ("/api/v1/admin/monitoring/health", "GET", "4xx") in keys
    assert not any("101" in route for route, _, _ in keys)


def test_the_wsgi_middleware_folds_ids_in_paths_of_other_apps():
    from app.timing import TimingMiddleware, template_of

    assert template_of("/orders/123/items/9f86d081884c7d659a2feaa0c55ad015") == (
        "/orders/{id}/items/{id}"
    )
    assert template_of("/users/550e8400-e29b-41d4-a716-446655440000") == "/users/{id}"
    assert template_of("/v2/health") == "/v2/health"

    def other_app(environ, start_response):
        start_response("503 Service Unavailable", [])
        return [b"busy"]

    timings = RequestTimings()
    wrapped = TimingMiddleware(other_app, timings)
    for n in (1, 2, 3):
        wrapped({"PATH_INFO": f"/orders/{n}", "REQUEST_METHOD": "GET"}, lambda *a: None)
    assert timings.snapshot()[("/orders/{id}", "GET", "5xx")].count == 3
