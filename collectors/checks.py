"""Dependency checks: HTTP(S), TCP and DNS probes, and the collector that runs the due
ones in a small thread pool and hands their results to the scheduler as blackbox_exporter's
``probe_*`` metrics.

Checks are set up by admins to reach internal services on purpose, so unlike the alert
channels they may reach loopback and private addresses; only the scheme (http, https) and
the shape of hosts and ports are refused.

HTTP goes through ``http.client`` with one connection per hop: it hands over the TLS
socket, whose certificate is read even when it was not verified, and each step can be
bounded by what is left of the probe's timeout.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import SplitResult, urljoin, urlsplit

from collectors.base import Field, Sample
from storage.diagnostics.checks import CheckRecord, CheckResult, CheckStore

log = logging.getLogger(__name__)

_C = ("check",)
FIELDS = (
    Field("probe_success", "bool", "1 when the dependency check's probe succeeded", labels=_C),
    Field("probe_duration_seconds", "seconds", "How long the probe took", labels=_C),
    Field(
        "probe_http_status_code", "status", "HTTP status of the final response (0: none)", labels=_C
    ),
    Field(
        "probe_ssl_earliest_cert_expiry",
        "epoch seconds",
        "When the server's TLS certificate expires",
        labels=_C,
    ),
)
MAX_REDIRECTS = 5
BODY_LIMIT = 1024 * 1024
"""Bytes of a response body read to look for the keyword; the rest is not read."""
CERT_WARN_DAYS = 14
"""A certificate expiring sooner than this is named in the detail (the check stays up)."""
DETAIL_CHARS = 300
WORKERS = 4
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")


@dataclass(frozen=True, slots=True)
class Probe:
    """What one probe found: up or down, how long it took and why."""

    up: bool
    duration: float
    detail: str
    status_code: int | None = None
    cert_expiry: float | None = None
    """Epoch seconds when the server's certificate expires (HTTPS only)."""
    addresses: tuple[str, ...] = ()
    """What a DNS check resolved to."""


# -- what may be probed ----------------------------------------------------------------


def valid_host(host: str) -> bool:
    """Whether ``host`` is a host name or an IP address literal."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOST_NAME.fullmatch(host))
    return True


def split_url(url: str) -> SplitResult:
    """``url`` split, if it is an http(s) URL with a valid host and port (ValueError
    saying what is wrong otherwise)."""
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError("must not contain spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials")
    if not parts.hostname or not valid_host(parts.hostname):
        raise ValueError("must name a valid host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("port must be 1 to 65535") from None
    if port == 0:
        raise ValueError("port must be 1 to 65535")
    return parts


# -- probes ----------------------------------------------------------------------------


def _failure(exc: BaseException, timeout: float) -> str:
    """A short reason for a probe that raised."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS verify failed: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"timed out after {timeout:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}"


def _cert_expiry(sock: socket.socket | None) -> float | None:
    """The expiry of the peer's certificate, read whether or not it was verified."""
    if not isinstance(sock, ssl.SSLSocket):
        return None
    der = sock.getpeercert(binary_form=True)
    if not der:
        return None
    # cryptography's bindings hold about 10 MiB: loaded only once an HTTPS check runs.
    from cryptography import x509

    return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()


def _tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    location: str | None
    body: bytes
    cert_expiry: float | None


def _get(parts: SplitResult, deadline: float, verify: bool, read_body: bool) -> _Reply:
    """One GET of ``parts``, every step bounded by what is left until ``deadline``."""

    def left() -> float:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise TimeoutError
        return remaining

    host, port = parts.hostname or "", parts.port
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=left(), context=_tls_context(verify)
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=left())
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(
            "GET", target, headers={"User-Agent": "Pulseboard-Check", "Connection": "close"}
        )
        expiry = _cert_expiry(conn.sock)
        conn.sock.settimeout(left())
        response = conn.getresponse()
        body = b""
        # Each read waits at most the socket's timeout; the deadline is checked between.
        while read_body and len(body) < BODY_LIMIT and left():
            chunk = response.read1(min(65536, BODY_LIMIT - len(body)))
            if not chunk:
                break
            body += chunk
        return _Reply(response.status, response.getheader("Location"), body, expiry)
    finally:
        conn.close()


def probe_http(
    url: str,
    timeout: float,
    expect_status: int = 200,
    keyword: str | None = None,
    verify_tls: bool = True,
    now: Callable[[], float] = time.time,
) -> Probe:
    """GET ``url`` (redirects followed up to MAX_REDIRECTS): up when the final status is
    ``expect_status`` and the body holds ``keyword``; the certificate expiry is the
    earliest of the HTTPS hops', whether or not it was verified."""
    started = time.perf_counter()
    deadline = started + timeout
    expiries: list[float] = []
    try:
        for _ in range(MAX_REDIRECTS + 1):
            reply = _get(split_url(url), deadline, verify_tls, keyword is not None)
            if reply.cert_expiry is not None:
                expiries.append(reply.cert_expiry)
            if reply.status not in REDIRECTS or not reply.location:
                break
            url = urljoin(url, reply.location)
        else:
            return _probe(False, started, f"more than {MAX_REDIRECTS} redirects", reply.status)
    except (OSError, http.client.HTTPException) as exc:  # TLS errors are ValueErrors too
        return _probe(False, started, _failure(exc, timeout), 0)
    except ValueError as exc:  # a redirect to a URL no check may have
        return _probe(False, started, f"refused {url}: URL {exc}")
    expiry = min(expiries, default=None)
    if reply.status != expect_status:
        detail, up = f"HTTP {reply.status}, expected {expect_status}", False
    elif keyword is not None and keyword.encode() not in reply.body:
        detail, up = f"keyword {keyword!r} not found", False
    else:
        detail, up = f"HTTP {reply.status}", True
    if expiry is not None:
        days = (expiry - now()) / 86400
        if days < 0:
            detail += f"; certificate expired {-days:.0f} days ago"
        elif days < CERT_WARN_DAYS:
            detail += f"; certificate expires in {days:.0f} days"
    return _probe(up, started, detail, reply.status, expiry)


def _probe(
    up: bool,
    started: float,
    detail: str,
    status: int | None = None,
    expiry: float | None = None,
    addresses: tuple[str, ...] = (),
) -> Probe:
    duration = time.perf_counter() - started
    return Probe(up, duration, detail[:DETAIL_CHARS], status, expiry, addresses)


def probe_tcp(host: str, port: int, timeout: float) -> Probe:
    """Up when a TCP connection to ``host:port`` opens within ``timeout``."""
    started = time.perf_counter()
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return _probe(False, started, _failure(exc, timeout))
    return _probe(True, started, "connected")


def probe_dns(host: str, timeout: float) -> Probe:
    """Up when ``host`` resolves within ``timeout``; the addresses it resolved to."""
    started = time.perf_counter()
    outcome: list = []

    def resolve() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP))
        except OSError as exc:
            outcome.append(exc)

    # getaddrinfo takes no timeout: it runs aside, and a late answer is dropped.
    resolver = threading.Thread(target=resolve, name=f"dns-check-{host}", daemon=True)
    resolver.start()
    resolver.join(timeout)
    if not outcome:
        return _probe(False, started, f"timed out after {timeout:g}s")
    if isinstance(outcome[0], OSError):
        return _probe(False, started, _failure(outcome[0], timeout))
    addresses = tuple(dict.fromkeys(info[4][0] for info in outcome[0]))
    return _probe(True, started, "resolved to " + ", ".join(addresses), addresses=addresses)


def probe(check: CheckRecord) -> Probe:
    """Run ``check``'s probe once."""
    spec, timeout = check.spec, check.timeout_s
    if check.kind == "http":
        return probe_http(
            spec["url"],
            timeout,
            spec.get("expect_status", 200),
            spec.get("keyword"),
            spec.get("verify_tls", True),
        )
    if check.kind == "tcp":
        return probe_tcp(spec["host"], spec["port"], timeout)
    if check.kind == "dns":
        return probe_dns(spec["host"], timeout)
    raise ValueError(f"unknown check kind {check.kind!r}")


def samples(check: CheckRecord, result: Probe, host: str, ts: float) -> list[Sample]:
    """The ``probe_*`` samples of one result, labelled with the check's name."""
    labels = {"check": check.name}
    out = [
        Sample(ts, host, "probe_success", 1.0 if result.up else 0.0, labels),
        Sample(ts, host, "probe_duration_seconds", result.duration, labels),
    ]
    if check.kind == "http":
        out.append(
            Sample(ts, host, "probe_http_status_code", float(result.status_code or 0), labels)
        )
    if result.cert_expiry is not None:
        out.append(Sample(ts, host, "probe_ssl_earliest_cert_expiry", result.cert_expiry, labels))
    return out


# -- the collector ---------------------------------------------------------------------


class CheckCollector:
    """Runs the due enabled checks in a small thread pool (``tick``, the leader's job every
    second) and yields their samples at the next collection (``collect``), so the
    scheduler stores, buffers and publishes them with everything else.

    A check runs again once ``interval_s`` has passed since its last run and its previous
    probe has finished; a slow probe holds one worker for at most its timeout, never the
    tick or the other checks.
    """

    name = "checks"
    fields = FIELDS

    def __init__(
        self,
        host: str,
        store: CheckStore,
        workers: int = WORKERS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.store = store
        self.clock = clock
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._running: set[int] = set()
        self._done: list[Sample] = []
        self._lock = threading.Lock()

    def tick(self) -> list[Future]:
        """Start every due check that is not running yet; the futures of those started."""
        now = self.clock()
        due = [
            c
            for c in self.store.list(enabled_only=True)
            if c.last_run_at is None or now >= c.last_run_at + c.interval_s
        ]
        started = []
        with self._lock:
            due = [c for c in due if c.id not in self._running]
            if due and self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="check")
            for check in due:
                self._running.add(check.id)
                started.append(self._pool.submit(self._run, check, now))
        return started

    def _run(self, check: CheckRecord, now: float) -> Probe | None:
        try:
            result = probe(check)
            with self._lock:
                self._done.extend(samples(check, result, self.host, now))
            self.store.record_result(
                check.id,
                CheckResult(
                    now,
                    result.up,
                    round(result.duration * 1000, 3),
                    result.detail,
                    result.cert_expiry,
                ),
            )
            return result
        except Exception:
            log.exception("check %s failed to run", check.name)
            return None
        finally:
            with self._lock:
                self._running.discard(check.id)

    def collect(self, now: float) -> list[Sample]:
        """The samples of the probes finished since the last collection."""
        with self._lock:
            done, self._done = self._done, []
        return done

    def close(self) -> None:
        """Stop the pool; probes under way end by their timeouts."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
