"""The table writer every page download uses: CSV as the log export writes it, JSON in
column order, chunks of bounded size, and a row count that is true when a client leaves."""

from __future__ import annotations

import csv
import io
import json

import pytest

from app.services.downloads import Table, file_name, utc_iso
from storage.log_export import CHUNK_BYTES

COLUMNS = ("name", "labels", "ts", "value", "note")
ROWS = [
    {
        "name": "a",
        "labels": {"z": "1", "b": "2"},
        "ts": "2026-11-28T10:00:00Z",
        "value": 1.5,
        "note": None,
    },
    {
        "name": 'say "hi", bye',
        "labels": {},
        "ts": "2026-11-28T10:00:00.25Z",
        "value": 2,
        "note": "line\r\nbreak",
    },
    {"name": "", "labels": {"k": "v"}, "ts": "2026-11-28T10:00:01Z", "value": True, "note": "x"},
]


def test_csv_has_a_header_quotes_as_rfc_4180_and_writes_json_values_canonically():
    body = b"".join(Table("csv", COLUMNS, ROWS)).decode()
    assert body.splitlines()[0] == "name,labels,ts,value,note"
    assert body.splitlines()[1] == 'a,"{""b"":""2"",""z"":""1""}",2026-11-28T10:00:00Z,1.5,""'
    assert '"say ""hi"", bye",{},2026-11-28T10:00:00.25Z,2,"line\r\nbreak"' in body
    assert body.endswith('\n"","{""k"":""v""}",2026-11-28T10:00:01Z,true,x\n')
    read = list(csv.DictReader(io.StringIO(body, newline="")))
    assert [r["name"] for r in read] == [r["name"] for r in ROWS]


def test_json_is_one_array_of_objects_in_column_order():
    body = b"".join(Table("json", COLUMNS, ROWS)).decode()
    assert json.loads(body) == ROWS
    assert body.startswith('[\n{"name":"a","labels":{"b":"2","z":"1"},"ts":')
    assert b"".join(Table("json", COLUMNS, [])) == b"[\n]\n"
    assert b"".join(Table("csv", COLUMNS, [])) == b"name,labels,ts,value,note\n"


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_large_table_streams_in_bounded_chunks_and_counts_what_was_handed_out(fmt):
    rows = ({**ROWS[0], "note": f"row {i} " + "x" * 200} for i in range(2000))
    table = Table(fmt, COLUMNS, rows)
    chunks = iter(table)
    first = next(chunks)
    assert CHUNK_BYTES <= len(first) < CHUNK_BYTES + 1000
    sent = table.rows
    assert 0 < sent < 2000
    rest = list(chunks)
    assert len(rest) > 2 and table.rows == 2000
    assert max(len(c) for c in rest) < CHUNK_BYTES + 1000


def test_file_names_say_what_and_when():
    assert file_name("metrics-cpu/../x y", 1795860000, 1795863600.5, "csv") == (
        "pulseboard-metrics-cpu_.._x_y-20261128T100000Z-20261128T110000Z.csv"
    )
    assert file_name("audit", None, 1795863600, "json") == (
        "pulseboard-audit-start-20261128T110000Z.json"
    )
    assert utc_iso(1795860000.25) == "2026-11-28T10:00:00.25Z"
