"""HTTPS to a receiver: the connection goes to the address the URL check resolved, and
TLS still verifies the certificate against the URL's host name."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.alerting import channels
from tests.alerting.channels.conftest import LOCAL, notification
from tests.check_servers import self_signed


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch) -> Iterator[tuple[int, list[str]]]:
    """An HTTPS receiver on 127.0.0.1 whose certificate names ``localhost``, trusted
    through SSL_CERT_FILE; yields its port and the Host headers it saw."""
    cert, key, _ = self_signed(tmp_path, days=1, loopback_ip=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            hosts.append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server.server_port, hosts
    server.shutdown()
    server.server_close()
    thread.join()


def test_https_by_name_is_pinned_to_the_checked_address_and_verified_by_name(tls_receiver):
    port, hosts = tls_receiver
    answer = channels.send(
        "webhook", {"url": f"https://localhost:{port}/hook"}, notification(), LOCAL
    )
    assert (answer.ok, answer.status, answer.answer) == (True, 200, "ok")
    assert hosts == [f"localhost:{port}"]


def test_a_certificate_that_does_not_name_the_host_is_refused(tls_receiver):
    port, hosts = tls_receiver
    answer = channels.send(
        "webhook", {"url": f"https://127.0.0.1:{port}/hook"}, notification(), LOCAL
    )
    assert (answer.ok, answer.status) == (False, None)
    assert "doesn't match" in answer.answer or "mismatch" in answer.answer, answer.answer
    assert hosts == []


def test_a_certificate_no_trusted_authority_signed_is_refused(tls_receiver, monkeypatch):
    port, hosts = tls_receiver
    monkeypatch.delenv("SSL_CERT_FILE")
    answer = channels.send("webhook", {"url": f"https://localhost:{port}/"}, notification(), LOCAL)
    assert (answer.ok, answer.retry) == (False, True)
    assert "CERTIFICATE_VERIFY_FAILED" in answer.answer
    assert hosts == []
