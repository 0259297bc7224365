"""Syslog receiver: RFC 5424 and RFC 3164 over UDP and TCP (RFC 6587 framing), batched writes.

Every received line becomes a ``LogEntry`` with source ``syslog``; a line that is neither
RFC 5424 nor RFC 3164 is kept whole as the message (level info), never dropped. Records are
handed to a write callable (``LogStore.write``) from a background thread in batches; the
buffer is bounded and counts what it had to drop.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import socketserver
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from storage.logs import LogEntry

log = logging.getLogger(__name__)

SOURCE = "syslog"
MAX_FRAME = 64 * 1024
"""Bytes of one TCP frame that are kept; longer newline-delimited lines are cut there."""

FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
SEVERITY_LEVELS = (
    "critical", "critical", "critical", "error", "warning", "info", "info", "debug",
)  # fmt: skip
"""Pulseboard level of each syslog severity 0 (emerg) .. 7 (debug)."""

_PRI = re.compile(r"<(\d{1,3})>")
_5424_HEAD = re.compile(r"([1-9]\d{0,2}) (\S+) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32}) ")
_5424_TS = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)", re.I
)
_SD_ELEMENT = re.compile(r'\[([^ =\]"]{1,32})((?: [^ =\]"]{1,32}="(?:[^"\\]|\\.)*")*) ?\]')
_SD_PARAM = re.compile(r' ([^ =\]"]{1,32})="((?:[^"\\]|\\.)*)"')
_3164_TS = re.compile(
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d\d):(\d\d):(\d\d) "
)
_3164_TAG = re.compile(r"([^\s:\[\]]{1,48})(?:\[([^\]\s]{1,32})\])?:(?: |$)")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # fmt: skip
_BOM = "\ufeff"


def _level(pri: int) -> tuple[str, dict]:
    facility = pri >> 3
    name = FACILITIES[facility] if facility < len(FACILITIES) else str(facility)
    return SEVERITY_LEVELS[pri & 7], {"facility": name, "severity": pri & 7}


def parse(line: str, peer: str, now: datetime | None = None) -> LogEntry:
    """One syslog message as a ``LogEntry``; ``peer`` is the host when the line names none."""
    now = now or datetime.now(UTC)
    line = line.rstrip("\r\n\x00")
    match = _PRI.match(line)
    if match is None or int(match.group(1)) > 191:
        return LogEntry(now, "info", SOURCE, peer, line, {"format": "unknown"})
    pri, rest = int(match.group(1)), line[match.end() :]
    return _parse_5424(pri, rest, peer, now) or _parse_3164(pri, rest, peer, now)


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def _parse_5424(pri: int, rest: str, peer: str, now: datetime) -> LogEntry | None:
    head = _5424_HEAD.match(rest + " ")
    if head is None or head.group(1) != "1":
        return None
    _version, stamp, hostname, app, procid, msgid = head.groups()
    ts = now if stamp == "-" else _5424_time(stamp)
    if ts is None:
        return None
    body = (rest + " ")[head.end() :]
    structured: dict[str, dict[str, str]] = {}
    if body.startswith("- ") or body == "":
        body = body[2:]
    elif body.startswith("["):
        pos = 0
        while (element := _SD_ELEMENT.match(body, pos)) is not None:
            params = {
                name: re.sub(r'\\([\\"\]])', r"\1", value)
                for name, value in _SD_PARAM.findall(element.group(2))
            }
            structured.setdefault(element.group(1), {}).update(params)
            pos = element.end()
        if pos == 0 or (pos < len(body) and body[pos] != " "):
            return None
        body = body[pos + 1 :]
    else:
        return None
    message = body[:-1] if body.endswith(" ") else body  # the space added above
    level, attrs = _level(pri)
    attrs["format"] = "rfc5424"
    for key, value in (("app", app), ("procid", procid), ("msgid", msgid)):
        if _nil(value) is not None:
            attrs[key] = value
    if structured:
        attrs["sd"] = structured
    return LogEntry(ts, level, SOURCE, _nil(hostname) or peer, message.removeprefix(_BOM), attrs)


def _5424_time(stamp: str) -> datetime | None:
    match = _5424_TS.fullmatch(stamp)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        ts = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second),
            int((fraction or "0").ljust(6, "0")[:6]), tzinfo=UTC,
        )  # fmt: skip
    except ValueError:
        return None
    if zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        ts -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return ts


def _parse_3164(pri: int, rest: str, peer: str, now: datetime) -> LogEntry:
    level, attrs = _level(pri)
    attrs["format"] = "rfc3164"
    ts, host = now, peer
    stamp = _3164_TS.match(rest)
    if stamp is not None:
        ts = _3164_time(stamp.groups(), now)
        rest = rest[stamp.end() :]
        # HOSTNAME comes next unless the sender left it out (then the tag follows at once).
        first, _, after = rest.partition(" ")
        if first and _3164_TAG.match(rest) is None and after:
            host, rest = first, after
    tag = _3164_TAG.match(rest)
    if tag is not None:
        attrs["app"] = tag.group(1)
        if tag.group(2):
            attrs["procid"] = tag.group(2)
        rest = rest[tag.end() :]
    return LogEntry(ts, level, SOURCE, host, rest, attrs)


def _3164_time(parts: tuple[str, ...], now: datetime) -> datetime:
    """RFC 3164 has no year or zone: taken as UTC in the current year (last year if that
    would put it more than a day in the future, as at New Year)."""
    month, day, hour, minute, second = parts
    try:
        ts = datetime(
            now.year, _MONTHS.index(month) + 1, int(day), int(hour), int(minute), int(second),
            tzinfo=UTC,
        )  # fmt: skip
    except ValueError:  # Feb 29 outside a leap year, day 0...
        return now
    if ts - now > timedelta(days=1):
        with contextlib.suppress(ValueError):
            ts = ts.replace(year=now.year - 1)
    return ts


def parse_addr(addr: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) as a pair; ``ValueError`` if it is not one."""
    host, sep, port = addr.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected host:port, got {addr!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"write an IPv6 address in brackets, as [::1]:514, got {addr!r}")
    return host, int(port)


class _UDPHandler(socketserver.BaseRequestHandler):
    server: _UDPServer

    def handle(self) -> None:
        data = self.request[0]
        self.server.receiver.receive(data.decode("utf-8", "replace"), self.client_address[0])


class _TCPHandler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        receiver = self.server.receiver
        peer = self.client_address[0]
        conn: socket.socket = self.request
        conn.settimeout(0.5)
        buffer = b""
        while not receiver.stopping:
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            buffer += chunk
            frames, buffer = split_frames(buffer)
            for frame in frames:
                receiver.receive(frame.decode("utf-8", "replace"), peer)
        if buffer.strip(b"\r\n\x00 "):
            receiver.receive(buffer.decode("utf-8", "replace"), peer)


def split_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """Complete RFC 6587 frames at the start of ``buffer`` and the rest.

    A frame starting with a digit is octet-counted (``LEN SP MSG``); anything else ends at
    LF (or NUL). A line longer than ``MAX_FRAME`` without an end is cut there.
    """
    frames: list[bytes] = []
    while buffer:
        buffer = buffer.lstrip(b"\r\n\x00")
        count = re.match(rb"([1-9]\d{0,5}) ", buffer)
        if count is not None:
            end = count.end() + int(count.group(1))
            if len(buffer) < end:
                break
            frames.append(buffer[count.end() : end])
            buffer = buffer[end:]
            continue
        stop = min((i for i in (buffer.find(b"\n"), buffer.find(b"\x00")) if i >= 0), default=-1)
        if stop < 0:
            if len(buffer) >= MAX_FRAME:
                frames.append(buffer[:MAX_FRAME])
                buffer = buffer[MAX_FRAME:]
                continue
            break
        frames.append(buffer[:stop].rstrip(b"\r"))
        buffer = buffer[stop + 1 :]
    return [f for f in frames if f], buffer


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class _UDPServer(socketserver.UDPServer):
    max_packet_size = 65535

    def __init__(self, addr: tuple[str, int], receiver: SyslogReceiver) -> None:
        self.address_family = _family(addr[0])
        self.receiver = receiver
        super().__init__(addr, _UDPHandler)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, addr: tuple[str, int], receiver: SyslogReceiver) -> None:
        self.address_family = _family(addr[0])
        self.receiver = receiver
        super().__init__(addr, _TCPHandler)


class SyslogReceiver:
    """UDP and TCP syslog servers on ``host:port`` feeding ``write`` in batches."""

    def __init__(
        self,
        host: str,
        port: int,
        write: Callable[[Sequence[LogEntry]], int],
        *,
        flush_interval: float = 0.5,
        batch_size: int = 1000,
        buffer_limit: int = 100_000,
    ) -> None:
        self.host, self.port = host, port
        self.write = write
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.buffer_limit = buffer_limit
        self.received = 0
        self.written = 0
        self.dropped = 0
        self.write_errors = 0
        self.errors: dict[str, str] = {}
        """Why a server is not running (``udp``/``tcp`` -> error), e.g. the port is taken."""
        self.stopping = False
        self._buffer: deque[LogEntry] = deque()
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._servers: dict[str, socketserver.BaseServer] = {}
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> bool:
        """Bind and serve; a server that cannot bind is logged and left out. True if any runs."""
        self.stopping = False
        for proto, server_class in (("udp", _UDPServer), ("tcp", _TCPServer)):
            try:
                server = server_class((self.host, self.port), self)
            except OSError as exc:
                self.errors[proto] = f"{type(exc).__name__}: {exc}"
                log.error("syslog %s not listening on %s:%s: %s", proto, self.host, self.port, exc)
                continue
            self._servers[proto] = server
            self._spawn(server.serve_forever, f"syslog-{proto}", 0.2)
        if self._servers:
            self._spawn(self._flush_loop, "syslog-writer")
            log.info("syslog listening on %s (%s)", self.host, "+".join(self._servers))
        return bool(self._servers)

    def _spawn(self, target: Callable[..., object], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, write what is buffered, stop the writer."""
        self.stopping = True
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        self._servers.clear()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        self.flush()

    def address(self, proto: str) -> tuple[str, int] | None:
        """Where the ``udp`` or ``tcp`` server listens (None when it does not)."""
        server = self._servers.get(proto)
        return server.server_address[:2] if server else None  # type: ignore[return-value]

    # -- records -----------------------------------------------------------------------

    def receive(self, line: str, peer: str) -> None:
        """Parse one message and buffer it (dropped, and counted, when the buffer is full)."""
        if not line.strip("\r\n\x00 "):
            return
        entry = parse(line, peer)
        with self._cond:
            self.received += 1
            if len(self._buffer) >= self.buffer_limit:
                self.dropped += 1
                return
            self._buffer.append(entry)
            if len(self._buffer) >= self.batch_size:
                self._cond.notify()

    def _flush_loop(self) -> None:
        while not self.stopping:
            with self._cond:
                if len(self._buffer) < self.batch_size:
                    self._cond.wait(self.flush_interval)
            if not self.flush():
                time.sleep(self.flush_interval)  # the database is away: do not spin

    def flush(self) -> bool:
        """Write the buffer in batches now; False if a write failed (records kept)."""
        with self._write_lock:
            return self._flush()

    def _flush(self) -> bool:
        while True:
            with self._cond:
                batch = [self._buffer[i] for i in range(min(self.batch_size, len(self._buffer)))]
            if not batch:
                return True
            try:
                self.write(batch)
            except Exception as exc:
                self.write_errors += 1
                log.error("syslog: writing %d records failed (kept): %s", len(batch), exc)
                return False
            with self._cond:
                for _ in batch:
                    self._buffer.popleft()
                self.written += len(batch)

    @property
    def buffered(self) -> int:
        """Records waiting to be written."""
        return len(self._buffer)

    def snapshot(self) -> dict:
        """Counters and bind errors for health pages."""
        return {
            "listening": {p: f"{a[0]}:{a[1]}" for p in ("udp", "tcp") if (a := self.address(p))},
            "errors": dict(self.errors),
            "received": self.received,
            "written": self.written,
            "dropped": self.dropped,
            "buffered": self.buffered,
            "write_errors": self.write_errors,
        }
