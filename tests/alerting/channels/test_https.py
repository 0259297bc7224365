"""HTTPS to a receiver: the connection goes to the address the URL check resolved, and
TLS still verifies the certificate against the URL's host name."""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.alerting import channels
from tests.alerting.channels.conftest import LOCAL, notification


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for ``localhost`` (its own CA) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch) -> Iterator[tuple[int, list[str]]]:
    """An HTTPS receiver on 127.0.0.1 whose certificate names ``localhost``, trusted
    through SSL_CERT_FILE; yields its port and the Host headers it saw."""
    cert, key = self_signed(tmp_path)
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
