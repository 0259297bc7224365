"""Log text every backend can store and every JSON reader can parse.

PostgreSQL's ``text`` cannot hold NUL, its ``jsonb`` refuses the escape ``\\u0000`` and
lone UTF-16 surrogates, UTF-8 has no encoding for a lone surrogate, and strict JSON has no
``NaN`` or ``Infinity``. Records come from any program, so the store cleans what it writes:
NUL and lone surrogates become U+FFFD and non-finite numbers ``null``, the record is kept.
Records written before that are cleaned the same way as they are read.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, and_, case, cast, func
from sqlalchemy.dialects.postgresql import JSONB

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
"""In a Python string (where a valid pair is one code point), a NUL or a lone surrogate."""

_MARKS = ("\\u", "NaN", "Infinity")
"""JSON text holding none of these is clean; three substring tests are far cheaper than the
regular expression below, which only the rest of the text needs."""
_SUSPECT_JSON = re.compile(
    r"\\u0000"
    r"|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F]"
    r"|NaN|Infinity"
)
"""In JSON text as ``json.dumps`` writes it: what may be a NUL, a lone surrogate or a
non-finite number. It may also find harmless text (an escaped backslash before ``u0000``,
the word ``NaN`` in a string): cleaning such text changes nothing."""


def _suspect(text: str) -> bool:
    """Whether JSON ``text`` may hold a NUL, a lone surrogate or a non-finite number."""
    quick = "\\u" in text or "NaN" in text or "Infinity" in text  # _MARKS, spelt out: faster
    return quick and _SUSPECT_JSON.search(text) is not None


def clean_text(text: str) -> str:
    """``text`` with every NUL and lone surrogate replaced by U+FFFD."""
    if text.isascii() and "\x00" not in text:  # most text: two C scans, no regex
        return text
    return _UNSTORABLE.sub(REPLACEMENT, text)


def clean_json(value: Any) -> Any:
    """Decoded JSON with every key and string cleaned and non-finite numbers as None."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def attrs_json(attrs: dict) -> str:
    """``attrs`` as the compact JSON text the store keeps, cleaned (anything JSON cannot
    encode as its ``str``)."""
    if not attrs:
        return "{}"
    text = _encode(attrs)
    if _suspect(text):
        # Decoding the text again turns tuples, non-string keys and str() fallbacks into
        # plain JSON values, which are then cleaned one by one.
        text = json.dumps(clean_json(json.loads(text)), separators=(",", ":"))
    return text


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)
"""Made once: ``json.dumps`` with options builds an encoder per call, which cost as much
as encoding typical attrs."""


def _compact_encoder() -> Callable[[Any], str]:
    """``_ENCODER.encode``, with the standard library's C encoder made once rather than
    on each call (a third of the cost of encoding typical attrs), where there is one."""
    make = json.encoder.c_make_encoder
    if make is None:
        return _ENCODER.encode
    # No markers dict: one shared by threads could see another's object as a cycle; a
    # real cycle still fails, with RecursionError.
    iterencode = make(
        None, str, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
    )
    return lambda value: "".join(iterencode(value, 0))


_encode = _compact_encoder()


def read_attrs(text: str | None) -> dict:
    """Stored attrs text as a dict, cleaned if an older version stored it unclean; ``{}``
    for text that is not a JSON object."""
    try:
        attrs = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(attrs, dict):
        return {}
    return clean_json(attrs) if _suspect(text or "") else attrs


def clean_attrs_text(text: str | None) -> str:
    """Stored attrs text as strict JSON: as stored when it is clean, else re-encoded."""
    if text and not _suspect(text):
        return text
    return attrs_json(read_attrs(text))


# -- reading what older versions stored, inside a query -------------------------------------

_PG_SUSPECT = r"\\u(0000|[dD][89a-fA-F])|NaN|Infinity"
_PG_BAD_ESCAPE = (
    r"(?<!\\)((?:\\\\)*)"  # an even run of backslashes: the next one starts an escape
    r"(\\u0000"
    r"|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2})"
)
_PG_NON_FINITE = r"([:,\[]\s*)(NaN|-?Infinity)(?=\s*[,\]}])"


def pg_attrs_jsonb(attrs: ColumnElement[str]) -> ColumnElement:
    """PostgreSQL: the stored attrs text as ``jsonb``, with what ``jsonb`` refuses and older
    versions wrote (``\\u0000``, lone surrogates, ``NaN``) cleaned as ``clean_json`` does,
    so that one such record cannot make the cast fail a whole query."""
    repaired = attrs.regexp_replace(_PG_BAD_ESCAPE, "\\1\\\\ufffd", flags="g").regexp_replace(
        _PG_NON_FINITE, "\\1null", flags="g"
    )
    clean = and_(*(func.strpos(attrs, mark) == 0 for mark in _MARKS))
    readable = case((clean, attrs), (attrs.regexp_match(_PG_SUSPECT), repaired), else_=attrs)
    return cast(readable, JSONB)


def sqlite_attrs_json(attrs: ColumnElement[str]) -> ColumnElement:
    """SQLite: the stored attrs text as JSON its functions accept (``NaN`` and ``Infinity``
    written by older versions as ``null``), or NULL for text that is not JSON at all."""
    finite = func.replace(
        func.replace(func.replace(attrs, "-Infinity", "null"), "Infinity", "null"), "NaN", "null"
    )
    return case((func.json_valid(attrs), attrs), (func.json_valid(finite), finite), else_=None)
