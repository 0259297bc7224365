"""Log archives in the app: the list and download API, who may use it, hostile names,
the ``pulseboard logs`` commands and the leader's archive job."""

from __future__ import annotations

import gzip
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from app.services import log_archive
from storage.logquery import Query
from storage.logs import LogEntry

ARCHIVES = "/api/v1/admin/logs/archives"
NOW = datetime.now(UTC)
OLD_DAY = (NOW - timedelta(days=20)).date()
OLD_NAME = f"logs-{OLD_DAY.isoformat()}.ndjson.gz"


def old_and_new() -> list[LogEntry]:
    """Three records of a day 20 days ago and one of today."""
    start = datetime.combine(OLD_DAY, datetime.min.time(), UTC)
    return [
        LogEntry(start + timedelta(hours=1), "error", "api", "web-1", "old ünïcødé 错误"),
        LogEntry(start + timedelta(hours=2), "info", "worker", "web-2", "old two", {"n": 2}),
        LogEntry(start + timedelta(hours=3), "warning", "api", "web-1", "old three"),
        LogEntry(NOW - timedelta(minutes=5), "info", "api", "web-1", "recent"),
    ]


def messages(rt) -> list[str]:
    return [r.message for r in rt.logs.stream(Query()) if r.source != "pulseboard"]


@pytest.fixture
def rt(app):
    """The app's runtime with one old day archived and one recent record kept."""
    runtime = app.server.extensions["pulseboard"]
    runtime.logs.write(old_and_new())
    log_archive.archive_expired(runtime.settings, runtime.logs)
    return runtime


@pytest.fixture
def analyst(accounts) -> dict:
    """Headers of an analyst's token."""
    return {"Authorization": f"Bearer {accounts.token('analyst')}"}


def test_the_list_shows_each_archive_with_its_download_url(client, rt, analyst):
    assert messages(rt) == ["recent"]
    items = client.get(ARCHIVES, headers=analyst).get_json()["items"]
    path = rt.settings.data_dir / "archives" / OLD_NAME
    assert items == [
        {
            "name": OLD_NAME,
            "day": OLD_DAY.isoformat(),
            "part": 0,
            "size": path.stat().st_size,
            "records": 3,
            "sha256": items[0]["sha256"],
            "created": items[0]["created"],
            "url": f"{ARCHIVES}/{OLD_NAME}",
        }
    ]
    assert datetime.fromisoformat(items[0]["created"]) > NOW - timedelta(minutes=1)
    assert log_archive.list_archives(rt) == items


def test_a_download_is_the_file_as_an_audited_gzip_attachment(client, rt, analyst):
    response = client.get(f"{ARCHIVES}/{OLD_NAME}", headers=analyst)
    assert response.status_code == 200
    assert response.content_type == "application/gzip"
    assert "Content-Encoding" not in response.headers
    assert response.headers["Content-Disposition"] == f"attachment; filename={OLD_NAME}"
    assert response.data == (rt.settings.data_dir / "archives" / OLD_NAME).read_bytes()
    lines = gzip.decompress(response.data).decode().splitlines()
    assert [json.loads(line)["message"] for line in lines] == [
        "old ünïcødé 错误",
        "old two",
        "old three",
    ]
    entry = rt.accounts.list_audit(action="logs.archive.download")[0]
    assert (entry.target, entry.details) == (OLD_NAME, {"records": 3, "size": len(response.data)})


BAD_NAMES = [
    "../secret_key",
    "..%2F..%2Fsecret_key",
    "%2E%2E/pulseboard.db",
    "logs-2026-01-01.ndjson.gz%00",
    "logs-%EF%BC%92026-01-01.ndjson.gz",  # a fullwidth digit
    "logs-2026-01-01.ndjson.gz.json",
    "logs-2026-02-30.ndjson.gz",
    "%ff%fe",
    ".lock",
    "x" * 5000,
]


def test_a_bad_or_unknown_name_is_refused_naming_the_field(client, rt, analyst):
    cases = [(name, 400) for name in BAD_NAMES] + [
        ("logs-1999-01-01.ndjson.gz", 404),
        ("logs-1999-01-01.7.ndjson.gz", 404),
    ]
    for name, status in cases:
        response = client.get(f"{ARCHIVES}/{name}", headers=analyst)
        assert response.status_code == status, name
        assert "name" in response.get_json()["error"]["fields"], name
    # A newline matches no route at all: Flask's own 404, as JSON.
    response = client.get(f"{ARCHIVES}/logs-2026-01-01.ndjson.gz%0A", headers=analyst)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_a_link_in_the_archive_directory_is_never_followed(client, rt, analyst):
    link = rt.settings.data_dir / "archives" / "logs-2000-01-01.ndjson.gz"
    link.symlink_to(rt.settings.data_dir / "secret_key")
    assert client.get(f"{ARCHIVES}/{link.name}", headers=analyst).status_code == 404
    names = [i["name"] for i in client.get(ARCHIVES, headers=analyst).get_json()["items"]]
    assert names == [OLD_NAME]


def test_archives_are_for_readers_only(client, rt, accounts):
    ingest = {"Authorization": f"Bearer {accounts.token('ingest')}"}
    admin = {"Authorization": f"Bearer {accounts.token('admin')}"}
    for path in (ARCHIVES, f"{ARCHIVES}/{OLD_NAME}"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=ingest).status_code == 403
        assert client.get(path, headers=admin).status_code == 200


def test_both_endpoints_are_in_the_openapi_document(client, analyst):
    paths = client.get("/api/v1/openapi.json", headers=analyst).get_json()["paths"]
    listing = paths[ARCHIVES]["get"]
    assert listing["x-roles"] == ["admin", "analyst"]
    schema = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/LogArchiveList"}
    download = paths[ARCHIVES + "/{name}"]["get"]
    assert {"400", "404"} <= set(download["responses"])
    assert download["parameters"][0]["name"] == "name"


def test_the_archive_job_runs_on_the_leader_only(app, caplog):
    rt = app.server.extensions["pulseboard"]
    job = next(j for j in rt.scheduler.jobs if j.name == "log-archive")
    assert job.interval == log_archive.ARCHIVE_CHECK_INTERVAL <= 3600
    rt.logs.write(old_and_new())
    rt.scheduler.is_leader = False
    assert rt.scheduler.run_job(job) is None
    assert len(messages(rt)) == 4
    rt.scheduler.is_leader = True
    with caplog.at_level(logging.INFO, logger="app.services.log_archive"):
        written = rt.scheduler.run_job(job)
    assert [(a["name"], a["records"]) for a in written] == [(OLD_NAME, 3)]
    assert messages(rt) == ["recent"]
    assert f"archived 3 log records of {OLD_DAY} to {OLD_NAME}" in caplog.text
    assert rt.scheduler.status["log-archive"].last_ok is True
    assert rt.scheduler.run_job(job) == []  # nothing more until another day passes


# -- the command line ------------------------------------------------------------------------


@pytest.fixture
def cli(app, database_url: str, tmp_path: Path):
    """Runs ``pulseboard`` against the app's database and data dir."""
    runner = CliRunner()
    env = {"PULSEBOARD_DATA_DIR": str(tmp_path), "PULSEBOARD_DATABASE_URL": database_url}
    return lambda *args: runner.invoke(main, list(args), env=env)


def test_cli_archive_then_restore_brings_the_records_back(app, cli, tmp_path):
    rt = app.server.extensions["pulseboard"]
    rt.logs.write(old_and_new())
    archived = cli("logs", "archive")
    assert archived.exit_code == 0, archived.output
    assert f"{OLD_NAME}: 3 records" in archived.stdout
    assert messages(rt) == ["recent"]
    assert cli("logs", "archive").stdout.startswith("no records older than 14 days")

    restored = cli("logs", "restore", str(tmp_path / "archives" / OLD_NAME))
    assert restored.exit_code == 0, restored.output
    assert f"restored 3 records from {OLD_NAME}" in restored.stdout
    assert "older than the log retention (14 days)" in restored.stderr
    assert sorted(messages(rt)) == ["old three", "old two", "old ünïcødé 错误", "recent"]
    actions = [e.action for e in rt.accounts.list_audit(actor="cli")]
    assert actions == ["logs.restore", "logs.archive"]


def test_cli_restore_refuses_a_missing_or_corrupt_file(app, cli, tmp_path):
    rt = app.server.extensions["pulseboard"]
    missing = cli("logs", "restore", str(tmp_path / "nope.ndjson.gz"))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    corrupt = tmp_path / "corrupt.ndjson.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00 definitely not deflate")
    result = cli("logs", "restore", str(corrupt))
    assert result.exit_code == 1
    assert "not restored: corrupt.ndjson.gz: not a valid gzip file" in result.stderr
    stranger = tmp_path / "stranger.ndjson.gz"
    stranger.write_bytes(gzip.compress(b'{"hello": "world"}\n'))
    result = cli("logs", "restore", str(stranger))
    assert result.exit_code == 1 and "line 1: ts is not a string" in result.stderr
    assert messages(rt) == []


def test_cli_archive_says_when_it_cannot_write(app, cli, tmp_path):
    rt = app.server.extensions["pulseboard"]
    rt.logs.write(old_and_new())
    (tmp_path / "archives").write_text("a file where the directory should be")
    result = cli("logs", "archive")
    assert result.exit_code == 1
    assert "archiving failed, no records deleted" in result.stderr
    assert len(messages(rt)) == 4
