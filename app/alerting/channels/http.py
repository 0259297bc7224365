"""HTTP for channels: one POST to a URL checked at send time, connected to the address the
check resolved (TLS still verifies the URL's host name), redirects never followed, and
the receiver's answer judged by one rule for every kind."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError

from app.alerting import urls
from app.alerting.channels.base import ANSWER_CHARS, secret_field, url_field
from app.alerting.notification import Answer, DeliveryContext, Notification

READ_LIMIT = 64 * 1024
NOT_RETRIED = frozenset(range(400, 500)) - {408, 429}
"""Statuses that sending the same request again cannot change."""


@dataclass(frozen=True, slots=True)
class Reply:
    """What the receiver answered: its status and its body (up to READ_LIMIT bytes)."""

    status: int
    text: str


Judge = Callable[[Reply], Answer]


def by_status(reply: Reply) -> Answer:
    """The answer by HTTP status alone: 2xx taken; a 4xx (but 408, 429) not worth retrying."""
    said = reply.text[:ANSWER_CHARS]
    if 200 <= reply.status < 300:
        return Answer(True, reply.status, said)
    if 300 <= reply.status < 400:
        return Answer(False, reply.status, f"redirect not followed: {said}", retry=False)
    return Answer(False, reply.status, said, retry=reply.status not in NOT_RETRIED)


def deliver(
    url: str,
    body: bytes,
    context: DeliveryContext,
    headers: dict[str, str] | None = None,
    judge: Judge = by_status,
) -> Answer:
    """POST ``body`` (JSON) to ``url`` and judge the reply; failures become answers too."""
    try:
        reply = post(url, body, context, headers or {})
    except urls.RefusedURL as exc:
        return Answer(False, None, f"refused: {exc}", retry=exc.retry)
    except (HTTPError, OSError) as exc:
        return Answer(False, None, f"{type(exc).__name__}: {exc}"[:ANSWER_CHARS])
    return judge(reply)


def post(url: str, body: bytes, context: DeliveryContext, headers: dict[str, str]) -> Reply:
    """POST ``body`` to ``url`` after checking it, trying its checked addresses in order."""
    checked = urls.check(url, allow_private=context.allow_private)
    parts = urlsplit(checked.url)
    sent = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Pulseboard-Alerting",
        **headers,
        "Host": parts.netloc.rpartition("@")[2],
    }
    if parts.username is not None:
        user_pass = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        sent["Authorization"] = "Basic " + base64.b64encode(user_pass.encode()).decode()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    error: NewConnectionError | None = None
    for address in checked.addresses:
        pool = _pool(checked, address, context.timeout)
        try:
            response = pool.urlopen(
                "POST",
                target,
                body=body,
                headers=sent,
                redirect=False,
                retries=False,
                assert_same_host=False,
                preload_content=False,
            )
            text = response.read(READ_LIMIT).decode("utf-8", errors="replace")
            location = response.headers.get("Location", "")
            return Reply(response.status, text or location)
        except NewConnectionError as exc:  # the next address of the host may answer
            error = exc
        finally:
            pool.close()
    raise error or urls.UnresolvedHost(f"{checked.host} has no address")


def _pool(checked: urls.CheckedURL, address: str, timeout: float) -> urllib3.HTTPConnectionPool:
    limits = urllib3.Timeout(connect=timeout, read=timeout)
    if checked.scheme == "https":
        tls = ssl.create_default_context()
        # The socket goes to an address, so urllib3 matches the certificate against
        # ``assert_hostname`` itself (host names and IP literals alike).
        tls.check_hostname = False
        return urllib3.HTTPSConnectionPool(
            address,
            checked.port,
            timeout=limits,
            maxsize=1,
            ssl_context=tls,
            cert_reqs="CERT_REQUIRED",
            server_hostname=checked.host,
            assert_hostname=checked.host,
        )
    return urllib3.HTTPConnectionPool(address, checked.port, timeout=limits, maxsize=1)


class HttpChannel:
    """A kind that POSTs JSON to the URL in its config: subclasses build the request and
    may judge the reply by the receiver's own success field."""

    kind: str
    signs = False
    """Whether the kind takes an optional ``secret`` to sign its requests."""

    def validate(self, config: dict[str, Any], context: DeliveryContext) -> dict[str, Any]:
        """``url`` (checked) and, for a kind that signs, the optional ``secret``."""
        checked: dict[str, Any] = {"url": url_field(config, context)}
        if self.signs and (secret := secret_field(config)):
            checked["secret"] = secret
        return checked

    def send(
        self, config: dict[str, Any], notification: Notification, context: DeliveryContext
    ) -> Answer:
        """Build the kind's request for ``notification`` and deliver it."""
        url, payload, headers = self.request(config, notification, context)
        return deliver(url, payload, context, headers, self.judge)

    def request(
        self, config: dict[str, Any], notification: Notification, context: DeliveryContext
    ) -> tuple[str, bytes, dict[str, str]]:
        """The URL, body and extra headers of the POST that carries ``notification``."""
        raise NotImplementedError

    def judge(self, reply: Reply) -> Answer:
        """Whether the receiver took the notification (by HTTP status unless overridden)."""
        return by_status(reply)


def encode(payload: Any) -> bytes:
    """``payload`` as the compact UTF-8 JSON sent (and signed) byte for byte."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def by_code(
    reply: Reply, fields: tuple[str, ...], message_field: str, busy: frozenset[int]
) -> Answer:
    """The answer of a robot that says 200 and puts success in a code field (0 is taken):
    the first of ``fields`` present; codes in ``busy`` (rate limits) are worth retrying."""
    if reply.status != 200:
        return by_status(reply)
    said = reply.text[:ANSWER_CHARS]
    try:
        body = json.loads(reply.text)
    except ValueError:
        return Answer(False, reply.status, said)
    if not isinstance(body, dict):
        return Answer(False, reply.status, said)
    code = next((body[f] for f in fields if f in body), None)
    if code == 0:
        return Answer(True, reply.status, said)
    said = str(body.get(message_field) or said)[:ANSWER_CHARS]
    return Answer(False, reply.status, said, retry=code in busy)
