"""What the Logs page runs, on both backends: the search it composes, blocks of grid rows
read one after another or by a jump (every record exactly once, newest first, ties on the
time included), the histogram window a bar click gives, the record detail and the summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from app.services import FieldError, log_view, timerange
from storage.logquery import LEVELS, parse
from storage.logs import LogEntry
from tests.app.auth_helpers import csrf_of, login

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
NOW = T0.timestamp() + 7200
RECORDS = 1_050
TIES = 7
"""Records sharing each timestamp: groups of 7 straddle every edge of 100-row blocks."""
WINDOW = {"from": T0.timestamp(), "to": T0.timestamp() + 3600}
DASH_UPDATE = "/_dash-update-component"


@pytest.fixture
def rt(app):
    """The runtime of an app on each backend."""
    return app.server.extensions["pulseboard"]


@pytest.fixture
def loaded(rt):
    """1,050 records, seven to a timestamp, levels and sources taking turns."""
    rt.logs.write(
        [
            LogEntry(
                T0 + timedelta(seconds=i // TIES),
                LEVELS[i % len(LEVELS)],
                "api" if i % 2 else "worker",
                "web-1",
                f"record {i}",
            )
            for i in range(RECORDS)
        ]
    )
    return rt


def newest_first(numbers) -> list[str]:
    """The messages of records ``numbers`` in the grid's order: time, then id, descending
    (ids grow with the record number)."""
    ordered = sorted(numbers, key=lambda i: (i // TIES, i), reverse=True)
    return [f"record {i}" for i in ordered]


def search(text: str, levels=LEVELS, window=WINDOW) -> dict:
    """The page's search for ``text`` (Pulseboard's own logs left out) over ``window``."""
    return log_view.view(f"{text} -source:pulseboard", list(levels), None, window, NOW)


def read_all(rt, state: dict, block: int) -> tuple[list[dict], list[int | None], dict]:
    """Every row, block after block as the grid scrolls; the total each block reported
    and the cursors known at the end."""
    rows, totals, cursors = [], [], {}
    while not totals or totals[-1] is None:
        got, total, cursors = log_view.grid_block(rt, state, len(rows), len(rows) + block, cursors)
        rows += got
        totals.append(total)
    return rows, totals, cursors


def test_view_turns_levels_switched_off_into_negations():
    state = log_view.view("  timeout  ", ["critical", "error"], "1h", None, NOW)
    assert state["text"] == "timeout"
    assert state["q"] == "timeout -level:debug -level:info -level:warning"
    assert state["levels"] == ["error", "critical"]
    everything = log_view.view("", list(LEVELS), "1h", None, NOW)
    assert (everything["q"], everything["levels"]) == ("", list(LEVELS))


def test_a_preset_ends_now_and_a_window_is_used_as_given():
    for key, seconds in timerange.RANGES.items():
        state = log_view.view("", list(LEVELS), key, None, NOW)
        assert (state["from"], state["to"]) == (NOW - seconds, NOW), key
    default = log_view.view("", list(LEVELS), None, None, NOW)
    assert (default["from"], default["to"]) == (NOW - 3600, NOW)
    state = log_view.view("", list(LEVELS), "15m", {"from": 100.0, "to": 250.5}, NOW)
    assert (state["from"], state["to"]) == (100.0, 250.5)


@pytest.mark.parametrize(
    ("text", "position"),
    [("level:loud", 1), ('timeout "unclosed', 9), ("source:", 8), ("a" * 2001, 2001)],
)
def test_a_bad_query_names_q_and_the_position(text, position):
    with pytest.raises(FieldError) as refused:
        log_view.view(text, list(LEVELS), "1h", None, NOW)
    assert refused.value.field == "q"
    assert refused.value.message.endswith(f"(at character {position})")


@pytest.mark.parametrize(
    "text",
    [" ".join(["word"] * 48), "a" * 1995, "x\x00y"],
    ids=["terms", "length", "nul"],
)
def test_a_query_that_could_not_run_is_refused_up_front(text):
    # Typed text within the limits, plus one -level:x per level switched off, or a NUL
    # that PostgreSQL cannot compare, must not become a search that only fails later,
    # when the grid or the histogram runs it.
    with pytest.raises(FieldError) as refused:
        log_view.view(text, ["error", "critical"], "1h", None, NOW)
    assert refused.value.field == "q"


def test_blocks_read_one_after_another_give_every_record_once_newest_first(loaded):
    rows, totals, cursors = read_all(loaded, search(""), 100)
    assert [r["message"] for r in rows] == newest_first(range(RECORDS))
    assert len({r["id"] for r in rows}) == RECORDS
    assert totals == [None] * 10 + [RECORDS]
    assert sorted(map(int, cursors)) == [100 * n for n in range(1, 11)] + [RECORDS]


def test_levels_switched_off_leave_their_records_out_of_the_blocks(loaded):
    rows, totals, _ = read_all(loaded, search("", levels=["error", "critical"]), 100)
    wanted = [i for i in range(RECORDS) if LEVELS[i % len(LEVELS)] in ("error", "critical")]
    assert [r["message"] for r in rows] == newest_first(wanted)
    assert totals[-1] == len(wanted) == 420


def test_a_jump_to_a_far_block_gives_the_rows_reading_down_would(loaded):
    state = search("")
    everything, _, _ = read_all(loaded, state, 100)
    rows, total, cursors = log_view.grid_block(loaded, state, 700, 800, {})
    assert rows == everything[700:800]
    assert total is None
    assert set(cursors) == {"800"}
    # From the cursor the jump left, the next block continues by keyset.
    rows, total, _ = log_view.grid_block(loaded, state, 800, 900, cursors)
    assert rows == everything[800:900]
    # A jump past the cursors known starts from the nearest one and skips the rest.
    _, _, early = log_view.grid_block(loaded, state, 0, 100, {})
    rows, total, _ = log_view.grid_block(loaded, state, 1000, 1100, early)
    assert rows == everything[1000:]
    assert total == RECORDS


def test_records_sharing_a_timestamp_across_block_edges_are_neither_lost_nor_repeated(rt):
    same = T0 + timedelta(minutes=5)
    rt.logs.write([LogEntry(same, "info", "api", "h", f"tie {i}") for i in range(300)])
    rows, totals, _ = read_all(rt, search("tie"), 64)
    assert [r["message"] for r in rows] == [f"tie {i}" for i in range(299, -1, -1)]
    assert totals == [None] * 4 + [300]
    # A block ending exactly on the last record reports the total there and then.
    rows, totals, _ = read_all(rt, search("tie"), 100)
    assert (len(rows), totals) == (300, [None, None, 300])


def test_the_grid_remembers_only_the_furthest_cursors(loaded, monkeypatch):
    monkeypatch.setattr(log_view, "MAX_CURSORS", 3)
    state = search("")
    everything, _, cursors = read_all(loaded, state, 100)
    assert sorted(map(int, cursors)) == [900, 1000, RECORDS]
    # Back near the top, with its cursors forgotten, the rows are still the right ones.
    rows, _, _ = log_view.grid_block(loaded, state, 200, 300, cursors)
    assert rows == everything[200:300]


def test_an_empty_search_reports_no_rows_and_a_total_of_zero(loaded):
    assert log_view.grid_block(loaded, search("nothing-matches-this"), 0, 100, {}) == ([], 0, {})


def test_the_summary_adds_up_the_histogram(loaded):
    state = search("")
    data = log_view.level_histogram(loaded, state, NOW)
    assert data["step"] == 60
    assert log_view.summary(state, data) == (
        "1,050 matching records from 2026-03-01 08:00:00 to 2026-03-01 09:00:00 UTC"
    )
    one = {"from": T0.timestamp(), "to": T0.timestamp() + 1}
    assert log_view.summary(one, {"buckets": [{"level": "info", "count": 1}]}).startswith(
        "1 matching record from 2026-03-01 08:00:00 to 2026-03-01 08:00:01"
    )
    empty = log_view.summary(search("nothing-matches-this"), {"step": 60, "buckets": []})
    assert empty.startswith("0 matching records")


@pytest.mark.parametrize(
    "click",
    [
        None,
        {},
        {"points": []},
        {"points": [{"x": "2026-03-01 08:00:00", "y": 3}]},
        {"points": [{"customdata": "soon"}]},
        {"points": "x"},
        "clicked",
    ],
)
def test_a_click_beside_the_bars_or_a_forged_one_gives_no_window(click):
    assert log_view.window_from_bar(click, 60) is None


def test_a_bar_click_narrows_to_that_bar():
    start = T0.timestamp()
    click = {"points": [{"x": "2026-03-01 08:00:30", "y": 4, "customdata": start}]}
    assert log_view.window_from_bar(click, 60) == {"from": start, "to": start + 60}


def test_the_from_and_to_inputs_show_a_window_to_the_second():
    window = {"from": T0.timestamp(), "to": T0.timestamp() + 90.75}
    assert timerange.window_inputs(window) == ("2026-03-01T08:00:00", "2026-03-01T08:01:30")
    assert timerange.custom_window(*timerange.window_inputs(window)) == {
        "from": T0.timestamp(),
        "to": T0.timestamp() + 90,
    }
    with pytest.raises(FieldError) as refused:
        timerange.custom_window("2026-03-01T09:00:00", "2026-03-01T08:00:00")
    assert refused.value.field == "from"


def test_the_detail_keeps_the_message_and_indents_the_attributes():
    message = "<img src=x onerror=alert(1)>\n  Traceback (most recent call last):\n\tboom"
    row = {
        "id": 7,
        "ts": "2026-03-01T08:00:00+00:00",
        "level": "error",
        "source": "api",
        "host": "web-1",
        "message": message,
        "attrs": {"user": {"id": 42, "name": "Zoë"}, "html": "<script>alert(2)</script>"},
    }
    shown = log_view.detail(row)
    assert shown["message"] == message
    assert shown["attrs"] == (
        "{\n"
        '  "html": "<script>alert(2)</script>",\n'
        '  "user": {\n'
        '    "id": 42,\n'
        '    "name": "Zoë"\n'
        "  }\n"
        "}"
    )
    assert json.loads(shown["attrs"]) == row["attrs"]
    assert {k: shown[k] for k in ("id", "ts", "level", "source", "host")} == {
        k: row[k] for k in ("id", "ts", "level", "source", "host")
    }
    assert shown["time"] == "2026-03-01 08:00:00 UTC"
    assert shown["terms"] == {
        "source": "source:api",
        "host": "host:web-1",
        "attrs": [
            "attrs.html:<script>alert(2)</script>",
            "attrs.user.id:42",
            "attrs.user.name:Zoë",
        ],
    }
    assert log_view.detail({**row, "attrs": {}})["attrs"] == "{}"
    assert log_view.detail(None) is None
    assert log_view.detail("forged") is None


@pytest.mark.parametrize(
    ("start_row", "end_row", "field"),
    [
        (-100, 0, "startRow"),
        ("0", 100, "startRow"),
        (0, 0, "endRow"),
        (200, 100, "endRow"),
        (0, 1001, "endRow"),
        (0, None, "endRow"),
    ],
)
def test_a_block_the_grid_would_not_ask_for_is_refused(start_row, end_row, field):
    # Refused before the store is asked anything: there is no runtime to ask.
    with pytest.raises(FieldError) as refused:
        log_view.grid_block(None, search(""), start_row, end_row, {})
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("state", "cursors", "field"),
    [
        ({"q": "", "from": 0, "to": 60}, {"next": "1.0:1"}, "cursors"),
        ({"q": "", "from": 0, "to": 60}, {"100": "garbage"}, "cursors"),
        ({"q": "", "from": 0, "to": 60}, {"100": "1.0:0"}, "cursors"),
        ({"q": "", "from": 0, "to": 60}, {"100": 7}, "cursors"),
        ({"q": "", "from": 0, "to": 60}, ["1.0:1"], "cursors"),
        ({"q": '"unclosed', "from": 0, "to": 60}, {}, "q"),
        ({"q": 5, "from": 0, "to": 60}, {}, "view"),
        ({"from": 0, "to": 60}, {}, "view"),
        ({"q": "", "from": "soon", "to": 60}, {}, "view"),
        ({"q": "", "from": 0, "to": 1e300}, {}, "view"),
        ("q", {}, "view"),
    ],
)
def test_a_search_or_cursors_the_page_did_not_make_are_refused(state, cursors, field):
    with pytest.raises(FieldError) as refused:
        log_view.grid_block(None, state, 100, 200, cursors)
    assert refused.value.field == field


def test_a_forged_grid_request_gets_a_400_naming_the_field(app):
    client = login(app, "analyst")
    now = datetime.now(UTC).timestamp()
    view = {"q": "", "from": now - 3600, "to": now}
    read = {"key": f"|{now - 3600}|{now}", "rows": {}}

    def load(request, view=view, cursors=read) -> tuple[int, dict]:
        body = grid_request(app, request, view, cursors)
        answer = client.post(DASH_UPDATE, json=body, headers={"X-CSRFToken": csrf_of(client)})
        return answer.status_code, answer.get_json()

    def refused(answer: tuple[int, dict]) -> tuple[int, list[str]]:
        return answer[0], list(answer[1]["error"]["fields"])

    first = {"startRow": 0, "endRow": 100}
    status, body = load(first)
    assert status == 200
    assert body["response"]["logs-grid"]["getRowsResponse"]["rowCount"] is not None
    assert load(first, cursors=["not", "a", "store"])[0] == 200  # read from the top
    assert refused(load({"startRow": 0, "endRow": 10_000_000})) == (400, ["endRow"])
    assert refused(load({"endRow": 100})) == (400, ["startRow"])
    garbage = {**read, "rows": {"100": "garbage"}}
    assert refused(load({"startRow": 100, "endRow": 200}, cursors=garbage)) == (400, ["cursors"])
    assert refused(load(first, view={"from": 0, "to": 1})) == (400, ["view"])
    assert refused(load(first, view={**view, "q": "level:loud"})) == (400, ["q"])


def grid_request(app, request: dict, view: dict, cursors: dict) -> dict:
    """The body Dash sends when the Logs grid asks for a block of rows."""
    output = next(key for key in app.callback_map if "logs-grid.getRowsResponse" in key)
    return {
        "output": output,
        "outputs": [
            {"id": "logs-grid", "property": "getRowsResponse"},
            {"id": "logs-cursors", "property": "data"},
        ],
        "inputs": [{"id": "logs-grid", "property": "getRowsRequest", "value": request}],
        "changedPropIds": ["logs-grid.getRowsRequest"],
        "state": [
            {"id": "logs-view", "property": "data", "value": view},
            {"id": "logs-cursors", "property": "data", "value": cursors},
        ],
    }


@pytest.mark.parametrize(
    ("ts", "shown"),
    [
        ("2026-03-01T08:00:00+00:00", "2026-03-01 08:00:00 UTC"),
        ("2026-03-01T08:00:00.250000+00:00", "2026-03-01 08:00:00.250 UTC"),
        ("2026-03-01T10:00:00.000001+02:00", "2026-03-01 08:00:00.000 UTC"),
        ("2026-03-01T08:00:00", "2026-03-01 08:00:00 UTC"),
        ("not a time", "not a time"),
    ],
)
def test_the_detail_shows_the_time_readable_in_utc(ts, shown):
    assert log_view.readable_time(ts) == shown


@pytest.mark.parametrize(
    ("field", "value", "term"),
    [
        ("source", "api", "source:api"),
        ("host", "web 1", 'host:"web 1"'),
        ("attrs.path", 'say "hi"', 'attrs.path:"say \\"hi\\""'),
        ("attrs.dir", "C:\\logs\\x y", 'attrs.dir:"C:\\\\logs\\\\x y"'),
        ("attrs.flag", True, "attrs.flag:true"),
        ("attrs.n", 42, "attrs.n:42"),
        ("attrs.neg", "-1", "attrs.neg:-1"),
    ],
)
def test_a_clicked_value_becomes_a_term_matching_exactly_that_value(field, value, term):
    assert log_view.query_term(field, value) == term
    (parsed,) = parse(term).terms
    assert (parsed.field, parsed.op, parsed.value) == (field, ":", log_view._plain(value))
    record = {"source": "x", "host": "x", "attrs": {}}
    if field.startswith("attrs."):
        record["attrs"][field.removeprefix("attrs.")] = value
    else:
        record[field] = value
    assert parse(term).matches(record)


def test_only_attributes_a_term_can_name_are_offered():
    shown = log_view.detail(
        {
            "id": 1,
            "ts": "2026-03-01T08:00:00+00:00",
            "attrs": {"bad key": 1, "list": [1], "empty": "", "none": None, "a": {"b": 2.5}},
        }
    )
    assert shown["terms"]["attrs"] == ["attrs.a.b:2.5"]


def test_a_term_is_added_once():
    assert log_view.add_term("", "source:api") == "source:api"
    assert log_view.add_term("  timeout ", "source:api") == "timeout source:api"
    assert log_view.add_term("timeout source:api", "source:api") == "timeout source:api"
    assert log_view.add_term(None, 'host:"web 1"') == 'host:"web 1"'


def test_surrounding_lines_are_those_of_the_same_host_and_source_around_the_record(rt):
    middle = T0 + timedelta(minutes=30)
    near = [middle + timedelta(seconds=s) for s in (-290, -60, 0, 60, 290)]
    rt.logs.write(
        [LogEntry(ts, "info", "api", "web-1", f"near {i}") for i, ts in enumerate(near)]
        + [
            LogEntry(middle, "error", "api", "web-2", "other host"),
            LogEntry(middle, "debug", "worker", "web-1", "other source"),
            LogEntry(middle - timedelta(seconds=310), "info", "api", "web-1", "too early"),
            LogEntry(middle + timedelta(seconds=301), "info", "api", "web-1", "too late"),
        ]
    )
    record = {"id": 3, "ts": middle.isoformat(), "host": "web-1", "source": "api"}
    text, window = log_view.surrounding(record)
    assert text == "host:web-1 source:api"
    assert window == {"from": middle.timestamp() - 300, "to": middle.timestamp() + 300}
    state = log_view.view(text, list(LEVELS), None, window, NOW)
    rows, _, _ = log_view.grid_block(rt, state, 0, 100, {})
    assert [r["message"] for r in rows] == [f"near {i}" for i in reversed(range(5))]
    assert log_view.surrounding(None) is None
    assert log_view.surrounding({"ts": "garbage"}) is None
