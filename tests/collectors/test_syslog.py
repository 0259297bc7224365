"""Syslog receiver: the real `logger` over UDP and TCP into log_records, framing, parsing."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.settings import Settings, SettingsError
from collectors.syslog import SyslogReceiver, parse, parse_addr, split_frames
from storage.logs import LogStore
from storage.models import LogRecord
from tests.conftest import wait_until
from tests.services import free_port

NOW = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


def records(engine, marker: str) -> list[dict]:
    """Stored rows whose message contains ``marker``, attrs decoded."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(LogRecord).where(LogRecord.message.contains(marker)).order_by(LogRecord.id)
        ).all()
    return [
        {
            "ts": r.ts,
            "level": r.level,
            "source": r.source,
            "host": r.host,
            "message": r.message,
            "attrs": json.loads(r.attrs),
        }
        for r in rows
    ]


def wait_for(engine, marker: str, count: int) -> list[dict]:
    """The ``count`` rows with ``marker``, once they are all stored."""
    return wait_until(lambda: (rows := records(engine, marker)) and len(rows) == count and rows, 10)


@pytest.fixture
def receiver(engine):
    """A receiver on a free port writing to the test database."""
    rx = SyslogReceiver("127.0.0.1", free_port(), LogStore(engine).write, flush_interval=0.1)
    assert rx.start(), rx.errors
    yield rx
    rx.stop()


def logger(port: int, *args: str) -> None:
    """Send one message with the system's ``logger`` command."""
    if shutil.which("logger") is None:
        pytest.skip("logger (util-linux) is not installed")
    subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(port), *args], check=True, timeout=10)


@pytest.mark.parametrize("transport", [["-d"], ["-T"], ["-T", "--octet-count"]])
@pytest.mark.parametrize("rfc", ["--rfc3164", "--rfc5424"])
def test_logger_lands_in_log_records(engine, receiver, transport, rfc):
    marker = uuid.uuid4().hex
    logger(receiver.port, *transport, rfc, "-t", "billing", "-p", "local3.err", f"disk {marker}")
    (row,) = wait_until(lambda: records(engine, marker), 10)
    assert row["message"] == f"disk {marker}"
    assert row["level"] == "error"
    assert row["source"] == "syslog"
    assert row["host"] == socket.gethostname()
    assert row["attrs"]["app"] == "billing"
    assert row["attrs"]["facility"] == "local3"
    assert row["attrs"]["format"] == rfc.removeprefix("--")
    assert abs((row["ts"].replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds()) < 120


def test_logger_structured_data_and_severities(engine, receiver):
    marker = uuid.uuid4().hex
    logger(
        receiver.port, "-T", "--rfc5424", "-t", "api", "-p", "user.warning", "--msgid", "REQ",
        "--sd-id", "req@32473", "--sd-param", 'user="ann"', f"slow {marker}",
    )  # fmt: skip
    for priority, level in (("daemon.crit", "critical"), ("daemon.debug", "debug")):
        logger(receiver.port, "-d", "-p", priority, f"{level} {marker}")
    rows = wait_for(engine, marker, 3)
    by_message = {r["message"].split()[0]: r for r in rows}
    slow = by_message["slow"]
    assert slow["level"] == "warning"
    assert slow["attrs"]["msgid"] == "REQ"
    assert slow["attrs"]["sd"]["req@32473"] == {"user": "ann"}
    assert by_message["critical"]["level"] == "critical"
    assert by_message["debug"]["level"] == "debug"


def test_malformed_lines_kept_whole(engine, receiver):
    marker = uuid.uuid4().hex
    lines = [f"no pri at all {marker}", f"<999>bad pri {marker}", f"<13>1 garbage {marker}"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(lines[0].encode(), ("127.0.0.1", receiver.port))
    with socket.create_connection(("127.0.0.1", receiver.port)) as tcp:
        tcp.sendall(("\n".join(lines[1:]) + "\n").encode())
    rows = wait_for(engine, marker, 3)
    got = {r["message"]: r for r in rows}
    assert got[lines[0]]["level"] == "info"
    assert got[lines[0]]["host"] == "127.0.0.1"
    assert got[lines[1]]["level"] == "info"
    # A valid PRI with no header: RFC 3164 says the rest is the content.
    assert got[f"1 garbage {marker}"]["level"] == "info"


def test_tcp_frames_split_across_packets(engine, receiver):
    marker = uuid.uuid4().hex
    message = f"<11>1 2026-01-02T03:04:05Z web-1 app 42 - - split {marker}".encode()
    framed = str(len(message)).encode() + b" " + message
    with socket.create_connection(("127.0.0.1", receiver.port)) as tcp:
        tcp.sendall(framed[:10])
        tcp.sendall(framed[10:] + b"<14>Mar  3 04:05:06 web-2 cron[7]: newline " + marker.encode())
    rows = wait_for(engine, marker, 2)
    assert [r["host"] for r in rows] == ["web-1", "web-2"]
    assert rows[0]["attrs"]["procid"] == "42"
    assert rows[1]["attrs"] == {
        "facility": "user", "severity": 6, "format": "rfc3164", "app": "cron", "procid": "7",
    }  # fmt: skip


def test_port_taken_is_reported_not_fatal(engine, receiver):
    second = SyslogReceiver("127.0.0.1", receiver.port, LogStore(engine).write)
    assert second.start() is False
    assert set(second.errors) == {"udp", "tcp"}
    assert "in use" in second.errors["tcp"].lower()
    second.stop()


def test_full_buffer_counts_drops():
    rx = SyslogReceiver("127.0.0.1", 0, lambda batch: len(batch), buffer_limit=2)
    for i in range(5):
        rx.receive(f"<13>line {i}", "10.0.0.1")
    assert (rx.buffered, rx.dropped, rx.received) == (2, 3, 5)
    assert rx.flush() and rx.written == 2


def test_failed_write_keeps_records():
    calls: list[int] = []

    def flaky(batch) -> int:
        calls.append(len(batch))
        if len(calls) == 1:
            raise OSError("database away")
        return len(batch)

    rx = SyslogReceiver("127.0.0.1", 0, flaky)
    rx.receive("<13>kept", "h")
    assert rx.flush() is False and rx.buffered == 1
    assert rx.flush() is True and rx.written == 1 and rx.write_errors == 1


# -- parser table ----------------------------------------------------------------------------

CASES = [
    # RFC 5424 with everything
    (
        '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 99 ID47 '
        '[exampleSDID@32473 iut="3" eventSource="App\\"li\\]c"][meta seq="1"] \ufeffAn event',
        "info", "mymachine.example.com", "An event",
        datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC),
        {"facility": "local4", "severity": 5, "format": "rfc5424", "app": "evntslog",
         "procid": "99", "msgid": "ID47",
         "sd": {"exampleSDID@32473": {"iut": "3", "eventSource": 'App"li]c'},
                "meta": {"seq": "1"}}},
    ),
    # RFC 5424 with nil values, an offset time and no message
    (
        "<34>1 2003-08-24T05:14:15.000003-07:00 - - - - -", "critical", "peer", "",
        datetime(2003, 8, 24, 12, 14, 15, 3, tzinfo=UTC),
        {"facility": "auth", "severity": 2, "format": "rfc5424"},
    ),
    # RFC 3164 with host, tag and pid; the year is the current one
    (
        "<34>Feb 11 22:14:15 mymachine su[230]: 'su root' failed", "critical", "mymachine",
        "'su root' failed", datetime(2026, 2, 11, 22, 14, 15, tzinfo=UTC),
        {"facility": "auth", "severity": 2, "format": "rfc3164", "app": "su", "procid": "230"},
    ),
    # RFC 3164 without a hostname (as from /dev/log); a single-digit day
    (
        "<15>Mar  1 00:00:01 cron: job done", "debug", "peer", "job done",
        datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC),
        {"facility": "user", "severity": 7, "format": "rfc3164", "app": "cron"},
    ),
    # December seen in March is last year's
    (
        "<12>Dec 31 23:59:59 h t: x", "warning", "h", "x",
        datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
        {"facility": "user", "severity": 4, "format": "rfc3164", "app": "t"},
    ),
    # A PRI and nothing recognisable: the rest is the message
    (
        "<11>just words", "error", "peer", "just words", NOW,
        {"facility": "user", "severity": 3, "format": "rfc3164"},
    ),
    # No PRI: the whole line, level info
    (
        "plain text, no header", "info", "peer", "plain text, no header", NOW,
        {"format": "unknown"},
    ),
    (
        "<200>out of range", "info", "peer", "<200>out of range", NOW, {"format": "unknown"},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("line", "level", "host", "message", "ts", "attrs"), CASES)
def test_parse(line, level, host, message, ts, attrs):
    entry = parse(line, "peer", NOW)
    assert (entry.level, entry.host, entry.message, entry.ts, entry.attrs) == (
        level, host, message, ts, attrs,
    )  # fmt: skip
    assert entry.source == "syslog"


def test_split_frames():
    frames, rest = split_frames(b"5 hello3 abc\nline one\r\nline two\x00partial")
    assert frames == [b"hello", b"abc", b"line one", b"line two"]
    assert rest == b"partial"
    assert split_frames(b"12 short") == ([], b"12 short")


@pytest.mark.parametrize(
    ("addr", "expected"),
    [("127.0.0.1:514", ("127.0.0.1", 514)), ("[::1]:5140", ("::1", 5140)),
     ("0.0.0.0:0", ("0.0.0.0", 0))],
)  # fmt: skip
def test_parse_addr(addr, expected):
    assert parse_addr(addr) == expected


def test_settings_validate_syslog_addr_and_tail_files(tmp_path):
    env = {
        "PULSEBOARD_DATA_DIR": str(tmp_path),
        "PULSEBOARD_SECRET_KEY": "k",
        "PULSEBOARD_SYSLOG_ADDR": "127.0.0.1:5514",
        "PULSEBOARD_TAIL_FILES": "/var/log/*.log, /srv/app/**/*.log",
    }
    settings = Settings.from_env(env)
    assert settings.syslog_addr == "127.0.0.1:5514"
    assert settings.tail_files == ("/var/log/*.log", "/srv/app/**/*.log")
    for bad in ("localhost", "host:port", "::1:514", "h:70000", ":514"):
        with pytest.raises(SettingsError, match="PULSEBOARD_SYSLOG_ADDR"):
            Settings.from_env({**env, "PULSEBOARD_SYSLOG_ADDR": bad})
