"""Dependency-check probes against servers the tests start and stop, and the collector
that runs them: its probe_* samples, the check rows, and an alert rule on probe_success."""

from __future__ import annotations

import time
from concurrent.futures import wait
from pathlib import Path

import pytest

from app.alerting.evaluate import Evaluator
from app.alerting.rules import RuleBody, check, to_record
from collectors.checks import CheckCollector, probe_dns, probe_http, probe_tcp
from storage.alerts import AlertStore
from storage.diagnostics.checks import CheckRecord, CheckStore
from storage.live import InProcessBus
from storage.logs import LogStore
from storage.metrics import MetricsStore
from tests.check_servers import Listener, WebServer, self_signed
from tests.services import free_port


@pytest.fixture
def web():
    server = WebServer().start()
    yield server
    server.stop()


@pytest.fixture
def listener():
    server = Listener().start()
    yield server
    server.stop()


def test_http_goes_down_when_the_server_stops_and_up_when_it_returns(web):
    assert probe_http(web.url, 2).up
    web.stop()
    down = probe_http(web.url, 2)
    assert (down.up, down.detail, down.status_code) == (False, "connection refused", 0)
    web.start()
    up = probe_http(web.url, 2)
    assert (up.up, up.detail, up.status_code, up.cert_expiry) == (True, "HTTP 200", 200, None)


def test_http_judges_status_keyword_and_follows_redirects(web):
    web.status = 503
    assert probe_http(web.url, 2).detail == "HTTP 503, expected 200"
    assert probe_http(web.url, 2, expect_status=503).up
    web.status = 200
    assert probe_http(web.url + "redirect", 2, keyword="all ok").up
    missing = probe_http(web.url, 2, keyword="healthy")
    assert (missing.up, missing.detail) == (False, "keyword 'healthy' not found")


def test_a_self_signed_certificate_close_to_expiry(tmp_path: Path):
    cert, key, expires = self_signed(tmp_path, days=2)
    server = WebServer(tls=(cert, key)).start()
    try:
        unverified = probe_http(server.url, 2, verify_tls=False)
        assert unverified.up
        assert unverified.cert_expiry == expires
        assert unverified.detail == "HTTP 200; certificate expires in 2 days"
        verified = probe_http(server.url, 2)
        assert not verified.up
        assert verified.detail.startswith("TLS verify failed: ")
        assert "self-signed" in verified.detail
    finally:
        server.stop()


def test_a_server_that_accepts_and_never_answers_is_down_after_the_timeout(listener):
    result = probe_http(f"http://127.0.0.1:{listener.port}/", 0.5)
    assert (result.up, result.detail) == (False, "timed out after 0.5s")


def test_tcp_follows_the_listener_down_and_up(listener):
    assert probe_tcp("127.0.0.1", listener.port, 1).detail == "connected"
    listener.stop()
    down = probe_tcp("127.0.0.1", listener.port, 1)
    assert (down.up, down.detail) == (False, "connection refused")
    listener.start()
    assert probe_tcp("127.0.0.1", listener.port, 1).up


def test_dns_resolves_localhost_and_not_an_invalid_name():
    local = probe_dns("localhost", 2)
    assert local.up
    assert "127.0.0.1" in local.addresses or "::1" in local.addresses
    assert not probe_dns("pulseboard-check.invalid", 2).up


def _check(store: CheckStore, name: str, **spec) -> CheckRecord:
    kind = "http" if "url" in spec else "tcp"
    return store.create(CheckRecord(name, kind, spec, interval_s=30, timeout_s=1.0), time.time())


def test_the_collector_runs_due_checks_and_yields_probe_samples(engine, web):
    store, metrics = CheckStore(engine), MetricsStore(engine)
    _check(store, "web", url=web.url, expect_status=200)
    _check(store, "gone", host="127.0.0.1", port=free_port())
    collector = CheckCollector("test-host", store)
    try:
        started = collector.tick()
        assert len(started) == 2
        wait(started)
        assert collector.tick() == []  # not due again before its interval
        samples = collector.collect(time.time())
    finally:
        collector.close()
    metrics.write(samples)
    got = {(s.name, s.labels["check"]): s.value for s in samples}
    assert got[("probe_success", "web")] == 1.0
    assert got[("probe_http_status_code", "web")] == 200.0
    assert got[("probe_success", "gone")] == 0.0
    assert ("probe_http_status_code", "gone") not in got
    assert {s.host for s in samples} == {"test-host"}
    rows = {r.name: r for r in store.list()}
    assert (rows["web"].last_up, rows["web"].last_detail) == (True, "HTTP 200")
    assert rows["gone"].last_up is False
    assert rows["web"].last_latency_ms > 0
    latest = {(v.name, v.labels["check"]) for v in metrics.latest(["probe_success"])}
    assert latest == {("probe_success", "web"), ("probe_success", "gone")}


def test_a_metric_rule_on_probe_success_fires_for_a_down_check(engine, listener):
    store, metrics, alerts = CheckStore(engine), MetricsStore(engine), AlertStore(engine)
    _check(store, "db-port", host="127.0.0.1", port=listener.port)
    listener.stop()
    collector = CheckCollector("test-host", store)
    try:
        wait(collector.tick())
        metrics.write(collector.collect(time.time()))
    finally:
        collector.close()
    rule = check(
        RuleBody.model_validate(
            {
                "name": "Dependency down",
                "kind": "metric",
                "metric": "probe_success",
                "reduce": "last",
                "group_by": ["check"],
                "window": 60,
                "op": "<",
                "critical": 1,
                "interval": 1,
            }
        )
    )
    alerts.create_rule(to_record(rule), "admin", time.time())
    evaluator = Evaluator(alerts, metrics, LogStore(engine), InProcessBus(), lambda *a: [])
    evaluator.run(time.time() + 1)
    (firing,) = alerts.open_instances()
    assert (firing.state, firing.labels["check"]) == ("firing", "db-port")
