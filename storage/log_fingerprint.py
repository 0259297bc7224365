"""Error fingerprints: which log records at ``error`` or above are the same problem.

A message is parameterised in Sentry's order (email, URL, host name, IP, UUID, hex, ISO
date and time, duration, float, integer, quoted value after ``=``): each variable part
becomes a placeholder such as ``<email>``. A URL keeps its path (with ids inside it
parameterised) but not its query string, so one route's errors never merge with
another's.

A record that carries a Python traceback (in its message, or in ``attrs.exc_info`` as
Pulseboard's own handler writes it, or OpenTelemetry's ``exception.*`` attributes) is
fingerprinted by the exception type, its last in-app frames as ``module:function`` (no
line numbers, frames of site-packages and the standard library left out) and the
parameterised exception message. Any other record by its source, level and parameterised
message.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache

MAX_TEXT = 1000
"""Characters of a message (or an exception message) that are parameterised; what
follows does not change the group."""
MAX_TITLE = 200
FRAMES_KEPT = 3
"""In-app frames (the innermost) that enter a traceback's fingerprint."""
HASH_BYTES = 8
"""A fingerprint is this many bytes of BLAKE2b, in hex (16 characters)."""

_TLDS = (
    "com|net|org|io|dev|app|cloud|local|internal|lan|localdomain|localhost|svc|cluster|co|uk|"
    "de|fr|nl|eu|us|cn|jp|ru|br|in|info|biz|ai|me|tv"
)
_HEX = "0-9a-fA-F"
_PATTERNS = (
    ("email", r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    ("url", r"[a-zA-Z][\w+.-]{1,15}://[^\s/?#\"'<>]+(?P<path>/[^\s?#\"'<>]*)?(?:\?\S*)?"),
    ("host", rf"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{{0,61}}[a-zA-Z0-9])?\.)+(?:{_TLDS})\b(?!\.\w)"),
    ("ipv4", r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b"),
    (
        "ipv6",
        rf"(?<!:)(?:(?:[{_HEX}]{{1,4}}:){{7}}[{_HEX}]{{1,4}}"
        rf"|(?:[{_HEX}]{{1,4}}:){{1,6}}(?::[{_HEX}]{{1,4}}){{1,6}}"
        rf"|(?:[{_HEX}]{{1,4}}:){{1,7}}:|::(?:[{_HEX}]{{1,4}}(?::[{_HEX}]{{1,4}}){{0,6}})?)"
        r"(?![\w:])",
    ),
    (
        "uuid",
        rf"[{_HEX}]{{8}}-[{_HEX}]{{4}}-[{_HEX}]{{4}}-[{_HEX}]{{4}}-[{_HEX}]{{12}}\b",
    ),
    ("hex", rf"0[xX][{_HEX}]+\b|(?=[a-fA-F]*\d)[{_HEX}]{{8,}}(?![^\W_])"),
    (
        "date",
        r"\d{4}-\d\d-\d\d(?:[Tt ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:[zZ]|[+-]\d\d:?\d\d)?)?(?!\w)"
        r"|\d\d:\d\d:\d\d(?:[.,]\d+)?\b",
    ),
    (
        "duration",
        r"\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|secs?|seconds?|m|mins?|minutes?|h|hours?|d|days?)\b",
    ),
    ("float", r"[-+]?\d+\.\d+(?:[eE][-+]?\d+)?(?![^\W_])"),
    ("int", r"[-+]?\d+(?![^\W_])"),
    ("quoted", r"(?<==)\s*(?:\"[^\"]*\"|'[^']*')"),
)
"""Case-sensitive (both cases spelt out where they occur): a case-insensitive pass is
about twice as slow. Host names end in one of ``_TLDS``, in lower case as written."""
_NAMED = {"ipv4": "<ip>", "ipv6": "<ip>", "quoted": "<quoted>"}
_PLACEHOLDER = {f"p{i}": _NAMED.get(name, f"<{name}>") for i, (name, _) in enumerate(_PATTERNS)}
"""Each kind's placeholder, by its group name in ``_parameters``."""
_URL = f"p{[name for name, _ in _PATTERNS].index('url')}"
_DIGIT = re.compile(r"\d")


@cache
def _parameters(*present: bool) -> re.Pattern | None:
    """One pass over a text, trying only where a word starts (after anything but a letter
    or a digit, so ``ch_<hex>`` and ``worker-<int>``): there the first kind, in the order
    of ``_PATTERNS``, that matches wins, the order Sentry applies its replacements in."""
    kinds = [
        f"(?P<p{i}>{pattern})"
        for i, ((_, pattern), there) in enumerate(zip(_PATTERNS, present, strict=True))
        if there
    ]
    return re.compile(r"(?<![^\W_])(?:" + "|".join(kinds) + ")") if kinds else None


_TRACEBACK = "Traceback (most recent call last):"
_FRAME = re.compile(r'File "(?P<path>[^"]*)", line \d+, in (?P<function>\S+)')
_JAVA_FRAME = re.compile(r"\sat (?P<module>[\w$.]+)\.(?P<function>[\w$<>]+)\(")
_EXCEPTION_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::[ \t]*(?P<message>.*))?$")
_LIBRARY_PARTS = ("/site-packages/", "/dist-packages/", "/lib/python")
"""Frame paths outside the application: installed packages and the standard library (and,
starting with ``<``, frozen or generated code such as ``<frozen importlib._bootstrap>``)."""
_JAVA_LIBRARY = ("java.", "javax.", "jdk.", "sun.", "kotlin.", "scala.")


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A record's group: the stable hash and the title people read."""

    fingerprint: str
    title: str


def parameterise(text: str) -> str:
    """``text`` (up to ``MAX_TEXT`` characters) with its variable parts as placeholders."""
    text = text[:MAX_TEXT]
    # Each kind is tried only on a text holding what it needs: a character test is far
    # cheaper than trying a kind at every word. (A UUID of letters only is left alone.)
    digit = _DIGIT.search(text) is not None
    dots, colons, dash = text.count("."), text.count(":"), "-" in text
    pattern = _parameters(  # in the order of _PATTERNS
        "@" in text,
        "://" in text,
        dots > 0,
        digit and dots >= 3,
        "::" in text or colons >= 7,
        digit and dash,
        digit,
        digit and (dash or colons >= 2),
        digit,
        digit and dots > 0,
        digit,
        "=" in text,
    )
    return text if pattern is None else pattern.sub(_placeholder, text)


def _placeholder(match: re.Match) -> str:
    group = match.lastgroup or ""
    if group == _URL:
        # The path stays (its ids parameterised), so two routes stay two groups; the
        # query string is all values and goes.
        path = match.group("path")
        return "<url>" + (parameterise(path) if path else "")
    return _PLACEHOLDER[group]


def _group(parts: tuple[str, ...]) -> Fingerprint:
    """The group whose fingerprint is made of ``parts`` (see ``_parts``)."""
    shape = parts[-1]
    if parts[0] == "exception":
        title = f"{parts[1]}: {shape}" if shape else parts[1]
    else:
        title = shape.split("\n", 1)[0]
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=HASH_BYTES)
    return Fingerprint(digest.hexdigest(), title[:MAX_TITLE])


def _module(path: str) -> str:
    """A frame's file as a module name from its last two path parts (``services.ingest``),
    the same whichever directory the application is installed in."""
    parts = path.removesuffix(".py").replace("\\", "/").rsplit("/", 2)
    return ".".join(p for p in parts[-2:] if p)


def _library(path: str) -> bool:
    """Whether a frame's file is outside the application (substring tests: this runs for
    every frame of every traceback)."""
    path = path.replace("\\", "/")
    return path.startswith("<") or any(part in path for part in _LIBRARY_PARTS)


def _python_frames(traceback: str) -> list[str]:
    frames = [(m["path"], m["function"]) for m in _FRAME.finditer(traceback)]
    own = [f for f in frames if not _library(f[0])] or frames
    return [f"{_module(path)}:{function}" for path, function in own[-FRAMES_KEPT:]]


def _java_frames(trace: str) -> list[str]:
    frames = [(m["module"], m["function"]) for m in _JAVA_FRAME.finditer(trace)]
    own = [f for f in frames if not f[0].startswith(_JAVA_LIBRARY)] or frames
    # Java prints the innermost frame first.
    return [f"{module}:{function}" for module, function in own[:FRAMES_KEPT]]


def _python_exception(traceback: str) -> tuple[str, str] | None:
    """The type and first message line of the last exception in a Python traceback."""
    last = traceback[traceback.rfind(_TRACEBACK) + len(_TRACEBACK) :]
    for line in last.splitlines():
        if not line or line[0].isspace():
            continue
        match = _EXCEPTION_LINE.match(line.rstrip())
        if match:
            return match["type"], match["message"] or ""
    return None


def _exception(message: str, attrs: Mapping) -> tuple[str, str, list[str]] | None:
    """(type, message, frames) of the exception a record carries, if any."""
    texts = (message, attrs.get("exc_info"), attrs.get("exception")) if attrs else (message,)
    for text in texts:
        if isinstance(text, str) and _TRACEBACK in text:
            found = _python_exception(text)
            if found:
                return found[0], found[1], _python_frames(text)
    if "exception" not in attrs and "exception.type" not in attrs:
        return None  # most records: no exception type anywhere, so no exception
    nested = attrs.get("exception")
    otel = nested if isinstance(nested, Mapping) else {}
    kind = otel.get("type", attrs.get("exception.type"))
    trace = otel.get("stacktrace", attrs.get("exception.stacktrace"))
    text = otel.get("message", attrs.get("exception.message"))
    if not isinstance(kind, str) or not kind:
        return None
    trace = trace if isinstance(trace, str) else ""
    frames = _python_frames(trace) if _TRACEBACK in trace else _java_frames(trace)
    return kind, text if isinstance(text, str) else "", frames


def fingerprint(level: str, source: str, message: str, attrs: Mapping | None = None) -> Fingerprint:
    """The group of a record at ``error`` or above; see the module docstring."""
    return _group(_parts(level, source, message, attrs))


def _parts(level: str, source: str, message: str, attrs: Mapping | None) -> tuple[str, ...]:
    """What a record's fingerprint is made of: ``("exception", type, *frames, shape)`` or
    ``("message", source, level class, shape)``, the shape last."""
    found = _exception(message, attrs or {})
    if found is not None:
        kind, text, frames = found
        return ("exception", kind, *frames, parameterise(text.strip()))
    level_class = "error" if level == "error" else "critical"
    return ("message", source, level_class, parameterise(message.strip()))


def fingerprints(records: Iterable[tuple[str, str, str, Mapping | None]]) -> Iterator[Fingerprint]:
    """The group of each ``(level, source, message, attrs)`` record, in order, as
    ``fingerprint`` gives it. Within the batch, each group's hash and title are made once
    (a batch's errors fall in a few groups), and a record repeating another's level,
    source and message (an error burst) with no exception in its attrs is not
    parameterised again."""
    groups: dict[tuple[str, ...], Fingerprint] = {}
    seen: dict[tuple[str, str, str], Fingerprint] = {}
    for level, source, message, attrs in records:
        plain = not attrs or not (
            "exc_info" in attrs or "exception" in attrs or "exception.type" in attrs
        )
        found = seen.get((level, source, message)) if plain else None
        if found is None:
            parts = _parts(level, source, message, attrs)
            found = groups.get(parts)
            if found is None:
                found = groups[parts] = _group(parts)
            if plain:
                seen[level, source, message] = found
        yield found
