"""The log query language shared by search, export, the live tail and (later) alert rules.

    level:error  level>=warning  source:api  host:web-1  attrs.user_id:42
    timeout  "connection reset"  -healthcheck  -source:cron  fingerprint:3f2a9c0d1e4b5a67

Terms are ANDed. A bare word or a quoted phrase matches the message (case-insensitive
substring); ``-`` negates any term. A mistake raises ``QueryError`` with the position
(0-based character offset) where it was found, so the API can point at it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from storage.log_fingerprint import fingerprint

LEVELS = ("debug", "info", "warning", "error", "critical")
LEVEL_ALIASES = {"warn": "warning", "err": "error", "fatal": "critical", "crit": "critical"}
FIELDS = ("level", "source", "host", "fingerprint")
MAX_QUERY_LENGTH = 2000
MAX_TERMS = 50
_FIELD = re.compile(
    r"(?:level|source|host|fingerprint|attrs\.[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})"
    r"(?=>=|<=|[:<>])"
)
_OPERATOR = re.compile(r">=|<=|[:<>]")
FINGERPRINT = re.compile(r"[0-9a-f]{1,32}")
"""What an error group's fingerprint looks like (``storage.log_fingerprint``)."""


class QueryError(ValueError):
    """A query that cannot be parsed; ``position`` is where the problem starts."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position + 1})")
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class Term:
    """One condition: ``field`` None means the message text."""

    field: str | None
    op: str
    value: str
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    """All terms must hold."""

    terms: tuple[Term, ...] = ()

    def matches(self, record: Mapping) -> bool:
        """Whether a record (``level``, ``source``, ``host``, ``message``, ``attrs``) matches."""
        return all(_holds(term, record) != term.negated for term in self.terms)


def level_rank(level: str) -> int:
    """Position of ``level`` in severity order (unknown levels rank lowest)."""
    level = LEVEL_ALIASES.get(level.lower(), level.lower())
    return LEVELS.index(level) if level in LEVELS else -1


@lru_cache(maxsize=256)
def parse(text: str) -> Query:
    """Parse ``text`` into a query; raise QueryError naming the position of a mistake.

    Queries are immutable and the same few come back with every page and refresh: the
    latest ones are kept."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"query longer than {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH)
    terms: list[Term] = []
    pos, end = 0, len(text)
    while pos < end:
        if text[pos].isspace():
            pos += 1
            continue
        start = pos
        negated = text[pos] == "-"
        if negated:
            pos += 1
            if pos >= end or text[pos].isspace():
                raise QueryError("'-' must be followed by a term", start)
        field_match = _FIELD.match(text, pos)
        if field_match:
            field = field_match.group(0)
            pos = field_match.end()
            op = _OPERATOR.match(text, pos).group(0)
            pos += len(op)
            value, pos = _value(text, pos, start)
            terms.append(_field_term(field, op, value, negated, start))
        else:
            value, pos = _value(text, pos, start)
            terms.append(Term(None, ":", value, negated))
        if len(terms) > MAX_TERMS:
            raise QueryError(f"more than {MAX_TERMS} terms", start)
    return Query(tuple(terms))


def _value(text: str, pos: int, term_start: int) -> tuple[str, int]:
    """A bare word or a quoted phrase starting at ``pos``; returns it and where it ends."""
    if pos >= len(text) or text[pos].isspace():
        raise QueryError("a value is missing", pos)
    if text[pos] == '"':
        out, pos = [], pos + 1
        while pos < len(text):
            char = text[pos]
            if char == "\\" and pos + 1 < len(text):
                out.append(text[pos + 1])
                pos += 2
                continue
            if char == '"':
                if not out:
                    raise QueryError("an empty phrase matches nothing", pos - 1)
                return "".join(out), pos + 1
            out.append(char)
            pos += 1
        raise QueryError("a quote is not closed", term_start)
    start = pos
    while pos < len(text) and not text[pos].isspace():
        if text[pos] == '"':
            raise QueryError("a quote inside a word; put the whole phrase in quotes", pos)
        pos += 1
    return text[start:pos], pos


def _field_term(field: str, op: str, value: str, negated: bool, position: int) -> Term:
    if field == "level":
        if level_rank(value) < 0:
            raise QueryError(f"unknown level {value!r}; use one of {', '.join(LEVELS)}", position)
        return Term(field, op, LEVEL_ALIASES.get(value.lower(), value.lower()), negated)
    if op != ":":
        raise QueryError(f"{field} takes ':' only; '{op}' compares levels", position)
    if field == "fingerprint" and not FINGERPRINT.fullmatch(value):
        raise QueryError("a fingerprint is 1 to 32 lowercase hex digits", position)
    return Term(field, op, value, negated)


def _holds(term: Term, record: Mapping) -> bool:
    if term.field is None:
        return term.value.lower() in str(record.get("message", "")).lower()
    if term.field == "level":
        rank, wanted = level_rank(str(record.get("level", ""))), LEVELS.index(term.value)
        return {
            ":": rank == wanted,
            ">=": rank >= wanted,
            ">": rank > wanted,
            "<=": rank <= wanted,
            "<": rank < wanted,
        }[term.op]
    if term.field.startswith("attrs."):
        value = _attr(record.get("attrs") or {}, term.field.removeprefix("attrs."))
        return value is not None and _text(value) == term.value
    if term.field == "fingerprint":
        return _fingerprint_of(record) == term.value
    return str(record.get(term.field, "")) == term.value


def _fingerprint_of(record: Mapping) -> str | None:
    """The error group a record was given as it was written (None below ``error``)."""
    if "fingerprint" in record:
        return record["fingerprint"]
    level = str(record.get("level", ""))
    if level_rank(level) < LEVELS.index("error"):
        return None
    found = fingerprint(
        level, str(record.get("source", "")), str(record.get("message", "")), record.get("attrs")
    )
    return found.fingerprint


def _attr(attrs: Mapping, path: str):
    value = attrs
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
