"""Endpoint histograms: the leader job storing per-route bucket counts of each interval,
percentiles of the merged buckets against the exact ones, bounded routes, slow requests
and their trace ids."""

from __future__ import annotations

import bisect

import numpy as np
import pytest

from app.timing import TimingMiddleware, trace_id_of
from collectors.endpoints import EndpointRecorder
from collectors.requests import OTHER_ROUTE, Histogram, RequestCollector, RequestTimings
from storage.db import make_engine, upgrade
from storage.diagnostics.endpoints import EndpointStore, SlowRequest
from storage.models import LATENCY_BUCKETS

T0 = 1_800_000_000.0


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'endpoints.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield EndpointStore(engine)
    engine.dispose()


def totals(store: EndpointStore) -> dict:
    return {(c.route, c.method): c for _, c in store.read(T0, T0 + 3600)}


def bucket_width(seconds: float) -> float:
    index = bisect.bisect_left(LATENCY_BUCKETS, seconds)
    return LATENCY_BUCKETS[index] - (LATENCY_BUCKETS[index - 1] if index else 0.0)


def test_percentiles_of_merged_buckets_are_within_one_bucket_of_the_exact_ones(store):
    latencies = np.random.default_rng(11).lognormal(np.log(0.05), 1.2, 6000)
    timings = RequestTimings()
    recorder = EndpointRecorder("h", timings, store, started=T0)
    for interval, chunk in enumerate(np.array_split(latencies, 6)):  # six stored intervals
        for n, seconds in enumerate(chunk):
            timings.record("/api/items", "GET", 500 if n % 50 == 0 else 200, float(seconds))
        recorder.run(T0 + 5 * (interval + 1))
    merged = totals(store)[("/api/items", "GET")]
    assert merged.requests == 6000
    assert merged.server_errors == 6000 // 50
    assert merged.seconds == pytest.approx(latencies.sum())
    histogram = Histogram(list(merged.buckets), merged.seconds)
    for q in (0.5, 0.9, 0.95, 0.99):
        exact = float(np.percentile(latencies, q * 100))
        assert abs(histogram.quantile(q) - exact) <= bucket_width(exact), q


def test_the_job_keeps_its_own_baseline_beside_the_request_collector(store):
    timings = RequestTimings()
    collector = RequestCollector("h", timings)
    recorder = EndpointRecorder("h", timings, store, started=T0 - 3)
    timings.record("/a", "GET", 404, 0.01)  # since the process started: stored
    recorder.run(T0)
    collector.collect(T0)
    for _ in range(2):
        timings.record("/a", "GET", 404, 0.01)
        collector.collect(T0 + 1)  # the collector's intervals do not cut the job's
    timings.record("/a", "GET", 200, 0.2)
    recorder.run(T0 + 5)
    stored = totals(store)
    assert set(stored) == {("/a", "GET")}
    assert (stored[("/a", "GET")].requests, stored[("/a", "GET")].client_errors) == (4, 3)
    recorder.run(T0 + 10)  # nothing new: no row
    assert totals(store)[("/a", "GET")].requests == 4


def test_after_a_long_pause_the_job_starts_from_a_fresh_baseline(store):
    timings = RequestTimings()
    recorder = EndpointRecorder("h", timings, store, started=T0 - 3600)
    timings.record("/while-following", "GET", 200, 0.01)  # cannot be placed in time
    recorder.run(T0)
    timings.record("/a", "GET", 200, 0.01)
    recorder.run(T0 + 5)
    timings.record("/later", "GET", 200, 0.01)
    recorder.run(T0 + 5 + 61)  # not run for over a minute: a new baseline again
    assert set(totals(store)) == {("/a", "GET")}


def test_routes_beyond_the_busiest_are_summed_as_other(store):
    timings = RequestTimings()
    recorder = EndpointRecorder("h", timings, store, max_routes=3, started=T0)
    for n in range(10):
        for _ in range(n + 1):
            timings.record(f"/r{n}", "GET", 200, 0.01)
    timings.record("/r0", "POST", 200, 0.01)
    recorder.run(T0 + 5)
    stored = {key: c.requests for key, c in totals(store).items()}
    assert stored == {
        ("/r9", "GET"): 10,
        ("/r8", "GET"): 9,
        ("/r7", "GET"): 8,
        (OTHER_ROUTE, "GET"): sum(range(1, 8)),
        (OTHER_ROUTE, "POST"): 1,
    }


def test_an_interval_whose_write_failed_goes_with_the_next_one(store):
    refusals: list[Exception] = []

    def fence(_conn):
        if refusals:
            raise refusals.pop()

    timings = RequestTimings()
    recorder = EndpointRecorder("h", timings, store, fence=fence, started=T0 - 5)
    refusals.append(RuntimeError("not the leader"))
    timings.record("/a", "GET", 200, 0.01)
    timings.record_slow(SlowRequest(T0, "/a", "GET", "/a", 200, 2.0, "t1"))
    with pytest.raises(RuntimeError):
        recorder.run(T0)
    timings.record("/a", "GET", 200, 0.01)
    recorder.run(T0 + 5)
    assert totals(store)[("/a", "GET")].requests == 2
    assert [s["trace_id"] for s in store.slowest(T0 - 1, T0 + 1)] == ["t1"]


def test_the_slow_buffer_keeps_the_newest_and_counts_the_rest():
    timings = RequestTimings(slow_buffer=3)
    for n in range(5):
        timings.record_slow(SlowRequest(T0 + n, "/a", "GET", "/a", 200, 2.0, f"t{n}"))
    assert [s.trace_id for s in timings.take_slow()] == ["t2", "t3", "t4"]
    assert timings.slow_dropped == 2
    assert timings.take_slow() == []


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            {"HTTP_TRACEPARENT": "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"},
            "4bf92f3577b34da6a3ce929d0e0e4736",
        ),
        (
            {
                "HTTP_TRACEPARENT": "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
                "HTTP_X_REQUEST_ID": "abc-1",
            },
            "abc-1",
        ),
        ({"HTTP_TRACEPARENT": "garbage", "HTTP_X_REQUEST_ID": "req:7.a_b"}, "req:7.a_b"),
        ({"HTTP_X_REQUEST_ID": "<script>"}, None),
        ({"HTTP_X_REQUEST_ID": "x" * 65}, None),
        ({}, None),
    ],
)
def test_the_trace_id_comes_from_traceparent_then_x_request_id_then_is_made(headers, expected):
    environ = dict(headers)
    trace_id = trace_id_of(environ)
    if expected is None:
        assert len(trace_id) == 32 and int(trace_id, 16) >= 0
    else:
        assert trace_id == expected
    assert trace_id_of(environ) == trace_id  # one id per request


def test_the_wsgi_middleware_keeps_slow_requests_with_path_and_trace_id():
    def other_app(environ, start_response):
        start_response("502 Bad Gateway", [])
        return [b""]

    timings = RequestTimings(slow_threshold=0.0)
    wrapped = TimingMiddleware(other_app, timings)
    environ = {
        "PATH_INFO": "/orders/12",
        "QUERY_STRING": "token=secret",
        "REQUEST_METHOD": "PUT",
        "HTTP_X_REQUEST_ID": "order-12",
    }
    wrapped(environ, lambda *a: None)
    (slow,) = timings.take_slow()
    assert (slow.route, slow.method, slow.path, slow.status, slow.trace_id) == (
        "/orders/{id}",
        "PUT",
        "/orders/12",
        502,
        "order-12",
    )
    fast = RequestTimings(slow_threshold=10.0)
    TimingMiddleware(other_app, fast)(dict(environ), lambda *a: None)
    assert fast.take_slow() == []
