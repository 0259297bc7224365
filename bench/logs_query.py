"""First page (100 newest) of four query shapes over millions of log records:
``LogStore.search`` in the query language vs hand-written SQL on the same indexes."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import psycopg

from bench.common import Result, paired_medians, psycopg_dsn
from bench.logs_data import RARE_WORD, log_database
from storage.db import make_engine
from storage.logquery import parse
from storage.logs import LogStore

LIMIT = 100
TARGET = "ratio <= 1.5"
# What one would write by hand: the page plus one row to know whether another follows.
HAND_SQL = (
    "SELECT id, ts, level, source, host, message, attrs FROM log_records WHERE {where} "
    f"ORDER BY ts DESC, id DESC LIMIT {LIMIT + 1}"
)
SHAPES = (
    # label, query text, time range?, hand-written condition, its parameters
    ("time range only", "", True, "ts >= %s AND ts < %s", ()),
    (
        "level + source",
        "level:error source:api",
        False,
        "level = %s AND source = %s",
        ("error", "api"),
    ),
    ("substring", RARE_WORD, False, "message ILIKE %s", (f"%{RARE_WORD}%",)),
    (
        "negation",
        "-level:info -source:api",
        False,
        "level <> %s AND source <> %s",
        ("info", "api"),
    ),
)


def run(quick: bool = False) -> list[Result]:
    """Median first-page times of each shape, ours and hand-written alternating."""
    repeats = 3 if quick else 31
    results = []
    with log_database(quick) as db:
        engine = make_engine(db.url)
        store = LogStore(engine)
        window = (db.start + timedelta(days=3), db.start + timedelta(days=3, hours=6))
        with psycopg.connect(psycopg_dsn(db.url), autocommit=True) as raw:
            for label, text, ranged, where, params in SHAPES:
                start, end = window if ranged else (None, None)
                ours = partial(store.search, parse(text), start=start, end=end, limit=LIMIT)
                sql = HAND_SQL.format(where=where)
                baseline = partial(raw.execute, sql, window if ranged else params)
                wanted = [row[0] for row in baseline().fetchall()[:LIMIT]]
                if [r.id for r in ours().records] != wanted or len(wanted) < LIMIT:
                    raise RuntimeError(f"{label}: ours and the hand-written SQL disagree")
                mine, theirs = paired_medians(ours, lambda b=baseline: b().fetchall(), repeats)
                shown = f"{text!r}" + (" from/to 6 h" if ranged else "")
                results.append(
                    Result(
                        f"log search first page, {label}",
                        mine * 1000,
                        theirs * 1000,
                        "ms",
                        TARGET,
                        f"{db.total:,} records; LogStore.search({shown}) vs psycopg "
                        f"'... WHERE {where} ORDER BY ts DESC, id DESC LIMIT {LIMIT + 1}'; "
                        f"median of {repeats}, alternating",
                    )
                )
        engine.dispose()
    return results
