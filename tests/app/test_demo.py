"""``pulseboard demo`` against a running app: its logs are searchable, its requests are
timed, and a bad URL, an unreachable server or a refused token is a clear error. The demo is
a package of its own that the console never loads."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from werkzeug.serving import make_server

from app import serve_address
from app.demo import DemoError, DemoLogs, check_url
from tests.app.auth_helpers import bearer, make_token, runtime_of
from tests.app.test_processes import start_server
from tests.services import free_port

PULSEBOARD = str(Path(sys.executable).parent / "pulseboard")
LOGS = "/api/v1/admin/logs"
SUMMARY = re.compile(
    r"done after \d+ s: (?P<lines>\d+) log lines \((?P<errors>\d+) errors\) in "
    r"(?P<batches>\d+) batches, (?P<requests>\d+) requests \((?P<classes>[^)]*)\), "
    r"(?P<failures>\d+) failures"
)


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """``app`` behind a real threaded HTTP server; yields its URL."""
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def demo(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``pulseboard demo`` as users do, from a data dir of its own."""
    return subprocess.run(
        [PULSEBOARD, "demo", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PULSEBOARD_DATA_DIR": str(tmp_path / "cli"), **env},
        timeout=60,
    )


def search(client, headers: dict, **params) -> list[dict]:
    response = client.get(LOGS, query_string={"limit": 500, **params}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_the_demo_feeds_searchable_logs_and_timed_requests(make_app, database_url, tmp_path):
    app = make_app(database_url=database_url)
    rt = runtime_of(app)
    with serving(app) as url:
        result = demo(
            tmp_path,
            *("--url", url, "--duration", "3", "--rate", "300", "--requests", "20"),
            *("--incident-every", "2", "--seed", "7"),
            PULSEBOARD_DATABASE_URL=database_url,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "created API token 'demo' of 'admin'" in result.stdout
    totals = SUMMARY.search(result.stdout)
    assert totals, result.stdout
    assert int(totals["failures"]) == 0
    assert int(totals["errors"]) > 0

    # Every acknowledged line is stored, and only those.
    with rt.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM log_records WHERE source <> 'pulseboard'")
        ).scalar_one()
    assert stored == int(totals["lines"]) > 500

    # Each request the demo made was timed: the batches, and its GETs by status class.
    assert rt.scheduler.elect()  # the new leader collects at once
    exposition = app.server.test_client().get("/metrics").get_data(as_text=True)
    families = {f.name: f for f in text_string_to_metric_families(exposition)}
    timed = families["http_requests"].samples
    posts = [s.value for s in timed if s.labels["route"] == "/api/v1/logs"]
    assert posts == [int(totals["batches"])]
    gets: dict[str, int] = {}
    for s in timed:
        if s.labels["method"] == "GET":
            gets[s.labels["status"]] = gets.get(s.labels["status"], 0) + int(s.value)
    made = {c: int(n) for n, c in (part.split() for part in totals["classes"].split(", "))}
    gets["2xx"] -= 1  # the check that the server answers, before the demo starts
    assert gets == made
    assert sum(made.values()) == int(totals["requests"]) > 10
    routes = {s.labels["route"] for s in timed}
    assert {"/healthz", "/api/v1/admin/logs", "/api/v1/admin/monitoring/metrics"} <= routes
    assert {"2xx", "4xx"} <= set(made)

    # Several sources and hosts, searchable in the query language.
    reader = bearer(make_token(app, "analyst"))
    client = app.server.test_client()
    for source in ("api", "nginx", "worker", "db", "auth", "scheduler"):
        assert search(client, reader, source=source, limit=1), source
    for host in ("web-1", "web-2", "worker-1"):
        assert search(client, reader, host=host, limit=1), host
    access = search(client, reader, q='source:nginx "HTTP/1.1" attrs.status:200', limit=5)
    assert access and all(item["attrs"]["status"] == 200 for item in access)

    # The incidents: errors with multi-line Python stack traces.
    traces = search(client, reader, q='level:error "Traceback (most recent call last)"')
    assert traces
    for item in traces:
        lines = item["message"].splitlines()
        assert lines[1] == "Traceback (most recent call last):"
        assert lines[2].startswith('  File "/srv/shop/')
        assert re.match(r"[\w.]+(Error|Timeout): ", lines[-1]), lines[-1]
    assert {"api", "worker"} <= {item["source"] for item in traces}
    assert search(client, reader, q='source:db level>=error "connection pool exhausted"')

    # The token the demo made for itself is revoked, and both steps are audited.
    (token,) = [t for t in rt.accounts.list_tokens() if t.user_name == "admin"]
    assert token.name == "demo"
    assert token.revoked_at is not None
    actions = [r.action for r in rt.accounts.list_audit(actor="cli")]
    assert actions == ["token.revoke", "token.create"]


def test_the_same_seed_sends_the_same_logs_and_incidents_bring_errors():
    def records(seed: int) -> list[tuple[float, dict]]:
        """80 s of events, ten a second: the incident is from 20 s to 28 s."""
        logs = DemoLogs(seed, incident_every=60)
        out = [(i / 10, r) for i in range(800) for r in logs.event(1.7e9 + i / 10, i / 10)]
        assert logs.incidents == {0}
        return out

    first = records(1)
    assert first == records(1) != records(2)
    assert {r["level"] for _, r in first} == {"debug", "info", "warning", "error", "critical"}
    during = [r for t, r in first if 20 <= t < 28]
    calm = [r for t, r in first if not 20 <= t < 28]
    error_share = {
        name: sum(r["level"] in ("error", "critical") for r in part) / len(part)
        for name, part in (("during", during), ("calm", calm))
    }
    assert error_share["during"] > 0.2 > 0.02 > error_share["calm"]


def test_an_unreachable_server_is_a_clear_error_and_no_token_is_made(make_app, tmp_path):
    app = make_app()
    port = free_port()
    result = demo(
        tmp_path,
        *("--url", f"http://127.0.0.1:{port}", "--duration", "1"),
        PULSEBOARD_DATABASE_URL=runtime_of(app).settings.database_url,
    )
    assert result.returncode == 1
    assert f"cannot reach Pulseboard at http://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert runtime_of(app).accounts.list_tokens() == []


@pytest.mark.parametrize(
    ("role", "status", "why"),
    [
        (None, 401, "pass a valid ingest or admin token"),
        ("analyst", 403, "may not send logs"),
    ],
)
def test_a_refused_token_is_a_clear_error(make_app, tmp_path, role, status, why):
    app = make_app()
    token = make_token(app, role) if role else "pb_not-a-token"
    with serving(app) as url:
        result = demo(tmp_path, "--url", url, "--token", token, "--duration", "5")
    assert result.returncode == 1
    assert f"{url} refused the token ({status}" in result.stderr
    assert why in result.stderr
    assert "Traceback" not in result.stderr


def test_a_url_that_is_not_http_is_refused(tmp_path):
    for url in ("127.0.0.1:8050", "http://", "file:///etc/passwd"):
        with pytest.raises(DemoError, match="not an http"):
            check_url(url)
    assert check_url("https://pulse.example/base/") == "https://pulse.example/base"
    result = demo(tmp_path, "--url", "ftp://127.0.0.1/", "--token", "t")
    assert result.returncode == 1
    assert "not an http(s) URL: 'ftp://127.0.0.1/'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_demo_is_a_package_of_its_own_that_the_serving_console_never_loads(tmp_path):
    spec = importlib.util.find_spec("app.demo")
    assert spec is not None and spec.submodule_search_locations is not None
    # The console as gunicorn runs it, after answering a page and an API call.
    script = (
        "import sys; from wsgi import server; client = server.test_client(); "
        "assert client.get('/login').status_code == 200; "
        "assert client.get('/healthz').status_code == 200; "
        "print(sorted(m for m in sys.modules if m == 'app.demo' or m.startswith('app.demo.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={
            **os.environ,
            "PULSEBOARD_DATA_DIR": str(tmp_path),
            "PULSEBOARD_ADMIN_PASSWORD": "admin-password-1",
        },
        timeout=60,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"


def test_the_demo_finds_the_server_started_on_its_data_dir(tmp_path):
    data_dir = tmp_path / "shop"
    server, port = start_server(tmp_path, "shop", f"sqlite:///{data_dir / 'pulseboard.db'}")
    try:
        note = data_dir / serve_address.FILE_NAME
        assert serve_address.running_url(data_dir) == f"http://127.0.0.1:{port}"
        result = subprocess.run(
            [PULSEBOARD, "demo", "--duration", "2", "--rate", "20", "--requests", "1"],
            capture_output=True,
            text=True,
            env={**os.environ, "PULSEBOARD_DATA_DIR": str(data_dir)},
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert f"feeding http://127.0.0.1:{port}" in result.stderr
        assert SUMMARY.search(result.stdout + result.stderr)["failures"] == "0"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert not note.exists()
    assert serve_address.running_url(data_dir) is None


@pytest.mark.parametrize("pid", ["dead", 0, -1, "x"])
def test_a_note_of_no_living_server_is_not_followed(tmp_path, pid):
    if pid == "dead":
        gone = subprocess.Popen(["true"])
        gone.wait()
        pid = gone.pid
    note = {"url": "http://127.0.0.1:1", "pid": pid}
    (tmp_path / serve_address.FILE_NAME).write_text(json.dumps(note))
    assert serve_address.running_url(tmp_path) is None


def test_a_server_bound_to_every_address_is_reached_on_loopback():
    assert serve_address.url_for("0.0.0.0", 8050) == "http://127.0.0.1:8050"
    assert serve_address.url_for("::", 8050) == "http://[::1]:8050"
