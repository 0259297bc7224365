"""Error fingerprints: messages and tracebacks that are one problem group together, and
Sentry's over-grouping cases stay apart (different exception types with the same message
shape, different routes behind a UUID, different in-app functions)."""

from __future__ import annotations

import pytest

from storage.log_fingerprint import fingerprint, fingerprints, parameterise


def traceback(
    kind: str = "ValueError",
    message: str = "bad value 42",
    function: str = "process",
    line: int = 17,
    root: str = "/srv/app",
) -> str:
    """A Python traceback through two in-app frames and a library one."""
    return (
        "Traceback (most recent call last):\n"
        f'  File "{root}/shop/handlers.py", line {line * 3}, in handle\n'
        "    return self.process(request)\n"
        f'  File "{root}/shop/orders.py", line {line}, in {function}\n'
        "    total = compute(order)\n"
        '  File "/usr/lib/python3/dist-packages/decimal_tools/core.py", line 9, in compute\n'
        "    raise error\n"
        f"{kind}: {message}"
    )


def fp(message: str, attrs: dict | None = None, level: str = "error", source: str = "api") -> str:
    return fingerprint(level, source, message, attrs).fingerprint


SAME = [
    ("order 1841 failed", "order 99 failed"),
    ("user ana@example.com locked out", "user bo.chen+x@mail.example.org locked out"),
    (
        "request 3f2a1b4c-1d2e-4f5a-8b9c-0d1e2f3a4b5c timed out",
        "request 00000000-aaaa-4bbb-8ccc-123456789abc timed out",
    ),
    ("connect to 10.0.0.12 refused", "connect to 192.168.1.200 refused"),
    ("connect to [fe80::1] refused", "connect to [2001:db8::8a2e:370:7334] refused"),
    ("upstream db-1.prod.internal unreachable", "upstream db-7.prod.internal unreachable"),
    ("query took 1250ms", "query took 3.5s"),
    ("object at 0x7f3a2b1c0d10 leaked", "object at 0x55d0 leaked"),
    ("commit da39a3ee5e6b4b0d3255bfef95601890afd80709 bad", "commit 3f786850e387550f bad"),
    ("token ch_3f2a1b4c9 refused", "token ch_88a1b2c3d4 refused"),
    ("job started 2026-12-01T10:00:00Z failed", "job started 2026-11-30 23:59:59.123 failed"),
    ("ratio 0.75 over limit", "ratio 12.5 over limit"),
    ('login failed user="ana"', 'login failed user="bo chen"'),
    ("worker-3 died", "worker-12 died"),
    (
        "GET https://api.example.com/orders/3f2a1b4c-1d2e-4f5a-8b9c-0d1e2f3a4b5c?page=2 failed",
        "GET https://api.example.com:8443/orders/00000000-aaaa-4bbb-8ccc-123456789abc failed",
    ),
]

APART = [
    # Different routes behind the same kind of id: two problems, not one.
    (
        "GET https://api.example.com/orders/3f2a1b4c-1d2e-4f5a-8b9c-0d1e2f3a4b5c failed",
        "GET https://api.example.com/users/3f2a1b4c-1d2e-4f5a-8b9c-0d1e2f3a4b5c failed",
    ),
    (
        "/orders/3f2a1b4c-1d2e-4f5a-8b9c-0d1e2f3a4b5c failed",
        "/users/1d2e4f5a-1d2e-4f5a-8b9c-0d1e2f3a4b5c failed",
    ),
    ("order 1841 failed", "order 1841 refunded"),
    ("disk full on /var", "disk full on /home"),
]


@pytest.mark.parametrize(("first", "second"), SAME)
def test_messages_that_differ_only_in_values_group_together(first, second):
    assert fp(first) == fp(second), (parameterise(first), parameterise(second))


@pytest.mark.parametrize(("first", "second"), APART)
def test_messages_that_differ_in_words_or_routes_stay_apart(first, second):
    assert fp(first) != fp(second), (parameterise(first), parameterise(second))


def test_placeholders_name_what_was_replaced():
    assert parameterise("bob@example.com from 10.0.0.1 took 12ms, 3 tries, 0.5 load") == (
        "<email> from <ip> took <duration>, <int> tries, <float> load"
    )
    assert parameterise("see https://x.example.com/a/42?k=v") == "see <url>/a/<int>"


def test_the_same_message_from_another_source_or_level_class_is_another_group():
    assert fp("boom", source="api") != fp("boom", source="worker")
    assert fp("boom", level="error") != fp("boom", level="critical")


def test_a_traceback_groups_by_type_frames_and_message_without_line_numbers():
    first = traceback(line=17, message="bad value 42")
    second = traceback(line=230, message="bad value 7", root="/opt/other-checkout")
    assert fp("request failed", {"exc_info": first}) == fp("it broke", {"exc_info": second})
    # The same traceback in the message itself is the same group.
    assert fp("request failed\n" + first) == fp("x", {"exc_info": first})


def test_a_traceback_title_is_the_exception_type_and_its_message_shape():
    found = fingerprint("error", "api", "request failed", {"exc_info": traceback()})
    assert found.title == "ValueError: bad value <int>"


def test_different_exception_types_with_the_same_message_shape_stay_apart():
    value = fp("x", {"exc_info": traceback(kind="ValueError", message="no such key 42")})
    key = fp("x", {"exc_info": traceback(kind="KeyError", message="no such key 42")})
    assert value != key


def test_a_different_in_app_function_is_another_group():
    one = fp("x", {"exc_info": traceback(function="process")})
    other = fp("x", {"exc_info": traceback(function="refund")})
    assert one != other


def test_library_frames_do_not_change_the_group():
    plain = traceback()
    other_library = plain.replace("decimal_tools/core.py", "decimal_tools/fast.py").replace(
        "in compute", "in compute_fast"
    )
    assert fp("x", {"exc_info": plain}) == fp("x", {"exc_info": other_library})


def test_the_last_exception_of_a_chained_traceback_counts():
    chained = (
        traceback(kind="KeyError", message="'sku'")
        + "\n\nDuring handling of the above exception, another exception occurred:\n\n"
        + traceback(kind="RuntimeError", message="order 7 broken")
    )
    found = fingerprint("error", "api", "x", {"exc_info": chained})
    assert found.title == "RuntimeError: order <int> broken"


def test_opentelemetry_exception_attributes_group_by_type_and_frames():
    trace = "java.lang.IllegalStateException\n\tat com.shop.Cart.total(Cart.java:{n})\n"
    attrs = {
        "exception.type": "java.lang.IllegalStateException",
        "exception.message": "cart 42 empty",
        "exception.stacktrace": trace.format(n=42),
    }
    again = {
        **attrs,
        "exception.message": "cart 7 empty",
        "exception.stacktrace": trace.format(n=9),
    }
    assert fp("x", attrs) == fp("y", again)
    assert fingerprint("error", "api", "x", attrs).title == (
        "java.lang.IllegalStateException: cart <int> empty"
    )
    nested = {"exception": {"type": "TimeoutError", "message": "after 5s"}}
    assert fingerprint("error", "api", "x", nested).title == "TimeoutError: after <duration>"


def test_a_fingerprint_is_short_stable_hex():
    found = fp("order 1841 failed")
    assert found == fp("order 1841 failed")
    assert len(found) <= 32 and int(found, 16) >= 0


def test_a_batch_fingerprints_each_record_as_fingerprint_does():
    records = [
        ("error", "api", "order 1841 failed", {"request_id": "a"}),
        ("error", "api", "order 1841 failed", {"request_id": "b"}),
        ("critical", "api", "order 1841 failed", None),
        ("error", "worker", "order 1841 failed", {}),
        ("error", "api", "x", {"exc_info": traceback(kind="ValueError")}),
        ("error", "api", "x", {"exc_info": traceback(kind="KeyError")}),
        ("error", "api", "x", {"exception.type": "TimeoutError", "exception.message": "5s"}),
        ("error", "api", "x", {"exception": {"type": "OSError"}}),
        ("error", "api", "x", None),
    ]
    assert list(fingerprints(records)) == [fingerprint(*record) for record in records]
    assert len({found.fingerprint for found in fingerprints(records)}) == 8
