"""Syslog and file tailing wired into the app: configured, started, stopped with the runtime."""

from __future__ import annotations

import socket

from sqlalchemy import select

from storage.models import LogRecord
from tests.conftest import wait_until
from tests.services import free_port


def messages(rt) -> list[str]:
    with rt.engine.connect() as conn:
        return list(conn.execute(select(LogRecord.message).order_by(LogRecord.id)).scalars())


def test_syslog_and_tail_run_in_the_app(make_app, database_url, tmp_path):
    port = free_port()
    log = tmp_path / "app.log"
    log.write_text("ERROR tailed line\n")
    app = make_app(
        database_url=database_url,
        syslog_addr=f"127.0.0.1:{port}",
        tail_files=(str(tmp_path / "*.log"),),
        start_scheduler=True,
    )
    rt = app.server.extensions["pulseboard"]
    assert rt.syslog.snapshot()["listening"] == {
        "udp": f"127.0.0.1:{port}", "tcp": f"127.0.0.1:{port}",
    }  # fmt: skip
    with socket.create_connection(("127.0.0.1", port)) as tcp:
        tcp.sendall(b"<11>Mar  3 04:05:06 web-1 app: via syslog\n")
    wait_until(lambda: {"via syslog", "ERROR tailed line"} <= set(messages(rt)), 15)
    assert rt.scheduler.status["tail"].errors == 0

    # A second process cannot bind the port: it serves anyway and says why.
    other = make_app(database_url=database_url, syslog_addr=f"127.0.0.1:{port}")
    other_rt = other.server.extensions["pulseboard"]
    assert set(other_rt.syslog.errors) == {"udp", "tcp"}
    assert other.server.test_client().get("/login").status_code == 200

    rt.close()
    assert rt.syslog.snapshot()["listening"] == {}
    assert rt.tailer.files == {}
    assert (tmp_path / "tail-positions.json").exists()
