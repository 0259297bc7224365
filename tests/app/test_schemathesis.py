"""Schemathesis against /api/v1/openapi.json on both backends, as admin, every check on.

The run is the one ``schemathesis run --checks all`` makes (examples, coverage, fuzzing and
stateful phases), driven in-process through schemathesis's engine against the app served by
a real HTTP server on a free port. It must find no server error and no response that does
not conform to the document.
"""

from __future__ import annotations

import collections
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from werkzeug.serving import make_server

from tests.app.auth_helpers import password_hash, runtime_of

MAX_EXAMPLES = 25
"""Examples per operation and phase: the whole run stays within a minute or two per backend."""

QUERY = r"q: .*\(at character \d+\)"
RANGE = r"from: must be earlier than 'to'.*"
UNKNOWN_METRIC = r"name: unknown metric: .*"
RULE_CHECKS = [
    r"\w+: required for a (metric|log) rule",
    r"\w+: not part of a (metric|log|new_error_group) rule.*",
    r"critical: give a warning or a critical threshold \(or both\)",
    r"(warning|critical)_clear: a clear threshold needs a (warning|critical) threshold",
    r"(warning|critical)_clear: must be on the clearing side of .*",
    r"warning: must not be beyond critical .*",
    r"query: .* at position \d+",
    r"group_by: a log rule groups by host, source or attrs\.<name>",
    r"group_by: a new_error_group rule groups by fingerprint \(and title\)",
    r"channels: no such channel: .*",
    r"annotations\.[\w.]+: (line \d+: .*|unknown name .*)",
]
"""What ``app.alerting.rules.check`` refuses of a schema-valid rule body: a kind's own
fields, thresholds that cannot fire or clear, the query language, template syntax,
channels that exist."""
IN_THE_FUTURE = r"(ends_at|until): must be in the future"
CHANNEL_CHECKS = [
    r"url: .*",
    r"kind: e-mail needs a mail server, and PULSEBOARD_SMTP_URL is not set",
    r"to: needs at least one e-mail address",
]
"""What a schema-valid channel body may be refused for: a receiver URL that does not
resolve or resolves to an internal address, e-mail on a server without SMTP, e-mail
without recipients."""
WATCHED = r"database: not a watched database .*"
REDIS_TARGET = r"target: (no Redis is watched; .*|.* is not a watched Redis .*)"
"""A Redis diagnostics request naming no watched Redis (the fuzzed app watches none)."""
CHANGES_WINDOW = r"from: the window must be at (least 15 s|most 7 days) long"
"""What changed compares windows of 15 s to 7 days."""
CHECK_CHECKS = [
    r"\w+: not part of an? (http|tcp|dns) check",
    r"(url|host|port): required for an? (http|tcp) check",
    r"url: .*",
    r"(host|name): not a host name.*",
    r"timeout: must not be longer than interval",
]
"""What a schema-valid dependency check body may be refused for: a kind's own fields, a
URL that is not http(s) or names no valid host, a host that is not a host name, a timeout
longer than the interval."""
REFUSED_FOR_STATE = {
    "GET /api/v1/admin/logs": [QUERY, RANGE],
    "GET /api/v1/admin/logs/histogram": [QUERY, RANGE],
    "GET /api/v1/admin/logs/count": [QUERY, RANGE],
    "POST /api/v1/admin/logs/export": [QUERY, RANGE],
    "GET /api/v1/admin/audit": [RANGE],
    "GET /api/v1/admin/audit/export": [RANGE],
    "GET /api/v1/admin/monitoring/metrics": [UNKNOWN_METRIC, RANGE],
    "GET /api/v1/admin/monitoring/metrics/export": [UNKNOWN_METRIC, RANGE],
    "POST /api/v1/admin/me/password": [r"current_password: is not your current password"],
    "GET /api/v1/admin/alerts": [RANGE],
    "GET /api/v1/admin/alerts/export": [RANGE],
    "POST /api/v1/admin/alerts/rules": RULE_CHECKS,
    "PUT /api/v1/admin/alerts/rules/{rule_id}": RULE_CHECKS,
    "POST /api/v1/admin/alerts/rules/preview": [
        *RULE_CHECKS,
        RANGE,
        r"from: a preview covers at most \d+ days",
    ],
    "POST /api/v1/admin/alerts/silences": [IN_THE_FUTURE, r"ends_at: must be after starts_at"],
    "POST /api/v1/admin/alerts/{alert_id}/ack": [IN_THE_FUTURE],
    "POST /api/v1/admin/alerts/channels": CHANNEL_CHECKS,
    "PUT /api/v1/admin/alerts/channels/{channel_id}": CHANNEL_CHECKS,
    "POST /api/v1/admin/alerts/channels/{channel_id}/test": [r"url: .*"],
    "GET /api/v1/admin/diagnostics/statements": [RANGE, WATCHED],
    "GET /api/v1/admin/diagnostics/statements/export": [RANGE, WATCHED],
    "GET /api/v1/admin/diagnostics/statements/{queryid}": [RANGE, WATCHED],
    "POST /api/v1/admin/diagnostics/explain": [WATCHED, r"query: .*"],
    "GET /api/v1/admin/diagnostics/redis": [REDIS_TARGET, RANGE],
    "POST /api/v1/admin/diagnostics/redis/bigkeys": [REDIS_TARGET],
    "GET /api/v1/admin/diagnostics/redis/export": [
        REDIS_TARGET,
        RANGE,
        r"job: required for table=bigkeys",
    ],
    "GET /api/v1/admin/monitoring/diagnostics": [RANGE],
    "GET /api/v1/admin/diagnostics/endpoints": [
        RANGE,
        r"method: required with route",
        r"route: required with method",
    ],
    "GET /api/v1/admin/diagnostics/endpoints/export": [RANGE],
    "GET /api/v1/admin/diagnostics/timeline": [RANGE],
    "GET /api/v1/admin/diagnostics/timeline/export": [RANGE],
    "GET /api/v1/admin/diagnostics/changes": [RANGE, CHANGES_WINDOW],
    "GET /api/v1/admin/diagnostics/changes/export": [RANGE, CHANGES_WINDOW],
    "GET /api/v1/admin/diagnostics/bundle": [RANGE],
    "GET /api/v1/admin/annotations": [RANGE],
    "POST /api/v1/admin/annotations": [r"ts_end: must not be before ts"],
    "GET /api/v1/admin/diagnostics/activity": [RANGE],
    "GET /api/v1/admin/diagnostics/activity/export": [RANGE],
    "POST /api/v1/admin/checks": CHECK_CHECKS,
    "PUT /api/v1/admin/checks/{check_id}": CHECK_CHECKS,
    "GET /api/v1/admin/diagnostics/errors": [QUERY, RANGE],
    "GET /api/v1/admin/diagnostics/errors/export": [QUERY, RANGE],
    "GET /api/v1/admin/diagnostics/errors/{fingerprint}": [RANGE],
    "POST /api/v1/logs": [
        r"record \d+: ts: .* is more than 10 minutes in the future",
        r"record \d+: ts: .* is older than the log retention .*",
    ],
}
"""What a schema-valid request may still be refused for (a 400 naming only these): rules a
schema cannot state, such as the query language, ``from`` before ``to``, a metric that
exists, the caller's current password, an ingest time within the retention, a rule's
checks, a silence or acknowledgement that ends in the future."""


KEPT_AFTER_DELETE = {"GET /api/v1/admin/alerts/silences/{silence_id}"}
"""What DELETE ends rather than removes, so a read afterwards still finds it: a silence is
expired and kept for the history (as Alertmanager's are)."""


@dataclass
class StatusCounter:
    """WSGI middleware counting the responses of the wrapped app by status."""

    app: object
    statuses: collections.Counter = field(default_factory=collections.Counter)

    def __call__(self, environ, start_response):
        """Pass the request on, counting the status it is answered with."""

        def start(status, headers, exc_info=None):
            self.statuses[int(status[:3])] += 1
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


@pytest.fixture
def served(app) -> Iterator[tuple[str, StatusCounter]]:
    """The app on a real HTTP server on a free port: its base URL and its status counter."""
    counter = StatusCounter(app.server)
    server = make_server("127.0.0.1", 0, counter, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}", counter
    server.shutdown()
    thread.join(5)


def fuzzer_identity(app) -> tuple[int, int, str]:
    """A new admin for the fuzzer: its user id, its token's id and the token."""
    rt = runtime_of(app)
    user = rt.accounts.add_user("fuzzer", "admin", password_hash())
    token_id, token = rt.accounts.create_token(user.id, "fuzzer")
    return user.id, token_id, token


def fuzz_schema(base_url: str, token: str, user_id: int, token_id: int):
    """The loaded document, configured for the run, with the fuzzer's own identity protected."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20261201,
            "checks": {"enabled": True},  # --checks all
            # No example database: every run replays the same seed, not earlier findings.
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "auth": {"openapi": {"bearer": {"bearer": token}}, "auto-signup": False},
        }
    )
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json", config=config)

    @schema.hook
    def filter_case(context, case) -> bool:
        # Revoking its own token or demoting its own user would end the run's authentication.
        params = {name: str(value) for name, value in (case.path_parameters or {}).items()}
        return params.get("token_id") != str(token_id) and params.get("user_id") != str(user_id)

    @schema.hook
    def filter_failure(context, failure, case, response) -> bool:
        if failure.title == "Deleted resource still available":
            return case.operation.label not in KEPT_AFTER_DELETE
        if failure.title != "Schema-valid request rejected" or response.status_code != 400:
            return True
        return not refused_for_state(case.operation.label, response.content)

    return schema


def refused_for_state(label: str, body: bytes) -> bool:
    """Whether a 400 names only reasons of ``REFUSED_FOR_STATE`` for the operation."""
    fields = json.loads(body).get("error", {}).get("fields", {})
    allowed = REFUSED_FOR_STATE.get(label, [])
    return bool(fields) and all(
        any(re.fullmatch(reason, f"{name}: {message}", re.DOTALL) for reason in allowed)
        for name, message in fields.items()
    )


def run_failures(schema) -> list[str]:
    """Run every phase; each failed check (deduplicated) and engine error, readably."""
    found: dict[tuple, str] = {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.status != Status.FAILURE or check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    interaction = event.recorder.interactions.get(case_id)
                    answer = interaction.response if interaction else None
                    body = answer.content[:300] if answer is not None and answer.content else b""
                    found.setdefault(
                        (event.label, check.name, failure.title),
                        f"{event.label} [{check.name}] {failure.title}: {failure.message[:300]}\n"
                        f"  {check.failure_info.code_sample[:500]}\n  -> {body!r}",
                    )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            found.setdefault(("error", repr(event.value)), f"engine error: {event.value!r}")
    return list(found.values())


def test_schemathesis_finds_no_server_error_and_no_response_off_the_document(app, served):
    base_url, counter = served
    user_id, token_id, token = fuzzer_identity(app)

    failures = run_failures(fuzz_schema(base_url, token, user_id, token_id))

    server_errors = sum(n for status, n in counter.statuses.items() if status >= 500)
    assert not failures, "\n".join(failures)
    assert server_errors == 0, counter.statuses
    # The run got through: its token stayed valid, and it reached every kind of answer.
    assert counter.statuses[200] > 100 and counter.statuses[400] > 100, counter.statuses
