"""The embeddable live tail: /embed/logs with a session or a ``?token=``, bad and hostile
input, the query-string token accepted on the tail's two paths only, the WebSocket's
Origin check, frame-ancestors from the settings, and the page in Chromium."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from html import escape
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import websocket
from dash.testing.composite import DashComposite
from dash.testing.wait import until
from werkzeug.serving import make_server

from storage.logquery import parse
from storage.logs import LogEntry
from tests.app.auth_helpers import login, make_token, runtime_of

EMBED = "/embed/logs"
STREAM = "/api/v1/admin/logs/stream"
ALLOWED = ("https://intranet.example", "https://wiki.example:8443")
HOSTILE_Q = r'"\"><script>alert(1)</script>"'
"""A query that parses (one quoted phrase) and would close the attribute it is put in."""

EMBED_ROWS = """
return Array.from(document.querySelectorAll('#embed-rows tr')).map(function (tr) {
  return Array.from(tr.children).map(function (td) { return td.textContent; });
});
"""


@pytest.fixture
def embed_app(make_app):
    """An app (SQLite, in-process bus) that allows two other origins."""
    return make_app(allowed_origins=ALLOWED)


@pytest.fixture
def served(embed_app):
    """``embed_app`` behind a real threaded HTTP server; its ws:// base URL."""
    server = make_server("127.0.0.1", 0, embed_app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"ws://127.0.0.1:{server.server_port}"
    server.shutdown()


def write(app, *messages: str, level: str = "info") -> None:
    """Store records from source ``test``, now."""
    runtime_of(app).logs.write(
        [LogEntry(datetime.now(UTC), level, "test", "web-1", m) for m in messages]
    )


def embed(client, **args):
    """GET /embed/logs with these query-string arguments."""
    return client.get(EMBED, query_string=args)


def test_a_logged_in_reader_gets_the_page_uncached(embed_app):
    response = embed(login(embed_app, "analyst"), q="level>=warning", backlog="20", theme="dark")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'data-q="level&gt;=warning"' in page
    assert 'data-backlog="20"' in page and 'data-token=""' in page
    assert 'data-theme="dark"' in page
    assert '<script src="/assets/embed-logs.js">' in page


def test_a_token_in_the_query_string_opens_the_page_without_a_session(embed_app):
    token = make_token(embed_app, "analyst")
    response = embed(embed_app.server.test_client(), token=token)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert f'data-token="{token}"' in page  # the page's script opens the tail with it
    assert 'data-backlog="100"' in page and 'data-theme="light"' in page
    assert '<span id="embed-title">all logs</span>' in page


def test_anonymous_visitors_are_sent_to_log_in(embed_app):
    response = embed(embed_app.server.test_client(), q="level:error")
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == "/login"
    assert parse_qs(target.query)["next"] == ["/embed/logs?q=level:error"]


@pytest.mark.parametrize("token", ["pb_not-a-real-token", "x" * 500])
def test_an_unknown_token_is_no_login(embed_app, token):
    response = embed(embed_app.server.test_client(), token=token)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_an_ingest_token_is_refused(embed_app):
    response = embed(embed_app.server.test_client(), token=make_token(embed_app, "ingest"))
    assert response.status_code == 403
    assert "embed-tail" not in response.get_data(as_text=True)


BAD_ARGUMENTS = [
    ({"q": 'timeout "unclosed'}, "q: a quote is not closed (at character 9)"),
    ({"q": "level:loud"}, "q: unknown level 'loud'"),
    ({"q": "a" * 2001}, "q: query longer than 2000 characters (at character 2001)"),
    ({"q": "x\x00y"}, "q: must not contain NUL characters"),
    ({"backlog": "lots"}, "backlog: must be a whole number"),
    ({"backlog": "1.5"}, "backlog: must be a whole number"),
    ({"backlog": "-1"}, "backlog: must be between 0 and 1000"),
    ({"backlog": "1001"}, "backlog: must be between 0 and 1000"),
    ({"backlog": "9" * 40}, "backlog: must be between 0 and 1000"),
    ({"theme": "neon"}, "theme: must be light or dark"),
]


def test_bad_arguments_get_a_400_naming_the_field(embed_app):
    client = login(embed_app, "analyst")
    for args, expected in BAD_ARGUMENTS:
        response = embed(client, **args)
        assert response.status_code == 400, args
        assert escape(expected) in response.get_data(as_text=True), args


def test_a_hostile_query_is_escaped_in_the_page(embed_app):
    client = login(embed_app, "analyst")
    page = embed(client, q=HOSTILE_Q).get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert f'data-q="{escape(HOSTILE_Q)}"' in page
    assert f'<span id="embed-title">{escape(HOSTILE_Q)}</span>' in page
    # The 400 page quotes the bad value back: escaped too.
    refused = embed(client, q="level:<script>alert(1)</script>")
    assert refused.status_code == 400
    assert "<script>alert(1)" not in refused.get_data(as_text=True)
    assert "&lt;script&gt;" in refused.get_data(as_text=True)


def test_a_token_in_the_query_string_counts_nowhere_else(embed_app):
    client = embed_app.server.test_client()
    token = make_token(embed_app, "admin")
    for path in ("/api/v1/admin/me", "/api/v1/admin/logs", "/api/v1/admin/monitoring/health"):
        response = client.get(path, query_string={"token": token})
        assert response.status_code == 401, path
        assert response.get_json()["error"]["code"] == "unauthorized"
        # The same token in the header is good there (health may say 503: no scheduler).
        in_header = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert in_header.status_code in (200, 503), path
    for path in ("/logs", "/embed"):
        response = client.get(path, query_string={"token": token})
        assert response.status_code == 302, path
        assert urlsplit(response.headers["Location"]).path == "/login"


def test_frame_ancestors_lists_the_allowed_origins(embed_app, make_app):
    response = embed(embed_app.server.test_client(), token=make_token(embed_app, "analyst"))
    policy = dict(
        part.strip().split(" ", 1)
        for part in response.headers["Content-Security-Policy"].split(";")
    )
    assert policy["frame-ancestors"] == "'self' https://intranet.example https://wiki.example:8443"
    assert "'unsafe-inline'" not in policy["script-src"]
    closed = make_app()  # no other origins allowed
    response = embed(closed.server.test_client(), token=make_token(closed, "analyst"))
    assert response.headers["Content-Security-Policy"].endswith("frame-ancestors 'self'")


def test_the_console_itself_is_never_framed_by_the_allowed_origins(embed_app):
    client = embed_app.server.test_client()
    for path in ("/login", "/logs", "/healthz"):
        csp = client.get(path).headers["Content-Security-Policy"]
        assert csp.endswith("frame-ancestors 'self'"), path


def tail(base: str, query: dict, **options):
    """Open the live tail with ``query`` as its query string."""
    return websocket.create_connection(f"{base}{STREAM}?{urlencode(query)}", timeout=10, **options)


def receive_until_ready(ws) -> list[dict]:
    """The backlog, up to the ``ready`` message."""
    records = []
    while (message := json.loads(ws.recv()))["type"] != "ready":
        records.append(message)
    return records


def test_the_tail_takes_its_token_from_the_query_string(embed_app, served):
    write(embed_app, "backlog line")
    token = make_token(embed_app, "analyst")
    ws = tail(served, {"token": token, "q": "-source:pulseboard", "backlog": 5})
    assert [m["message"] for m in receive_until_ready(ws)] == ["backlog line"]
    write(embed_app, "<img src=x onerror=alert(1)>")
    assert json.loads(ws.recv())["message"] == "<img src=x onerror=alert(1)>"
    ws.close()


@pytest.mark.parametrize(
    ("token", "status"),
    [(None, 401), ("pb_not-a-real-token", 401), ("ingest", 403)],
    ids=["none", "unknown", "ingest"],
)
def test_the_tail_is_refused_without_a_reader_token(embed_app, served, token, status):
    if token == "ingest":
        token = make_token(embed_app, "ingest")
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        tail(served, {} if token is None else {"token": token})
    assert refused.value.status_code == status


def test_a_foreign_origin_is_refused_and_an_allowed_one_is_not(embed_app, served):
    token = make_token(embed_app, "analyst")
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        tail(served, {"token": token}, origin="https://evil.example")
    assert refused.value.status_code == 403
    for origin in (*ALLOWED, served.replace("ws://", "http://")):
        ws = tail(served, {"token": token, "backlog": 0}, origin=origin)
        assert receive_until_ready(ws) == [], origin
        ws.close()


@pytest.mark.browser
def test_the_embedded_tail_appends_new_lines_as_text(dash_duo: DashComposite, embed_app):
    dash_duo.start_server(embed_app, navigate=False)
    driver = dash_duo.driver
    driver.get(dash_duo.server.url + EMBED)
    dash_duo.wait_for_element("#login-submit", timeout=10)  # no session in this browser

    write(embed_app, "first line")
    token = make_token(embed_app, "analyst")
    query = urlencode({"token": token, "q": "-source:pulseboard", "backlog": 10})
    driver.get(f"{dash_duo.server.url}{EMBED}?{query}")
    assert urlsplit(driver.current_url).path == EMBED
    dash_duo.wait_for_text_to_equal("#embed-status", "live", timeout=10)
    until(lambda: messages(dash_duo) == ["first line"], 10, msg="the backlog is not shown")

    hostile = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    write(embed_app, hostile, "<b>not bold</b>", level="error")
    until(
        lambda: messages(dash_duo) == ["first line", hostile, "<b>not bold</b>"],
        10,
        msg="new lines are not appended",
    )
    row = rows(dash_duo)[1]
    assert (row[1], row[2], row[3]) == ("error", "test", "web-1")
    assert dash_duo.find_elements("#embed-rows img, #embed-rows script, #embed-rows b") == []

    dash_duo.find_element("#embed-pause").click()
    write(embed_app, "held line")
    until(lambda: dash_duo.find_element("#embed-pause").text == "Resume (1)", 5)
    assert "held line" not in messages(dash_duo)
    dash_duo.find_element("#embed-pause").click()
    until(lambda: messages(dash_duo)[-1] == "held line", 5, msg="resume shows no held line")

    # The token travelled in URLs: none of Pulseboard's own log lines kept it.
    rt = runtime_of(embed_app)
    rt.log_handler.flush()
    assert rt.logs.search(parse(f'"{token}"')).records == []
    assert dash_duo.get_logs() == []


def rows(dash_duo: DashComposite) -> list[list[str]]:
    """The embedded tail's rows, as the text of their cells."""
    return dash_duo.driver.execute_script(EMBED_ROWS)


def messages(dash_duo: DashComposite) -> list[str]:
    """The message cell of every row of the embedded tail."""
    return [row[-1] for row in rows(dash_duo)]
