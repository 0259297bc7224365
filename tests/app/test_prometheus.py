"""GET /metrics: valid Prometheus exposition of the latest samples and Pulseboard's health."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = text_string_to_metric_families(response.get_data(as_text=True))
    return {f.name: f for f in families}


def test_metrics_expose_every_latest_series_with_its_labels(make_app):
    app = make_app()
    rt = app.server.extensions["pulseboard"]
    client = app.server.test_client()
    client.get("/healthz")
    assert rt.scheduler.elect()  # the new leader collects at once
    families = scrape(client)

    memory = families["system_memory_total_bytes"]
    assert memory.type == "gauge"
    (sample,) = memory.samples
    assert sample.labels == {"host": "test-host"}
    assert sample.value > 0
    disks = {s.labels["mountpoint"] for s in families["system_disk_used_percent"].samples}
    assert "/" in disks
    requests = families["http_requests"]
    assert requests.type == "counter"
    assert any(s.labels.get("route") == "/healthz" for s in requests.samples)

    assert families["pulseboard_scheduler_leader"].samples[0].value == 1.0
    runs = {s.labels["job"]: s.value for s in families["pulseboard_job_runs"].samples}
    assert runs["collector:system"] >= 1
    assert families["pulseboard_live_bus_up"].samples[0].labels == {"backend": "memory"}
    assert families["pulseboard_log_handler_dropped"].samples[0].value == 0
    rt.scheduler.shutdown()


def test_metrics_read_the_store_when_no_collection_was_published(make_app):
    app = make_app()
    rt = app.server.extensions["pulseboard"]
    from storage.metrics import Sample

    rt.metrics.write([Sample(1.7e9, "db-1", "system_load1", 0.5)])
    families = scrape(app.server.test_client())
    assert families["system_load1"].samples[0].labels == {"host": "db-1"}


def test_a_metrics_token_protects_the_endpoint(make_app):
    app = make_app(metrics_token="scrape-secret")
    client = app.server.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    scrape(client, Authorization="Bearer scrape-secret")


HOSTILE = [
    {"name": "system_load1", "host": "db-1", "labels": {}, "value": 0.5},
    {"name": "system_disk_used_percent", "host": "db-1", "labels": {"mountpoint": "/"}, "value": 3},
    {
        "name": "http_requests_total",
        "host": "web-1",
        "labels": {"route": '/a"b', "status": "200"},
        "value": 12.0,
    },
    {
        "name": "system_disk_used_percent",
        "host": "db-1",
        "labels": {"mountpoint": "/x"},
        "value": 0,
    },
    {"name": "app_path", "host": "web-1", "labels": {"path": 'C:\\temp\\"x"\nend'}, "value": 1e20},
    {"name": "app_city", "host": "hôte-1", "labels": {"city": "Zürich ☃ 東京"}, "value": -2.5e-7},
    {
        "name": "app_attrs",
        "host": "h",
        "labels": {"attrs.user": "u", "1st": "x"},
        "value": 1234567.0,
    },
    {"name": "odd.name\\with\nnewline", "host": "h", "labels": {"k": ""}, "value": float("inf")},
    {"name": "app_special", "host": "h", "labels": {"v": "-inf"}, "value": float("-inf")},
    {"name": "app_special", "host": "h", "labels": {"v": "nan"}, "value": float("nan")},
]


def test_metrics_write_the_reference_exposition_line_for_line(make_app):
    from app.services import prometheus
    from bench.metrics_render import reference
    from storage.live import METRICS_CHANNEL

    app = make_app()
    rt = app.server.extensions["pulseboard"]
    rt.bus.publish(METRICS_CHANNEL, {"type": "metrics", "ts": 1.7e9, "samples": HOSTILE})
    fields = {f.name: f for c in rt.collectors for f in c.fields}
    others = [prometheus.alerts_family(rt), *prometheus.health_families(rt)]
    expected = reference(HOSTILE, fields, others)

    client = app.server.test_client()
    for _ in range(2):  # the second scrape reuses the series lines the first one built
        text = client.get("/metrics").get_data(as_text=True)
        assert text.splitlines() == expected.splitlines()
        assert text.endswith("\n")

    families = scrape(client)
    assert families["http_requests"].type == "counter"
    (requests,) = families["http_requests"].samples
    assert requests.name == "http_requests_total"
    assert requests.labels == {"host": "web-1", "route": '/a"b', "status": "200"}
    disks = families["system_disk_used_percent"].samples
    assert [s.labels["mountpoint"] for s in disks] == ["/", "/x"]
    assert families["app_path"].samples[0].labels["path"] == 'C:\\temp\\"x"\nend'
    assert families["app_path"].samples[0].value == 1e20
    assert families["app_city"].samples[0].labels == {"host": "hôte-1", "city": "Zürich ☃ 東京"}
    assert families["app_attrs"].samples[0].labels == {"host": "h", "attrs_user": "u", "_1st": "x"}
    odd = families["odd_name_with_newline"]
    assert odd.documentation == "odd.name\\with\nnewline"
    assert odd.samples[0].value == float("inf")
    values = [s.value for s in families["app_special"].samples]
    assert values[0] == float("-inf") and values[1] != values[1]
    assert "app_attrs{1st" not in text and "# TYPE http_requests_total counter" in text


def test_values_are_written_as_prometheus_writes_them():
    from app.services.prometheus import format_value

    assert [format_value(v) for v in (0, -0.0, 3, 0.5, 1234567.0, 1e20, -1e20, 2.5e-7)] == [
        "0.0",
        "-0.0",
        "3.0",
        "0.5",
        "1.234567e+06",
        "1e+20",
        "-1e+20",
        "2.5e-07",
    ]
    assert [format_value(float(v)) for v in ("inf", "-inf", "nan")] == ["+Inf", "-Inf", "NaN"]
