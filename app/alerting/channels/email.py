"""E-mail: a multipart/alternative message (plain text and HTML, every value escaped, for
labels come from data) through the server of ``PULSEBOARD_SMTP_URL`` (plain, STARTTLS or
TLS), from ``PULSEBOARD_SMTP_FROM``, to the channel's recipients."""

from __future__ import annotations

import email.policy
import html
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from app.alerting import templates
from app.alerting.channels.base import ANSWER_CHARS, ChannelConfigError
from app.alerting.notification import Answer, DeliveryContext, Notification

ADDRESS = re.compile(r"[^@\s<>,;:\"'()\[\]\\]+@[^@\s<>,;:\"'()\[\]\\]+")
MAX_ADDRESS = 254
MAX_RECIPIENTS = 50
TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to hand mail over, as ``PULSEBOARD_SMTP_URL`` says."""

    host: str
    port: int
    user: str | None = None
    password: str | None = None
    tls: bool = False
    """``smtps://``: TLS from the first byte."""
    starttls: bool = False
    """``smtp://…?starttls=true``: upgrade the plain connection before logging in."""


def smtp_server(url: str) -> SmtpServer:
    """The server of ``smtp://user:pass@host:587?starttls=true``, ``smtps://user:pass@host``
    or ``smtp://host:25``; ValueError saying what is wrong otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("must look like smtp://host:25 or smtps://user:pass@host:465")
    tls = parts.scheme == "smtps"
    query = dict(parse_qsl(parts.query))
    return SmtpServer(
        host=parts.hostname,
        port=parts.port or (465 if tls else 25),
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
        starttls=not tls and query.get("starttls", "").lower() in TRUE,
    )


def recipients(value: Any) -> list[str]:
    """The ``to`` addresses (a list, or one string separated by commas), checked and
    deduplicated; ChannelConfigError naming ``to`` otherwise."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ChannelConfigError("to", "must be a list of e-mail addresses")
    addresses = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    if not addresses:
        raise ChannelConfigError("to", "needs at least one e-mail address")
    if len(addresses) > MAX_RECIPIENTS:
        raise ChannelConfigError("to", f"takes at most {MAX_RECIPIENTS} addresses")
    for address in addresses:
        if len(address) > MAX_ADDRESS or not ADDRESS.fullmatch(address):
            raise ChannelConfigError("to", f"{address!r} is not an e-mail address")
    return addresses


def html_body(msg: templates.Message) -> str:
    """``msg`` as an HTML document, every value escaped."""
    e = html.escape
    out = [f"<h2>{e(msg.title)}</h2>"]
    for alert in msg.alerts:
        out.append(f"<h3>{e(alert.heading)}</h3>")
        out += [
            f"<p>{e(t).replace(chr(10), '<br>')}</p>"
            for t in (alert.summary, alert.description)
            if t
        ]
        rows = "".join(
            f'<tr><th align="left">{e(k)}</th><td>{e(v)}</td></tr>' for k, v in alert.facts
        )
        out.append(f"<table>{rows}</table>")
        if alert.links:
            links = " · ".join(
                f'<a href="{e(link.url)}">{e(link.text)}</a>' for link in alert.links
            )
            out.append(f"<p>{links}</p>")
        if alert.lines:
            out.append(f"<pre>{e(chr(10).join(alert.lines))}</pre>")
    out += [f"<p><em>{e(note)}</em></p>" for note in msg.notes]
    body = "\n".join(out)
    head = '<head><meta charset="utf-8"></head>'
    return f"<!DOCTYPE html>\n<html>{head}<body>\n{body}\n</body></html>\n"


def build(notification: Notification, sender: str, to: list[str]) -> EmailMessage:
    """The mail for ``notification``: subject the default title, text and HTML parts."""
    msg = templates.message(notification)
    mail = EmailMessage()
    mail["Subject"] = msg.title
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or None)
    mail.set_content(templates.plain_text(msg))
    mail.add_alternative(html_body(msg), subtype="html")
    return mail


class Email:
    """Mail through the server's SMTP relay."""

    kind = "email"

    def validate(self, config: dict[str, Any], context: DeliveryContext) -> dict[str, Any]:
        """``to`` (recipients); refused as ``kind`` when the server has no usable SMTP URL."""
        if not context.smtp_url:
            raise ChannelConfigError(
                "kind", "e-mail needs a mail server, and PULSEBOARD_SMTP_URL is not set"
            )
        try:
            smtp_server(context.smtp_url)
        except ValueError as exc:
            raise ChannelConfigError("kind", f"PULSEBOARD_SMTP_URL {exc}") from exc
        return {"to": recipients(config.get("to"))}

    def send(
        self, config: dict[str, Any], notification: Notification, context: DeliveryContext
    ) -> Answer:
        """Hand the mail to the SMTP server; the answer carries its final reply code."""
        if not context.smtp_url:
            return Answer(False, None, "PULSEBOARD_SMTP_URL is not set", retry=False)
        try:
            server = smtp_server(context.smtp_url)
        except ValueError as exc:
            return Answer(False, None, f"PULSEBOARD_SMTP_URL {exc}", retry=False)
        sender = context.smtp_from or f"Pulseboard <pulseboard@{server.host}>"
        to = config["to"]
        mail = build(notification, sender, to)
        try:
            return _deliver(server, context.timeout, parseaddr(sender)[1], to, mail)
        except smtplib.SMTPResponseException as exc:
            return _refused(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPException, OSError) as exc:
            return Answer(False, None, f"{type(exc).__name__}: {exc}"[:ANSWER_CHARS])


def _deliver(
    server: SmtpServer, timeout: float, sender: str, to: list[str], mail: EmailMessage
) -> Answer:
    tls = ssl.create_default_context()
    connect = smtplib.SMTP_SSL if server.tls else smtplib.SMTP
    extra = {"context": tls} if server.tls else {}
    with connect(server.host, server.port, timeout=timeout, **extra) as smtp:
        if server.starttls:
            smtp.starttls(context=tls)
        if server.user:
            smtp.login(server.user, server.password or "")
        smtp.ehlo_or_helo_if_needed()
        code, reply = smtp.mail(sender)
        if code != 250:
            return _refused(code, reply)
        refused = []
        for address in to:
            code, reply = smtp.rcpt(address)
            if code not in (250, 251):
                refused.append(address)
        if len(refused) == len(to):
            return _refused(code, reply)
        # smtplib sends bytes as they are, so the lines must already end in CRLF.
        code, reply = smtp.data(mail.as_bytes(policy=email.policy.SMTP))
        if code != 250:
            return _refused(code, reply)
        said = reply.decode(errors="replace")
        if refused:
            said += f" (refused: {', '.join(refused)})"
        return Answer(True, code, said[:ANSWER_CHARS])


def _refused(code: int, reply: bytes | str) -> Answer:
    # SMTP's own rule: 4xx is transient, 5xx permanent.
    said = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return Answer(False, code, said[:ANSWER_CHARS], retry=400 <= code < 500)
