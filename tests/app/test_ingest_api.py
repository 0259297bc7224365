"""POST /api/v1/logs on both backends: formats, defaults, all-or-nothing validation, limits,
roles and a saturated writer. Rows are read back from ``log_records`` (Pulseboard's own
logs, source ``pulseboard``, are left out of every count)."""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from storage.logs import MAX_MESSAGE
from tests.app.auth_helpers import bearer, error_code, login, make_token, runtime_of

URL = "/api/v1/logs"
NDJSON = "application/x-ndjson"


def ndjson(records: list) -> bytes:
    """One JSON document a line."""
    return b"\n".join(json.dumps(r).encode() for r in records) + b"\n"


def stored(app) -> list[dict]:
    """Ingested rows (not Pulseboard's own logs), in arrival order."""
    with runtime_of(app).engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ts, level, source, host, message, attrs FROM log_records "
                "WHERE source <> 'pulseboard' ORDER BY id"
            )
        ).mappings()
        return [{**row, "attrs": json.loads(row["attrs"])} for row in rows]


def as_utc(ts) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive UTC text)."""
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


@pytest.fixture
def ingest(app):
    """Post a body with an ingest token: ``ingest(body, content_type, **headers)``."""
    headers = bearer(make_token(app, "ingest"))
    client = app.server.test_client()

    def post(body: bytes | str, content_type: str = NDJSON, **extra: str):
        return client.post(
            URL, data=body, headers={**headers, "Content-Type": content_type, **extra}
        )

    return post


def test_ndjson_is_stored_and_answered_after_the_commit(app, ingest):
    now = datetime.now(UTC).replace(microsecond=0)
    records = [
        {
            "ts": now.isoformat(),
            "level": "ERROR",
            "message": "disk full",
            "source": "web",
            "host": "web-1",
            "attrs": {"user_id": 42, "path": "/x"},
        },
        {"ts": now.timestamp() - 60, "level": "warn", "message": "slow"},
        {"message": "third", "level": "Fatal"},
    ]
    response = ingest(ndjson(records))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"accepted": 3}
    rows = stored(app)  # read right after the answer: already committed
    assert len(rows) == 3
    assert [r["level"] for r in rows] == ["error", "warning", "critical"]
    first = rows[0]
    assert as_utc(first["ts"]) == now
    assert (first["source"], first["host"], first["message"]) == ("web", "web-1", "disk full")
    assert first["attrs"] == {"user_id": 42, "path": "/x"}
    assert as_utc(rows[1]["ts"]) == now - timedelta(seconds=60)


def test_defaults_fill_what_a_record_leaves_out(app, ingest):
    before = datetime.now(UTC)
    response = ingest(b'{"message": "only a message"}\n\n')
    assert response.status_code == 200, response.get_json()
    (row,) = stored(app)
    assert row["level"] == "info" and row["source"] == "api"
    assert row["host"] == "127.0.0.1"  # the caller's address
    assert row["attrs"] == {}
    assert before - timedelta(seconds=1) <= as_utc(row["ts"]) <= datetime.now(UTC)


def test_a_json_array_is_accepted(app, ingest):
    body = json.dumps([{"message": f"m{i}", "level": "debug"} for i in range(5)])
    response = ingest(body, "application/json; charset=utf-8")
    assert response.status_code == 200 and response.get_json() == {"accepted": 5}
    assert [r["message"] for r in stored(app)] == [f"m{i}" for i in range(5)]


def test_gzip_bodies_are_decompressed(app, ingest):
    body = gzip.compress(ndjson([{"message": f"zipped {i}"} for i in range(100)]))
    response = ingest(body, **{"Content-Encoding": "gzip"})
    assert response.status_code == 200 and response.get_json() == {"accepted": 100}
    assert len(stored(app)) == 100
    array = gzip.compress(json.dumps([{"message": "a"}]).encode())
    response = ingest(array, "application/json", **{"Content-Encoding": "gzip"})
    assert response.status_code == 200 and len(stored(app)) == 101


def test_the_accepted_count_equals_the_rows_stored(app, ingest):
    total = 0
    for size in (1, 250, 2000):
        response = ingest(ndjson([{"message": f"r{i}", "attrs": {"i": i}} for i in range(size)]))
        assert response.status_code == 200
        total += response.get_json()["accepted"]
        assert len(stored(app)) == total
    assert total == 2251


def test_a_long_message_is_cut_by_the_store_at_64_kib(app, ingest):
    message = "x" * (MAX_MESSAGE + 5000)
    response = ingest(ndjson([{"message": message}]))
    assert response.status_code == 200
    (row,) = stored(app)
    assert len(row["message"]) == MAX_MESSAGE
    assert row["attrs"]["truncated_from"] == MAX_MESSAGE + 5000


def test_hostile_text_is_stored_safely(app, ingest):
    records = [
        {"message": "nul \u0000 inside", "source": "s\u0000rc"},
        {"message": "lone \ud800 surrogate", "attrs": {"k": "\u0000\ud800"}},
        {"message": "<img src=x onerror=alert(1)>", "attrs": {"deep": {"a": [1, {"b": None}]}}},
    ]
    response = ingest(ndjson(records))
    assert response.status_code == 200, response.get_json()
    rows = stored(app)
    assert rows[0]["message"] == "nul \ufffd inside" and rows[0]["source"] == "s\ufffdrc"
    assert rows[1]["message"] == "lone \ufffd surrogate"
    assert rows[2]["message"] == "<img src=x onerror=alert(1)>"


def test_records_in_less_usual_forms_are_read_as_the_usual_ones(app, ingest):
    now = datetime.now(UTC).replace(microsecond=0)
    usual = json.dumps({"message": "usual", "level": "info", "ts": now.isoformat()})
    unusual = [
        '{"message": "shouted", "level": "WARN"}',
        '{"message": "padded", "level": " Info "}',
        '{"message": "alias", "level": "Crit"}',
        '{"message": "wide", "source": "\\u65e5\\u672c", "host": "h\\u00f4te"}',
        '{"message": "the value is NaN, not Infinity", "attrs": {"note": "NaN"}}',
        '{"message": "huge", "attrs": {"x": 1e400}}',
        f'{{"message": "numeric text", "ts": " {now.timestamp():.0f} "}}',
    ]
    lines = [usual, *unusual, usual]
    for body, content_type in (
        ("\n".join(lines), NDJSON),
        ("[" + ",".join(lines) + "]", "application/json"),
    ):
        response = ingest(body, content_type)
        assert response.status_code == 200, response.get_json()
    rows = stored(app)
    assert len(rows) == 2 * len(lines)
    for batch in (rows[: len(lines)], rows[len(lines) :]):
        assert [r["message"] for r in batch] == [json.loads(line)["message"] for line in lines]
        assert [r["level"] for r in batch[1:4]] == ["warning", "info", "critical"]
        assert (batch[4]["source"], batch[4]["host"]) == ("\u65e5\u672c", "h\u00f4te")
        assert batch[5]["attrs"] == {"note": "NaN"}
        assert batch[6]["attrs"] == {"x": None}
        assert as_utc(batch[7]["ts"]) == now


# -- refused batches: nothing is stored -----------------------------------------------------

BAD_LINES = [
    ("{not json", "not valid JSON"),
    ('{"level": "info"}', "message: required"),
    ('{"message": 5}', "message: must be a string"),
    ('{"message": "m", "level": "loud"}', "level: unknown 'loud'"),
    ('{"message": "m", "ts": "2099-01-01T00:00:00Z"}', "minutes in the future"),
    ('{"message": "m", "ts": "1990-01-01T00:00:00Z"}', "older than the log retention (14 days)"),
    ('{"message": "m", "ts": "yesterday"}', "ts: expected an ISO 8601 time or epoch seconds"),
    ('{"message": "m", "ts": NaN}', "not valid JSON"),
    ('{"message": "m", "attrs": [1, 2]}', "attrs: must be a JSON object"),
    ('{"message": "m", "attrs": "x"}', "attrs: must be a JSON object"),
    ('{"message": "m", "source": 7}', "source: must be a string"),
    ('{"message": "m", "host": "' + "h" * 201 + '"}', "host: longer than 200 characters"),
    ("[1, 2]", "not a JSON object"),
    ('{"message": "m", "level": ""}', "level: unknown ''"),
    ('{"message": "m", "source": "  "}', "source: must not be empty"),
    ('{"message": "m", "host": "\\u001c"}', "host: must not be empty"),
    ('{"message": "m", "ts": true}', "ts: expected an ISO 8601 time or epoch seconds"),
    ('{"message": "m", "attrs": {"x": NaN}}', "not valid JSON"),
    ("[" * 100_000, "not valid JSON"),
]


@pytest.mark.parametrize(("line", "reason"), BAD_LINES, ids=[r for _, r in BAD_LINES])
def test_one_bad_line_refuses_the_whole_batch_and_names_it(app, ingest, line, reason):
    good = '{"message": "fine"}'
    body = "\n".join([good, good, line, good]).encode()
    response = ingest(body)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["line 3"]
    assert reason in error["fields"]["line 3"]
    assert stored(app) == []


def test_several_bad_lines_are_named_and_the_report_is_capped(app, ingest):
    lines = ['{"message": "ok"}'] * 3 + ["oops"] + ['{"message": "m", "level": "loud"}']
    response = ingest("\n".join(lines).encode())
    fields = response.get_json()["error"]["fields"]
    assert fields == {"line 4": "not valid JSON", "line 5": fields["line 5"]}
    assert fields["line 5"].startswith("level: unknown 'loud'")
    many = "\n".join(["bad"] * 500).encode()
    error = ingest(many).get_json()["error"]
    assert len(error["fields"]) == 20 and "500 bad record(s)" in error["message"]
    assert stored(app) == []


def test_a_json_array_names_bad_records_and_refuses_non_arrays(app, ingest):
    body = json.dumps([{"message": "ok"}, {"message": "m", "ts": 4_000_000_000}])
    response = ingest(body, "application/json")
    assert response.status_code == 400
    assert list(response.get_json()["error"]["fields"]) == ["record 2"]
    response = ingest('{"message": "not in an array"}', "application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["fields"] == {"body": "expected a JSON array of records"}
    response = ingest('[{"message": "x"}', "application/json")
    assert response.status_code == 400
    assert "not valid JSON" in response.get_json()["error"]["fields"]["body"]
    assert ingest("[]", "application/json").status_code == 400
    assert ingest(b"\n\n").status_code == 400
    assert stored(app) == []


def test_other_content_types_and_encodings_are_415(app, ingest):
    body = ndjson([{"message": "m"}])
    for content_type in ("text/plain", "application/x-www-form-urlencoded", ""):
        response = ingest(body, content_type)
        assert response.status_code == 415, content_type
        assert error_code(response) == "unsupported_media_type"
    response = ingest(body, **{"Content-Encoding": "br"})
    assert response.status_code == 415
    response = ingest(b"not gzip at all", **{"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert response.get_json()["error"]["fields"] == {"body": "not valid gzip data"}
    truncated = gzip.compress(body)[:-12]
    assert ingest(truncated, **{"Content-Encoding": "gzip"}).status_code == 400
    assert stored(app) == []


def test_a_body_over_the_configured_size_is_413(make_app, database_url):
    app = make_app(database_url=database_url, ingest_max_bytes=64 * 1024)
    headers = {**bearer(make_token(app, "ingest")), "Content-Type": NDJSON}
    client = app.server.test_client()
    big = ndjson([{"message": "y" * 70 * 1024}])
    response = client.post(URL, data=big, headers=headers)
    assert response.status_code == 413 and error_code(response) == "too_large"
    # A zip bomb: small on the wire, far larger than allowed once inflated.
    bomb = gzip.compress(b'{"message": "' + b"A" * (50 * 1024 * 1024) + b'"}\n')
    assert len(bomb) < 64 * 1024
    response = client.post(URL, data=bomb, headers={**headers, "Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "Decompressed body" in response.get_json()["error"]["message"]
    assert stored(app) == []


def test_a_ten_megabyte_message_is_over_the_default_limit(app, ingest):
    response = ingest(ndjson([{"message": "z" * (10 * 1024 * 1024)}]))
    assert response.status_code == 413 and error_code(response) == "too_large"
    assert stored(app) == []


def test_too_many_records_in_one_batch_is_413(app, ingest):
    body = b'{"message":"m"}\n' * 50_001
    response = ingest(body)
    assert response.status_code == 413 and error_code(response) == "too_many_records"
    assert "at most 50000" in response.get_json()["error"]["message"]
    array = json.dumps([{"message": "m"}] * 50_001)
    assert ingest(array, "application/json").status_code == 413
    assert stored(app) == []


def test_a_saturated_writer_answers_429_with_retry_after(app, ingest):
    slots = runtime_of(app).ingest_slots
    held = 0
    while slots.acquire(blocking=False):
        held += 1
    assert held == 4
    try:
        started = time.monotonic()
        response = ingest(ndjson([{"message": "m"}]))
        assert time.monotonic() - started < 2  # refused at once, not queued
        assert response.status_code == 429 and error_code(response) == "busy"
        assert response.headers["Retry-After"] == "1"
        assert stored(app) == []
    finally:
        for _ in range(held):
            slots.release()
    assert ingest(ndjson([{"message": "m"}])).status_code == 200


# -- who may ingest -------------------------------------------------------------------------


def test_only_ingest_and_admin_may_post_logs(app):
    body = ndjson([{"message": "who"}])
    client = app.server.test_client()
    response = client.post(URL, data=body, content_type=NDJSON)
    assert response.status_code == 401 and error_code(response) == "unauthorized"
    analyst = bearer(make_token(app, "analyst"))
    response = client.post(URL, data=body, content_type=NDJSON, headers=analyst)
    assert response.status_code == 403 and error_code(response) == "forbidden"
    for role in ("ingest", "admin"):
        headers = bearer(make_token(app, role))
        response = client.post(URL, data=body, content_type=NDJSON, headers=headers)
        assert response.status_code == 200, role
    session = login(app, "analyst")
    assert session.post(URL, data=body, content_type=NDJSON).status_code == 403
    assert len(stored(app)) == 2


def test_the_operation_is_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    op = doc["paths"]["/api/v1/logs"]["post"]
    assert "NDJSON" in op["summary"]
    assert op["x-roles"] == ["ingest", "admin"]
    assert {"400", "413", "415", "429"} <= set(op["responses"])
    assert "LogRecordIn" in doc["components"]["schemas"]
