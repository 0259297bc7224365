"""GET /diagnostics/activity and cancel/terminate against a real lock on a watched database."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from app.services.diagnostics.activity import blocking_forest
from collectors.pg_activity import Session
from collectors.postgres import target_name
from tests.app.auth_helpers import bearer, error_code, make_token, runtime_of
from tests.conftest import wait_until
from tests.pg_locks import fresh_database, lock_scene
from tests.services import pg_admin_url

ACTIVITY = "/api/v1/admin/diagnostics/activity"


@pytest.fixture(scope="module")
def watched() -> Iterator[str]:
    """A monitored database of this module's own."""
    with fresh_database(pg_admin_url()) as url:
        yield url


@pytest.fixture
def watching(make_app, watched):
    """An app on an SQLite store watching ``watched``; its admin and analyst headers."""
    app = make_app(monitor_postgres=(watched,))
    return app, bearer(make_token(app, "admin")), bearer(make_token(app, "analyst"))


def session(pid: int, blocked_by: list[int], state: str = "active") -> Session:
    return Session(
        pid, "db", "u", "", "", state, "", "", "client backend", 1.0, 2.0, 1.0, "q", blocked_by
    )


def test_the_forest_puts_root_blockers_on_top_and_each_waiter_once_under_its_first_blocker():
    sessions = [
        session(1, [], "idle in transaction"),
        session(2, [1]),
        session(3, [1, 2]),
        session(4, [3]),
        session(5, []),
        session(7, [8]),  # a deadlock caught before PostgreSQL broke it
        session(8, [7]),
    ]
    forest = blocking_forest(sessions)
    assert [tree["pid"] for tree in forest] == [1, 7]
    first = forest[0]
    assert first["duration_s"] == 2.0  # the transaction's age: what holds the locks
    assert [n["pid"] for n in first["blocked"]] == [2, 3]
    assert first["blocked"][1]["blocked_by"] == [1, 2]
    assert [n["pid"] for n in first["blocked"][1]["blocked"]] == [4]
    assert [n["pid"] for n in forest[1]["blocked"]] == [8]


def test_the_tree_shows_the_holder_as_root_with_both_waiters_under_it(watching, watched):
    app, _, analyst = watching
    with lock_scene(watched) as scene:
        body = app.server.test_client().get(ACTIVITY, headers=analyst).get_json()
    assert body["database"] == target_name(watched)
    [tree] = [t for t in body["blocking"] if t["pid"] == scene.holder_pid]
    assert tree["state"] == "idle in transaction"
    assert sorted(n["pid"] for n in tree["blocked"]) == sorted(w.pid for w in scene.waiters)
    assert {n["query"] for n in tree["blocked"]} == {w.query for w in scene.waiters}
    assert all(n["blocked"] == [] for n in tree["blocked"])
    waiter = next(s for s in body["sessions"] if s["pid"] == scene.waiters[0].pid)
    assert waiter["blocked_by"] == [scene.holder_pid] and waiter["wait_event_type"] == "Lock"


def test_an_admin_cancels_a_waiter_and_terminates_the_holder_and_both_are_audited(
    watching, watched
):
    app, admin, analyst = watching
    client = app.server.test_client()
    with lock_scene(watched) as scene:
        first, second = scene.waiters
        for action in ("cancel", "terminate"):
            refused = client.post(f"{ACTIVITY}/{scene.holder_pid}/{action}", headers=analyst)
            assert refused.status_code == 403
        canceled = client.post(f"{ACTIVITY}/{first.pid}/cancel", headers=admin)
        assert canceled.status_code == 200, canceled.get_json()
        assert canceled.get_json()["delivered"] is True
        wait_until(first.done.is_set, 10)
        assert isinstance(first.error, psycopg.errors.QueryCanceled)
        assert not second.done.is_set()  # still waiting for the holder

        ended = client.post(f"{ACTIVITY}/{scene.holder_pid}/terminate", headers=admin)
        assert ended.status_code == 200 and ended.get_json()["action"] == "terminate"
        with pytest.raises(psycopg.OperationalError):
            scene.holder.execute("SELECT 1")
        wait_until(second.done.is_set, 10)
        assert second.error is None  # the lock went with the holder's session
    audit = runtime_of(app).accounts.list_audit(action="diagnostics.activity.")
    by_action = {entry.action: entry.details for entry in audit}
    assert by_action["diagnostics.activity.cancel"] == {
        "database": target_name(watched),
        "pid": first.pid,
        "query": first.query,
        "result": "delivered",
    }
    terminate = by_action["diagnostics.activity.terminate"]
    assert terminate["pid"] == scene.holder_pid and terminate["result"] == "delivered"
    assert terminate["query"] == "LOCK TABLE pb_locked IN ACCESS EXCLUSIVE MODE"


def test_a_pid_that_is_not_a_backend_id_is_refused_naming_pid(watching):
    app, admin, _ = watching
    client = app.server.test_client()
    for pid in ("abc", "-1", "0", "99999999999", "1.5"):
        response = client.post(f"{ACTIVITY}/{pid}/cancel", headers=admin)
        assert response.status_code == 400, pid
        assert "pid" in response.get_json()["error"]["fields"], pid


def test_unknown_databases_pulseboards_own_backends_and_gone_pids_are_refused(watching, watched):
    app, admin, analyst = watching
    client = app.server.test_client()
    unknown = client.get(f"{ACTIVITY}?database=nowhere:5432/x", headers=analyst)
    assert unknown.status_code == 404 and "database" in unknown.get_json()["error"]["fields"]
    blank = client.get(f"{ACTIVITY}?database=", headers=analyst)
    assert blank.status_code == 400 and "database" in blank.get_json()["error"]["fields"]
    backwards = client.get(f"{ACTIVITY}?from=2000&to=1000", headers=analyst)
    assert backwards.status_code == 400 and "from" in backwards.get_json()["error"]["fields"]
    dsn = watched.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, application_name="pulseboard") as pool_connection:
        own = client.post(f"{ACTIVITY}/{pool_connection.info.backend_pid}/terminate", headers=admin)
        assert (
            own.status_code == 403
            and "Pulseboard's own" in own.get_json()["error"]["fields"]["pid"]
        )
        assert pool_connection.execute("SELECT 1").fetchone() == (1,)
    gone = client.post(f"{ACTIVITY}/2147483647/cancel", headers=admin)
    assert gone.status_code == 404 and "pid" in gone.get_json()["error"]["fields"]
    results = [
        e.details["result"]
        for e in runtime_of(app).accounts.list_audit(action="diagnostics.activity.")
    ]
    assert results[0] == "no_such_backend" and results[1].startswith("refused")


def test_without_a_monitored_postgresql_the_answer_says_what_to_set(make_app):
    app = make_app()
    response = app.server.test_client().get(ACTIVITY, headers=bearer(make_token(app, "analyst")))
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert "PULSEBOARD_MONITOR_POSTGRES" in response.get_json()["error"]["message"]


def test_the_sessions_and_history_download_as_csv_and_json(watching, watched):
    app, _, analyst = watching
    client = app.server.test_client()
    with lock_scene(watched) as scene:
        csv = client.get(f"{ACTIVITY}/export?format=csv", headers=analyst)
        remember = next(j for j in runtime_of(app).scheduler.jobs if j.name == "activity-history")
        remember.fn()
    assert csv.status_code == 200 and "attachment" in csv.headers["Content-Disposition"]
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[0].startswith("pid,datname,usename")
    assert any(line.startswith(f"{scene.holder_pid},") for line in lines[1:])
    history = client.get(f"{ACTIVITY}/export?format=json&table=history", headers=analyst)
    assert history.status_code == 200
    remembered = {row["pid"]: row for row in json.loads(history.get_data())}
    assert remembered[scene.waiters[0].pid]["blocked_by"] == [scene.holder_pid]
    bad = client.get(f"{ACTIVITY}/export?table=locks", headers=analyst)
    assert bad.status_code == 400 and "table" in bad.get_json()["error"]["fields"]
    exports = runtime_of(app).accounts.list_audit(action="diagnostics.activity.export")
    assert len(exports) == 2  # and their .end entries
