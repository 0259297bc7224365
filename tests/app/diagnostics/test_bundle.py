"""The postmortem bundle: a valid tar.gz whose every member parses and holds the window's
data, streamed, audited, and usable by readers only."""

from __future__ import annotations

import csv
import io
import json
import os
import tarfile
import time
from datetime import UTC, datetime

from app.services.diagnostics.bundle import tar_gz
from storage.logs import LogEntry
from tests.app.alert_helpers import firing, stored_rule
from tests.app.auth_helpers import bearer, make_token, runtime_of

BUNDLE = "/api/v1/admin/diagnostics/bundle"


def test_the_bundle_is_a_tar_gz_whose_members_parse_and_it_is_audited(app, client):
    rt = runtime_of(app)
    now = time.time()
    firing(rt, stored_rule(rt), "web-1", ts=now - 200)
    rt.logs.write(
        [
            LogEntry(datetime.fromtimestamp(now - 100, UTC), "error", "api", "web-1", "boom 1"),
            LogEntry(datetime.fromtimestamp(now - 90, UTC), "info", "api", "web-1", "fine"),
            LogEntry(datetime.fromtimestamp(now - 80, UTC), "critical", "api", "web-1", "down"),
        ]
    )
    client.post(
        "/api/v1/admin/annotations",
        json={"title": "deploy", "ts": now - 150},
        headers=bearer(make_token(app, "ingest")),
    )
    answer = client.get(
        BUNDLE,
        query_string={"from": now - 600, "to": now + 10},
        headers=bearer(make_token(app, "analyst")),
    )
    assert answer.status_code == 200
    assert answer.content_type == "application/gzip"
    disposition = answer.headers["Content-Disposition"]
    assert "pulseboard-diagnostics-" in disposition and disposition.endswith('.tar.gz"')

    with tarfile.open(fileobj=io.BytesIO(answer.get_data()), mode="r:gz") as archive:
        files = {m.name: archive.extractfile(m).read().decode() for m in archive.getmembers()}
    assert set(files) == {
        "README.txt",
        "timeline.json",
        "changes.json",
        "changes.csv",
        "annotations.json",
        "alert_history.csv",
        "error_groups.csv",
        "error_logs.ndjson",
    }
    assert all(name in files["README.txt"] for name in files if name != "README.txt")
    timeline = json.loads(files["timeline.json"])
    assert {"alert", "annotation"} <= {e["kind"] for e in timeline["events"]}
    assert json.loads(files["changes.json"]) == []
    assert [a["title"] for a in json.loads(files["annotations.json"])] == ["deploy"]
    history = list(csv.DictReader(io.StringIO(files["alert_history.csv"])))
    assert [h["event"] for h in history] == ["pending", "firing"]
    assert files["error_groups.csv"].startswith("fingerprint,title,")
    logs = [json.loads(line) for line in files["error_logs.ndjson"].splitlines()]
    assert [r["message"] for r in logs] == ["boom 1", "down"]

    started, ended = (
        rt.accounts.list_audit(action=a)[0]
        for a in ("diagnostics.bundle", "diagnostics.bundle.end")
    )
    assert started.details["files"][0] == "timeline.json"
    assert ended.details["completed"] is True and ended.details["rows"] == 7


def test_an_ingest_token_cannot_take_a_bundle(make_app):
    app = make_app()
    answer = app.server.test_client().get(BUNDLE, headers=bearer(make_token(app, "ingest")))
    assert answer.status_code == 403


def test_a_member_larger_than_the_spool_streams_in_many_chunks():
    big = os.urandom(3 * 1024 * 1024 + 7)  # incompressible
    chunks = list(tar_gz([("big.bin", [big[:1000], big[1000:]]), ("small.txt", [b"hi"])], 0))
    assert len(chunks) > 1
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks)), mode="r:gz") as archive:
        assert archive.extractfile("big.bin").read() == big
        assert archive.extractfile("small.txt").read() == b"hi"
