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
