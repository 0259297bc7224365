"""E-mail through a real SMTP server (aiosmtpd): a multipart/alternative mail with text
and HTML parts, values escaped in the HTML, the SMTP reply code as the answer's status."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import replace

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from app.alerting import channels
from app.alerting.channels.email import smtp_server
from tests.alerting.channels.conftest import LOCAL, alert, free_port, notification


class Inbox:
    """An aiosmtpd handler that keeps what it received and may refuse recipients."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], bytes]] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 queued as 4711"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"alerts" and auth_data.password == b"p@ss"
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield handler, port
    controller.stop()


def context(port: int, credentials: str = "alerts:p%40ss@"):
    return replace(
        LOCAL,
        smtp_url=f"smtp://{credentials}127.0.0.1:{port}",
        smtp_from="Pulseboard <alerts@pulse.example>",
    )


def test_the_mail_arrives_with_a_text_and_an_escaped_html_part(inbox):
    handler, port = inbox
    ctx = context(port)
    config = channels.validate("email", {"to": ["ops@example.com", " dba@example.com "]}, ctx)
    assert config == {"to": ["ops@example.com", "dba@example.com"]}
    hostile = alert(labels={**alert().labels, "host": "<script>alert(1)</script>"})
    answer = channels.send("email", config, notification(hostile), ctx)
    assert (answer.ok, answer.status) == (True, 250)
    assert "queued as 4711" in answer.answer
    [(sender, rcpts, raw)] = handler.mails
    assert (sender, rcpts) == ("alerts@pulse.example", ["ops@example.com", "dba@example.com"])
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Subject"] == "[FIRING:1] Disk almost full (web-1)"
    assert mail["From"] == "Pulseboard <alerts@pulse.example>"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content()
    page = mail.get_body(("html",)).get_content()
    assert "host: <script>alert(1)</script>" in text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<a href="http://pulse.example/alerts/7?ack=1">Acknowledge</a>' in page


def test_wrong_credentials_are_a_permanent_smtp_failure(inbox):
    _, port = inbox
    ctx = context(port, "alerts:wrong@")
    answer = channels.send("email", {"to": ["ops@example.com"]}, notification(), ctx)
    assert (answer.ok, answer.status, answer.retry) == (False, 535, False)


def test_a_refused_recipient_is_reported_and_the_others_still_get_the_mail(inbox):
    handler, port = inbox
    handler.refuse = {"gone@example.com"}
    config = {"to": ["gone@example.com", "ops@example.com"]}
    answer = channels.send("email", config, notification(), context(port))
    assert (answer.ok, answer.status) == (True, 250)
    assert "refused: gone@example.com" in answer.answer
    assert handler.mails[0][1] == ["ops@example.com"]


def test_all_recipients_refused_is_a_failure_with_the_servers_code(inbox):
    handler, port = inbox
    handler.refuse = {"gone@example.com"}
    answer = channels.send("email", {"to": ["gone@example.com"]}, notification(), context(port))
    assert (answer.ok, answer.status, answer.retry) == (False, 550, False)
    assert handler.mails == []


def test_a_mail_server_that_is_down_is_worth_retrying():
    answer = channels.send(
        "email", {"to": ["ops@example.com"]}, notification(), context(free_port())
    )
    assert (answer.ok, answer.status, answer.retry) == (False, None, True)


def test_an_email_channel_is_refused_while_no_mail_server_is_configured():
    with pytest.raises(channels.ChannelConfigError) as refused:
        channels.validate("email", {"to": ["ops@example.com"]}, LOCAL)
    assert refused.value.field == "kind"
    assert "PULSEBOARD_SMTP_URL is not set" in refused.value.message


@pytest.mark.parametrize(
    "to",
    [
        [],
        "",
        ["not-an-address"],
        ["a@b.c\r\nBcc: x@y.z"],
        ["a@b.c", 3],
        {"a": "b"},
        ["x" * 251 + "@b.c"],
    ],
)
def test_recipients_that_are_not_addresses_are_refused_naming_to(to):
    with pytest.raises(channels.ChannelConfigError) as refused:
        channels.validate("email", {"to": to}, context(25))
    assert refused.value.field == "to"


def test_smtp_urls_say_how_to_connect():
    assert smtp_server("smtp://u:p%2F@mail.example:587?starttls=true") == smtp_server(
        "smtp://u:p%2F@mail.example:587?starttls=1"
    )
    plain = smtp_server("smtp://mail.example")
    assert (plain.port, plain.tls, plain.starttls, plain.user) == (25, False, False, None)
    tls = smtp_server("smtps://u:p%2F@mail.example")
    assert (tls.port, tls.tls, tls.user, tls.password) == (465, True, "u", "p/")
    assert smtp_server("smtp://u:p@mail.example:587?starttls=true").starttls is True
    with pytest.raises(ValueError):
        smtp_server("http://mail.example")
