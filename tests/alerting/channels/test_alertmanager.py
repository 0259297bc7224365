"""The Alertmanager channel against Debian's real Alertmanager: the alerts it posts are
read back through Alertmanager's own API, and resolving them (``endsAt`` set) ends them."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app.alerting import channels
from app.alerting.channels.alertmanager import alerts_url
from tests.alerting.channels.conftest import LOCAL, alert, notification
from tests.services import free_port, unavailable

BINARY = "/usr/bin/prometheus-alertmanager"
CONFIG = """\
route:
  receiver: blackhole
receivers:
  - name: blackhole
"""


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """The base URL of a real Alertmanager of the test's own, on a free port."""
    if not shutil.which(BINARY):
        unavailable(
            "prometheus-alertmanager", f"{BINARY} is not installed (scripts/test installs it)"
        )
    (tmp_path / "alertmanager.yml").write_text(CONFIG)
    port = free_port()
    log = (tmp_path / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            BINARY,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if process.poll() is not None:
                log_text = (tmp_path / "alertmanager.log").read_text()[-2000:]
                pytest.fail(f"alertmanager exited: {log_text}")
            try:
                if requests.get(f"{base}/-/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("alertmanager did not become ready")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def listed(base: str) -> list[dict]:
    reply = requests.get(
        f"{base}/api/v2/alerts", params={"filter": 'alertname="Disk almost full"'}, timeout=5
    )
    reply.raise_for_status()
    return reply.json()


def test_a_firing_alert_is_listed_by_alertmanager_and_resolving_it_ends_it(alertmanager):
    started = time.time() - 120
    config = channels.validate("alertmanager", {"url": alertmanager + "/"}, LOCAL)
    firing = notification(alert(starts_at=started))
    answer = channels.send("alertmanager", config, firing, LOCAL)
    assert (answer.ok, answer.status) == (True, 200)

    [got] = listed(alertmanager)
    assert got["labels"] == {
        "alertname": "Disk almost full",
        "severity": "critical",
        "host": "web-1",
        "mountpoint": "/",
    }
    assert got["annotations"] == alert().annotations
    assert got["generatorURL"] == "http://pulse.example/alerts/rules/3"
    assert got["status"]["state"] in {"active", "unprocessed"}
    assert got["startsAt"].startswith(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(started)))

    resolved = notification(alert(status="resolved", starts_at=started, ends_at=time.time() - 1))
    assert channels.send("alertmanager", config, resolved, LOCAL).ok
    assert listed(alertmanager) == []


def test_alertmanager_refusing_a_malformed_alert_is_not_retried(alertmanager):
    backwards = alert(status="resolved", starts_at=time.time(), ends_at=time.time() - 3600)
    answer = channels.send("alertmanager", {"url": alertmanager}, notification(backwards), LOCAL)
    assert (answer.ok, answer.status, answer.retry) == (False, 400, False)
    assert "start time must be before end time" in answer.answer


def test_the_api_path_is_added_once():
    assert alerts_url("http://am:9093") == "http://am:9093/api/v2/alerts"
    assert alerts_url("http://am:9093/api/v2/alerts/") == "http://am:9093/api/v2/alerts"
