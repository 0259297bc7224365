"""One error vocabulary: services raise domain errors, ``app/api/errors.py`` alone turns
each into an HTTP status, headers and the JSON shape (and a WebSocket error frame with a
close code); what counts as "the database is unreachable" on each backend."""

from __future__ import annotations

import json
import sqlite3
import threading

import psycopg
import pytest
import websocket
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from werkzeug.serving import make_server

from app.api.errors import from_service_error
from app.services import (
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    Saturated,
    TooLarge,
    TooManyRecords,
    Unavailable,
    UnsupportedMedia,
    database_unreachable,
)
from tests.conftest import Accounts
from tests.services import free_port


@pytest.mark.parametrize(
    ("error", "status", "code", "retry_after"),
    [
        (FieldError("q", "must not be empty"), 400, "invalid", None),
        (Invalid("2 bad record(s)", {"line 1": "not valid JSON"}), 400, "invalid", None),
        (Forbidden("only admins manage users"), 403, "forbidden", None),
        (NotFound("no user 7"), 404, "not_found", None),
        (Conflict("user 'a' exists already"), 409, "conflict", None),
        (TooLarge("Request body larger than 10 bytes."), 413, "too_large", None),
        (TooManyRecords("60000 records in one batch"), 413, "too_many_records", None),
        (
            UnsupportedMedia("NDJSON only.", {"body": "xml"}),
            415,
            "unsupported_media_type",
            None,
        ),
        (Saturated("The log writer is saturated.", 1), 429, "busy", "1"),
        (Unavailable("The database is unavailable.", 7), 503, "unavailable", "7"),
    ],
)
def test_each_domain_error_answers_with_one_status_code_and_headers(
    error, status, code, retry_after
):
    answer = from_service_error(error)
    assert (answer.status, answer.code) == (status, code)
    assert answer.headers.get("Retry-After") == retry_after
    body = answer.body()["error"]
    assert body["code"] == code and body["message"]
    assert body.get("fields") == error.fields


def test_a_field_error_names_its_field_and_keeps_its_own_words():
    error = FieldError("backlog", "must be between 0 and 1000")
    assert (error.field, error.message, str(error)) == (
        "backlog",
        "must be between 0 and 1000",
        "backlog: must be between 0 and 1000",
    )
    assert from_service_error(error).body() == {
        "error": {
            "code": "invalid",
            "message": "Invalid parameter: backlog",
            "fields": {"backlog": "must be between 0 and 1000"},
        }
    }


# -- what "the database is unreachable" means ----------------------------------------------


def test_a_locked_sqlite_database_is_unreachable_but_a_bad_statement_is_a_bug(tmp_path):
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, timeout=0, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as locked:
        other.execute("INSERT INTO t VALUES (1)")
    assert database_unreachable(locked.value)
    for statement in ("SELEC 1", "SELECT * FROM missing"):
        with pytest.raises(sqlite3.OperationalError) as bug:
            other.execute(statement)
        assert not database_unreachable(bug.value), statement
    holder.close()
    other.close()


def test_a_postgresql_server_that_does_not_answer_is_unreachable():
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(psycopg.OperationalError) as raw:
        psycopg.connect(url.replace("+psycopg", ""), connect_timeout=2)
    assert database_unreachable(raw.value)
    engine = create_engine(url, connect_args={"connect_timeout": 2})
    with pytest.raises(OperationalError) as wrapped:
        engine.connect()
    assert database_unreachable(wrapped.value)
    engine.dispose()


def test_a_postgresql_statement_error_is_a_bug_not_an_outage(pg_url):
    engine = create_engine(pg_url)
    with pytest.raises(ProgrammingError) as bug, engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    assert not database_unreachable(bug.value)
    engine.dispose()


# -- WebSockets ----------------------------------------------------------------------------


def test_a_bad_tail_query_gets_an_invalid_frame_and_a_policy_close(make_app):
    app = make_app()
    token = Accounts(app).token("analyst")
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{server.server_port}/api/v1/admin/logs/stream?backlog=-1",
            timeout=10,
            header=[f"Authorization: Bearer {token}"],
        )
        frame = json.loads(ws.recv())
        assert frame["type"] == "error" and frame["code"] == "invalid"
        assert set(frame["fields"]) == {"backlog"}
        opcode, payload = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(payload[:2], "big") == 1008
        ws.close()
    finally:
        server.shutdown()
