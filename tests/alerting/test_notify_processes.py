"""Two delivery processes over one database: only the leader sends, and rows the leader
was killed with (queued, not yet sent) are sent once by the process that takes over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerting.notify_support import Alerts, posted
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workers(database_url: str, tmp_path: Path) -> Iterator:
    """Starts delivery processes on the test's database; each is killed after the test."""
    started: list[subprocess.Popen] = []

    def start(name: str, group_wait: float) -> subprocess.Popen:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.alerting.notify_worker",
                database_url,
                str(tmp_path),
                name,
                str(group_wait),
            ],
            cwd=ROOT,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_process_that_takes_over_sends_what_the_killed_leader_had_queued_once(
    engine, alerts: Alerts, receiver, workers, tmp_path
):
    hook = alerts.channel(receiver)
    rule = alerts.rule("CPU high", [hook.id])
    processes = {name: workers(name, group_wait=2.0) for name in ("first", "second")}
    leader = wait_until(lambda: [n for n in processes if (tmp_path / f"{n}.leads").exists()], 30)
    (other,) = set(processes) - set(leader)

    alerts.fire(rule, "web-1", time.time())  # the state change; its send waits group_wait
    os.killpg(processes[leader[0]].pid, signal.SIGKILL)
    processes[leader[0]].wait()

    wait_until(lambda: (tmp_path / f"{other}.leads").exists(), 30)
    wait_until(lambda: posted(receiver), 30)
    alerts.fire(rule, "web-2", time.time())
    wait_until(lambda: len(alerts.rows(status="sent")) == 2, 30)

    assert [[a["labels"]["host"] for a in n["alerts"]] for n in posted(receiver)] == [
        ["web-1"],
        ["web-2"],
    ]


def test_two_processes_deliver_each_notification_once(engine, alerts: Alerts, receiver, workers):
    hook = alerts.channel(receiver)
    rules = [alerts.rule(f"Rule {n}", [hook.id]) for n in range(5)]
    workers("first", group_wait=0.0)
    workers("second", group_wait=0.0)

    for rule in rules:
        alerts.fire(rule, "web-1", time.time())
    wait_until(lambda: len(alerts.rows(status="sent")) == 5, 30)

    assert len(receiver.requests) == 5
    assert sorted(n["alerts"][0]["labels"]["alertname"] for n in posted(receiver)) == [
        f"Rule {n}" for n in range(5)
    ]
