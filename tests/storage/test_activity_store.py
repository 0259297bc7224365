"""The activity history store on both backends: write, read a range, trim."""

from __future__ import annotations

from storage.diagnostics.activity import ActivityStore


def remembered(pid: int, **overrides) -> dict:
    """A session as the activity collector hands it to the store."""
    return {
        "pid": pid,
        "state": "active",
        "wait_event_type": "Lock",
        "wait_event": "relation",
        "query_s": 3.5,
        "xact_s": None,
        "blocked_by": [7],
        "usename": "app",
        "application_name": "web",
        "client_addr": "10.0.0.1",
        "query": "UPDATE t SET n = 1",
        **overrides,
    }


def test_sessions_read_back_by_target_and_range_newest_first_and_old_ones_trimmed(engine):
    store = ActivityStore(engine)
    assert store.write("db:5432/a", 100.0, [remembered(1), remembered(2, blocked_by=[])]) == 2
    store.write("db:5432/a", 200.0, [remembered(1, state="x" * 100)])
    store.write("db:5432/b", 150.0, [remembered(3)])
    assert store.write("db:5432/a", 300.0, []) == 0

    rows = store.read("db:5432/a", 0, 1000)
    assert [(r["ts"], r["pid"]) for r in rows] == [(200.0, 1), (100.0, 1), (100.0, 2)]
    assert rows[1]["blocked_by"] == [7] and rows[2]["blocked_by"] == []
    assert rows[1]["username"] == "app" and rows[1]["client"] == "10.0.0.1"
    assert len(rows[0]["state"]) == 32  # cut to its column
    assert [r["pid"] for r in store.read("db:5432/a", 150, 250)] == [1]
    assert len(store.read("db:5432/a", 0, 1000, limit=1)) == 1

    assert store.trim(before=150.0) == 2
    assert [r["ts"] for r in store.read("db:5432/a", 0, 1000)] == [200.0]
    assert [r["pid"] for r in store.read("db:5432/b", 0, 1000)] == [3]
