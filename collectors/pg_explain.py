"""EXPLAIN of one statement on a watched database, under a short statement_timeout, in a
READ ONLY transaction that is always rolled back: the JSON plan and the text plan.

Only one SELECT, WITH, INSERT, UPDATE or DELETE is explained. ANALYZE runs the statement,
so it is refused for anything that writes (a read-only transaction would refuse it at run
time anyway; saying why up front is clearer). A normalised statement with ``$1``
placeholders, as pg_stat_statements shows it, can only be planned by PostgreSQL 16 and
later (``EXPLAIN (GENERIC_PLAN)``); on older servers the caller pastes values in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from collectors.pg_connection import connect

EXPLAIN_TIMEOUT_MS = 5000
"""How long an EXPLAIN (ANALYZE) may run before the server cancels it."""
GENERIC_PLAN_VERSION = 160000
"""The first ``server_version_num`` with ``EXPLAIN (GENERIC_PLAN)``."""
KINDS = ("select", "with", "insert", "update", "delete")
WRITES = ("insert", "update", "delete", "merge")

# Comments, quoted strings, quoted identifiers and dollar-quoted bodies: what a keyword or
# a semicolon inside of is not one.
_HIDDEN = re.compile(
    r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(\$[A-Za-z_]*\$).*?\1", re.S
)
_WORD = re.compile(r"[A-Za-z_]+")
_PARAM = re.compile(r"\$\d+")


class Refused(Exception):
    """The statement is not one this explains; the message says why."""


@dataclass(frozen=True)
class Plan:
    """The plans of one statement and how they were made."""

    plan: list
    text: str
    analyze: bool
    generic: bool
    server_version: int


def _visible(query: str) -> str:
    """``query`` with comments, strings and quoted names blanked out."""
    return _HIDDEN.sub(" ", query)


def inspect(query: str, analyze: bool) -> bool:
    """Check ``query`` is one statement this explains; return whether it has ``$n``
    placeholders. Refused says what is wrong."""
    visible = _visible(query).strip().rstrip(";").strip()
    if not visible:
        raise Refused("is empty: paste one SELECT, WITH, INSERT, UPDATE or DELETE statement")
    if ";" in visible:
        raise Refused("holds more than one statement: explain one at a time")
    words = [w.lower() for w in _WORD.findall(visible)]
    if not words or words[0] not in KINDS:
        raise Refused("must be a SELECT, WITH, INSERT, UPDATE or DELETE statement")
    if analyze and any(w in WRITES for w in words):
        raise Refused(
            "writes data: EXPLAIN ANALYZE runs the statement, so it is never done for "
            "INSERT, UPDATE, DELETE or MERGE; use EXPLAIN without ANALYZE"
        )
    return bool(_PARAM.search(visible))


def explain(conninfo: str, query: str, analyze: bool) -> Plan:
    """The plan of ``query`` at ``conninfo`` (run, when ``analyze``, and rolled back).

    Refused for a statement this does not explain, or placeholders on a server before 16;
    psycopg.Error for what the server refuses (a syntax error, an unknown table, the
    timeout).
    """
    placeholders = inspect(query, analyze)
    body = query.strip().rstrip(";")
    with connect(conninfo, statement_timeout_ms=EXPLAIN_TIMEOUT_MS) as conn:
        version = conn.info.server_version
        generic = placeholders and not analyze
        if placeholders and (analyze or version < GENERIC_PLAN_VERSION):
            raise Refused(
                "has $1-style placeholders: "
                + (
                    "ANALYZE must run the statement, so paste it with values"
                    if analyze
                    else f"PostgreSQL {version // 10000} cannot plan a statement without its "
                    "values (EXPLAIN (GENERIC_PLAN) needs 16 or later), so paste it with values"
                )
            )
        options = ["ANALYZE", "BUFFERS"] if analyze else []
        if generic:
            options.append("GENERIC_PLAN")
        conn.autocommit = False
        try:
            conn.execute("SET TRANSACTION READ ONLY")
            plans = []
            for fmt in ("JSON", "TEXT"):
                # The statement is the caller's own text by design: that is what is explained.
                rows = conn.execute(f"EXPLAIN ({', '.join([*options, f'FORMAT {fmt}'])}) {body}")
                plans.append([row[0] for row in rows])
        finally:
            conn.rollback()
    plan = plans[0][0]
    return Plan(
        plan if isinstance(plan, list) else json.loads(plan),
        "\n".join(plans[1]),
        analyze,
        generic,
        version,
    )
