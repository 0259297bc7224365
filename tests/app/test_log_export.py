"""POST /api/v1/admin/logs/export: formats, gzip, file name, audit, who may export, form
posts from the browser, bad input, client disconnects, and flat memory on a large export."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import re
from datetime import UTC, datetime, timedelta

import psutil
import pytest
import requests
from sqlalchemy import create_engine, text

from app.auth import hash_password
from storage.accounts import AccountStore
from storage.logs import LogEntry
from tests.app.auth_helpers import csrf_of, error_code, runtime_of
from tests.app.test_processes import kill, start_server
from tests.conftest import Accounts, truncate_tables, wait_until

EXPORT = "/api/v1/admin/logs/export"
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
RANGE = {"from": T0.timestamp(), "to": T1.timestamp()}
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def analyst(app, accounts) -> dict[str, str]:
    """An analyst's bearer header, with 30 records written two minutes apart from T0."""
    runtime_of(app).logs.write(
        [
            LogEntry(
                T0 + timedelta(minutes=2 * i),
                "error" if i % 3 == 0 else "info",
                "api" if i % 2 else "worker",
                "web-1",
                f'request {i}, "quoted"\nsecond line' if i else XSS,
                {"i": i},
            )
            for i in range(30)
        ]
    )
    return {"Authorization": f"Bearer {accounts.token('analyst')}"}


@pytest.fixture
def web(make_app):
    """One app on SQLite, for what no backend changes (validation, content types)."""
    return make_app()


@pytest.fixture
def web_analyst(web) -> dict[str, str]:
    """An analyst's bearer header on ``web``."""
    return {"Authorization": f"Bearer {Accounts(web).token('analyst')}"}


def rows_of(fmt: str, data: bytes) -> list[dict]:
    """A downloaded export read back with the standard parsers."""
    decoded = data.decode("utf-8")
    if fmt == "json":
        return json.loads(decoded)
    if fmt == "ndjson":
        return [json.loads(line) for line in decoded.splitlines()]
    return list(csv.DictReader(io.StringIO(decoded, newline="")))


def test_each_format_downloads_every_matching_record(client, analyst):
    content_types = {
        "csv": "text/csv",
        "json": "application/json",
        "ndjson": "application/x-ndjson",
    }
    for fmt, packed in itertools.product(content_types, (False, True)):
        body = {**RANGE, "format": fmt, "gzip": packed}
        response = client.post(EXPORT, json=body, headers=analyst)
        assert response.status_code == 200
        suffix = f".{fmt}.gz" if packed else f".{fmt}"
        assert response.headers["Content-Disposition"] == (
            f'attachment; filename="pulseboard-logs-20261128T100000Z-20261128T110000Z{suffix}"'
        )
        assert "Content-Encoding" not in response.headers
        assert response.mimetype == ("application/gzip" if packed else content_types[fmt])
        rows = rows_of(fmt, gzip.decompress(response.data) if packed else response.data)
        assert [r["message"] for r in rows] == [XSS] + [
            f'request {i}, "quoted"\nsecond line' for i in range(1, 30)
        ]
        assert rows[1]["ts"] == "2026-11-28T10:02:00Z"
        assert rows[1]["source"] == "api"
        assert (json.loads(rows[2]["attrs"]) if fmt == "csv" else rows[2]["attrs"]) == {"i": 2}


def test_filters_and_time_range_narrow_the_export(client, analyst):
    body = {
        "q": "request -source:worker",
        "level": "error",
        "from": (T0 + timedelta(minutes=10)).timestamp(),
        "to": (T0 + timedelta(minutes=40)).timestamp(),
        "format": "ndjson",
    }
    response = client.post(EXPORT, json=body, headers=analyst)
    assert [r["attrs"]["i"] for r in rows_of("ndjson", response.data)] == [9, 15]


def test_without_a_start_the_file_name_says_so_and_the_end_is_now(app, client, accounts):
    now = datetime.now(UTC)
    runtime_of(app).logs.write(
        [
            LogEntry(now - timedelta(minutes=5), "info", "s", "h", "past"),
            LogEntry(now + timedelta(minutes=5), "info", "s", "h", "future"),
        ]
    )
    analyst = {"Authorization": f"Bearer {accounts.token('analyst')}"}
    before = now.replace(microsecond=0)
    response = client.post(EXPORT, json={"q": "source:s"}, headers=analyst)
    name = re.fullmatch(
        r'attachment; filename="pulseboard-logs-start-(\w+)\.csv"',
        response.headers["Content-Disposition"],
    )
    end = datetime.strptime(name.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= end <= datetime.now(UTC)
    assert [r["message"] for r in rows_of("csv", response.data)] == ["past"]


def test_every_export_is_audited_when_it_starts_and_ends(app, client, accounts):
    runtime_of(app).logs.write([LogEntry(T0, "info", "s", "h", "only one")])
    name = accounts.user("analyst")
    account, _ = runtime_of(app).accounts.credentials(name)
    token = runtime_of(app).accounts.create_token(account.id, "export")[1]
    body = {**RANGE, "q": "only", "format": "json", "gzip": True}
    response = client.post(EXPORT, json=body, headers={"Authorization": f"Bearer {token}"})
    assert runtime_of(app).accounts.list_audit(action="logs.export.end") == []
    assert len(json.loads(gzip.decompress(response.data))) == 1  # the download ends
    end, start = runtime_of(app).accounts.list_audit(action="logs.")
    assert (start.action, end.action) == ("logs.export", "logs.export.end")
    assert start.actor == end.actor == name
    assert start.details == {
        "q": "only",
        "level": None,
        "source": None,
        "host": None,
        "from": "2026-11-28T10:00:00+00:00",
        "to": "2026-11-28T11:00:00+00:00",
        "format": "json",
        "gzip": True,
        "file": "pulseboard-logs-20261128T100000Z-20261128T110000Z.json.gz",
    }
    assert end.details == {**start.details, "rows": 1, "completed": True}


def test_analysts_and_admins_may_export_others_may_not(client, accounts, analyst):
    admin = {"Authorization": f"Bearer {accounts.token('admin')}"}
    assert client.post(EXPORT, json=RANGE, headers=admin).status_code == 200
    assert client.post(EXPORT, json=RANGE, headers=analyst).status_code == 200
    ingest = {"Authorization": f"Bearer {accounts.token('ingest')}"}
    refused = client.post(EXPORT, json=RANGE, headers=ingest)
    assert (refused.status_code, error_code(refused)) == (403, "forbidden")
    anonymous = client.post(EXPORT, json=RANGE)
    assert (anonymous.status_code, error_code(anonymous)) == (401, "unauthorized")


def test_a_browser_form_post_downloads_with_its_csrf_token(client, accounts, analyst):
    accounts.login(client, "analyst")
    form = {
        "q": "",
        "level": "",
        "from": str(RANGE["from"]),
        "to": str(RANGE["to"]),
        "format": "ndjson",
        "gzip": "on",
    }
    response = client.post(EXPORT, data={**form, "csrf_token": csrf_of(client)})
    assert response.status_code == 200
    assert len(rows_of("ndjson", gzip.decompress(response.data))) == 30
    forged = client.post(EXPORT, data=form)
    assert (forged.status_code, error_code(forged)) == (403, "csrf")
    wrong = client.post(EXPORT, data={**form, "csrf_token": "guess"})
    assert (wrong.status_code, error_code(wrong)) == (403, "csrf")
    bad = client.post(EXPORT, data={**form, "format": "xls", "csrf_token": csrf_of(client)})
    assert bad.status_code == 400
    assert "format" in bad.get_json()["error"]["fields"]


BAD_INPUT = [
    ({"format": "xml"}, "format"),
    ({"gzip": "maybe"}, "gzip"),
    ({"q": "level:loud"}, "q"),
    ({"q": '"unclosed'}, "q"),
    ({"q": "x" * 5000}, "q"),
    ({"q": "nul\x00byte"}, "q"),
    ({"q": 42}, "q"),
    ({"level": "loud"}, "level"),
    ({"source": "s" * 300}, "source"),
    ({"from": 200, "to": 100}, "from"),
    ({"from": 100, "to": 100}, "from"),
    ({"from": 4e9}, "from"),
    ({"from": "yesterday"}, "from"),
    ({"to": "NaN"}, "to"),
    ({"to": 1e300}, "to"),
    ({"limit": 10}, "limit"),
]


def test_bad_input_gets_400_naming_the_field(web, web_analyst):
    client = web.server.test_client()
    for body, field in BAD_INPUT:
        response = client.post(EXPORT, json=body, headers=web_analyst)
        assert response.status_code == 400, body
        assert field in response.get_json()["error"]["fields"], body


def test_bad_bodies_get_a_clear_4xx(web, web_analyst):
    client = web.server.test_client()

    def post(**kwargs):
        return client.post(EXPORT, headers=web_analyst, **kwargs)

    not_an_object = post(json=["csv"])
    assert not_an_object.status_code == 400
    assert "body" in not_an_object.get_json()["error"]["fields"]
    assert post(data="{", content_type="application/json").status_code == 400
    plain = post(data="format=csv", content_type="text/plain")
    assert (plain.status_code, error_code(plain)) == (415, "unsupported_media_type")
    assert post(json={"q": "x" * 100_000}).status_code == 413
    form = post(data={"from": "soon", "bogus": "1"})
    assert form.status_code == 400
    assert set(form.get_json()["error"]["fields"]) == {"from", "bogus"}


def test_the_export_is_in_the_openapi_document(web, web_analyst):
    document = web.server.test_client().get("/api/v1/openapi.json", headers=web_analyst)
    operation = document.get_json()["paths"][EXPORT]["post"]
    assert operation["x-roles"] == ["admin", "analyst"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/LogExportRequest"}


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_a_client_gone_halfway_hands_the_connection_back(app, client, accounts, fmt):
    rt = runtime_of(app)
    rt.logs.write([LogEntry(T0, "info", "s", "h", "z" * 1000) for _ in range(2000)])
    headers = {"Authorization": f"Bearer {accounts.token('analyst')}"}
    body = {**RANGE, "format": fmt, "gzip": True}
    response = client.post(EXPORT, json=body, headers=headers, buffered=False)
    next(iter(response.response))
    assert rt.engine.pool.checkedout() >= 1
    response.close()
    wait_until(lambda: rt.engine.pool.checkedout() == 0, 5)
    end = rt.accounts.list_audit(action="logs.export.end")[0]
    assert end.details["completed"] is False
    assert end.details["rows"] < 2000
    assert rt.logs.latest_id() >= 2000  # the pool's connections still work


# -- a real server, a large export ---------------------------------------------------------

LARGE_ROWS = 100_000
MESSAGE_BYTES = 600


def worker_rss(server) -> int:
    """Resident memory of the gunicorn worker that serves the app."""
    return sum(p.memory_info().rss for p in psutil.Process(server.pid).children())


def download(port: int, token: str, body: dict, server, stop_after: int | None = None):
    """Stream an export, sampling the server's memory; (bytes, peak RSS growth)."""
    base = worker_rss(server)
    peak, size = base, 0
    with requests.post(
        f"http://127.0.0.1:{port}{EXPORT}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        stream=True,
        timeout=60,
    ) as response:
        assert response.status_code == 200
        for i, chunk in enumerate(response.raw.stream(64 * 1024, decode_content=False)):
            size += len(chunk)
            if i % 8 == 0:
                peak = max(peak, worker_rss(server))
            if stop_after is not None and size >= stop_after:
                break
    return size, peak - base


def active_copies(engine) -> int:
    """COPY statements the server is running on the test database."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'active' AND query LIKE 'COPY (SELECT%'"
            )
        ).scalar_one()


def last_end_if_aborted(accounts: AccountStore):
    """The newest export end in the audit log, if it says the export did not complete."""
    [end] = accounts.list_audit(action="logs.export.end", limit=1)
    return None if end.details["completed"] else end


@pytest.mark.timeout(120)
def test_a_large_export_streams_with_flat_memory_and_stops_when_the_client_goes(tmp_path, pg_url):
    truncate_tables(pg_url)
    engine = create_engine(pg_url)
    with engine.begin() as conn:  # written by the server itself: the export is what is timed
        conn.execute(
            text(
                "INSERT INTO log_records (ts, level, source, host, message, attrs) "
                "SELECT :t0 + n * interval '1 millisecond', 'info', 'bench', 'web-1', "
                "n || ' ' || repeat('m', :size), '{\"n\":' || n || '}' "
                "FROM generate_series(1, :rows) AS n"
            ),
            {"t0": T0, "size": MESSAGE_BYTES, "rows": LARGE_ROWS},
        )
    accounts = AccountStore(engine)
    user = accounts.add_user("exporter", "analyst", hash_password("password-123"))
    token = accounts.create_token(user.id, "export")[1]
    server, port = start_server(tmp_path, "export", pg_url, PULSEBOARD_COLLECT_INTERVAL="5")
    try:
        everything = {**RANGE, "q": "source:bench"}
        download(port, token, {**everything, "to": T0.timestamp() + 1}, server)  # warm up
        data_size = LARGE_ROWS * MESSAGE_BYTES
        size, growth = download(port, token, everything, server)
        assert size > data_size
        assert growth < data_size / 3, f"CSV: worker grew {growth / 1e6:.1f} MB"

        size, growth = download(
            port, token, {**everything, "format": "ndjson", "gzip": True}, server
        )
        assert 0 < size < data_size / 10
        assert growth < data_size / 3, f"NDJSON gzip: worker grew {growth / 1e6:.1f} MB"

        download(port, token, everything, server, stop_after=1_000_000)
        wait_until(lambda: active_copies(engine) == 0, 10)
        end = wait_until(lambda: last_end_if_aborted(accounts), 10)
        assert end.details["format"] == "csv"
        assert end.details["rows"] < LARGE_ROWS
    finally:
        kill(server)
        engine.dispose()
