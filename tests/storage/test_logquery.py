"""The log query language: what parses to what, what matches, and clean errors only."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.logquery import MAX_QUERY_LENGTH, Query, QueryError, Term, parse

RECORDS = {
    "db-timeout": {
        "level": "error",
        "source": "api",
        "host": "web-1",
        "message": "Query timeout after 30 s",
        "attrs": {"user_id": 42},
    },
    "login": {
        "level": "info",
        "source": "auth",
        "host": "web-2",
        "message": "login ok for ana",
        "attrs": {"user_id": "7", "sso": True},
    },
    "disk": {
        "level": "warning",
        "source": "agent",
        "host": "web-1",
        "message": "Disk 91% full",
        "attrs": {"disk": {"mount": "/var"}},
    },
    "crash": {
        "level": "critical",
        "source": "api",
        "host": "web-2",
        "message": "connection reset by peer",
        "attrs": {},
    },
    "health": {
        "level": "debug",
        "source": "api",
        "host": "web-1",
        "message": "GET /healthz 200",
        "attrs": None,
    },
    "percent": {
        "level": "info",
        "source": "agent",
        "host": "web-3",
        "message": "cpu at 100% with an under_score",
        "attrs": {},
    },
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", set(RECORDS)),
        ("100%", {"percent"}),
        ("level:error", {"db-timeout"}),
        ("level>=warning", {"db-timeout", "disk", "crash"}),
        ("level>error", {"crash"}),
        ("level<info", {"health"}),
        ("level<=INFO", {"login", "health", "percent"}),
        ("level:warn", {"disk"}),
        ("source:api", {"db-timeout", "crash", "health"}),
        ("host:web-1 source:api", {"db-timeout", "health"}),
        ("attrs.user_id:42", {"db-timeout"}),
        ("attrs.user_id:7", {"login"}),
        ("attrs.sso:true", {"login"}),
        ("attrs.disk.mount:/var", {"disk"}),
        ("timeout", {"db-timeout"}),
        ("TIMEOUT", {"db-timeout"}),
        ('"connection reset"', {"crash"}),
        ('"reset connection"', set()),
        ("-source:api", {"login", "disk", "percent"}),
        ("-healthz source:api", {"db-timeout", "crash"}),
        ("level>=warning -host:web-1", {"crash"}),
        (r'"say \"hi\""', set()),
    ],
)
def test_queries_match_the_expected_records(query, expected):
    parsed = parse(query)
    assert {name for name, record in RECORDS.items() if parsed.matches(record)} == expected


def test_terms_are_parsed_with_fields_operators_and_negation():
    assert parse('level>=warn -source:cron "disk full" attrs.id:9') == Query(
        (
            Term("level", ">=", "warning"),
            Term("source", ":", "cron", negated=True),
            Term(None, ":", "disk full"),
            Term("attrs.id", ":", "9"),
        )
    )
    assert parse(r'"a \"quoted\" word"').terms == (Term(None, ":", 'a "quoted" word'),)
    assert parse("url:http://x").terms == (Term(None, ":", "url:http://x"),)


@pytest.mark.parametrize(
    ("query", "position", "words"),
    [
        ("level:loud", 0, "unknown level"),
        ("source>=api", 0, "takes ':' only"),
        ('timeout "connection reset', 8, "quote is not closed"),
        ("level:", 6, "value is missing"),
        ("host: web-1", 5, "value is missing"),
        ("- error", 0, "must be followed"),
        ('""', 0, "empty phrase"),
        ('ab"cd', 2, "quote inside a word"),
        ("x" * (MAX_QUERY_LENGTH + 1), MAX_QUERY_LENGTH, "longer than"),
    ],
)
def test_mistakes_raise_a_query_error_pointing_at_them(query, position, words):
    with pytest.raises(QueryError) as error:
        parse(query)
    assert error.value.position == position
    assert words in error.value.message


def test_too_many_terms_are_refused():
    with pytest.raises(QueryError, match="more than 50 terms"):
        parse(" ".join(["a"] * 51))


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200))
def test_parsing_any_text_either_succeeds_or_raises_a_clean_query_error(text):
    try:
        query = parse(text)
    except QueryError as error:
        assert 0 <= error.position <= len(text)
        return
    for record in RECORDS.values():
        query.matches(record)  # never raises


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "level:",
                "level>=",
                "source:",
                "-",
                '"',
                "\\",
                " ",
                "a",
                "attrs.",
                "x:",
                ">",
                "warn",
                "error",
            ]
        ),
        max_size=30,
    )
)
def test_parsing_near_miss_syntax_never_raises_anything_else(parts):
    with contextlib.suppress(QueryError):
        parse("".join(parts))
