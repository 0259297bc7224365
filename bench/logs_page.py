"""The Logs page's search end to end (the Dash requests for its first two grid blocks and
its histogram: auth, queries, rows, figure, JSON) vs the same store queries alone, over
the last day of millions of records on PostgreSQL (quick: a week of fewer)."""

from __future__ import annotations

import json
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from app import create_app
from app.services.log_search import build_query
from app.services.log_view import HISTOGRAM_BUCKETS, view
from app.settings import Settings
from bench.common import HOST, Result, compared, paired_rounds
from bench.dash_calls import dash_request, reader_client
from bench.logs_data import RARE_WORD, log_database
from storage.logquery import LEVELS
from storage.logs import encode_cursor

TARGET = "<= 1.5x"
BLOCK = 100
SPAN = 86400
"""Seconds the searches cover, up to the newest record."""
SHAPES = (("every record", ""), ("substring", RARE_WORD))
"""(label, query text) of the searches timed, every level switched on."""


def _block(app, search: dict, start_row: int, cursors: dict) -> dict:
    """The Dash request for rows ``start_row`` on of the grid, ``cursors`` known."""
    values = {
        "logs-grid.getRowsRequest": {"startRow": start_row, "endRow": start_row + BLOCK},
        "logs-view.data": search,
        "logs-cursors.data": cursors,
    }
    return dash_request(app, "logs-grid.getRowsResponse", values, "logs-grid.getRowsRequest")


def _histogram(app, search: dict) -> dict:
    values = {"logs-view.data": search, "theme-store.data": "light"}
    return dash_request(app, "logs-histogram.figure", values, "logs-view.data")


def run(quick: bool = False) -> list[Result]:
    """Median time of one search as the page loads it, ours and the queries alternating."""
    repeats = 3 if quick else 15
    results = []
    with log_database(quick) as db, tempfile.TemporaryDirectory(prefix="bench_logs_") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=db.url,
            redis_url=None,
            secret_key=secrets.token_urlsafe(16),
            admin_password="bench-password-1",
            start_scheduler=False,
            hostname=HOST,
        )
        app = create_app(settings)
        rt = app.server.extensions["pulseboard"]
        call = reader_client(app)
        end = db.end.timestamp()
        # Quick: the whole week, so that the rare word still fills two blocks.
        span = end - db.start.timestamp() if quick else SPAN
        window = {"from": end - span, "to": end}
        try:
            for label, text in SHAPES:
                search = view(text, list(LEVELS), None, window, time.time())
                query = build_query(search["q"], None, None, None)
                start_dt = datetime.fromtimestamp(window["from"], UTC)
                end_dt = datetime.fromtimestamp(window["to"], UTC)
                first = rt.logs.search(query, start=start_dt, end=end_dt, limit=BLOCK)
                cursor = encode_cursor(first.records[-1])
                first_block = _block(app, search, 0, {})
                answer = json.loads(call(first_block))["response"]
                cursors = answer["logs-cursors"]["data"]["rows"]
                requests = [
                    first_block,
                    _block(app, search, BLOCK, cursors),
                    _histogram(app, search),
                ]
                if cursors != {str(BLOCK): cursor}:
                    raise RuntimeError(f"{label}: the page's cursor is not the store's")

                def ours(requests=requests) -> list[bytes]:
                    return [call(body) for body in requests]

                def baseline(query=query, start=start_dt, end=end_dt, cursor=cursor) -> tuple:
                    return (
                        rt.logs.search(query, start=start, end=end, limit=BLOCK),
                        rt.logs.search(query, start=start, end=end, cursor=cursor, limit=BLOCK),
                        rt.logs.histogram(query, start, end, HISTOGRAM_BUCKETS),
                    )

                size = sum(len(body) for body in ours())
                results.append(
                    compared(
                        f"logs page search, {label}",
                        paired_rounds(ours, baseline, repeats),
                        TARGET,
                        f"logs_page: {db.total:,} records; the Dash requests of a search over "
                        f"the last {span / 3600:g} h ({search['q']!r}): grid blocks 0-{BLOCK} and "
                        f"{BLOCK}-{2 * BLOCK} and the histogram ({size / 1024:,.0f} KiB) vs "
                        f"LogStore.search twice (the second from the first's cursor) and "
                        f"LogStore.histogram; median of {repeats} alternating rounds",
                    )
                )
        finally:
            rt.close()
    return results
