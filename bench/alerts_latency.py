"""From the sample that crosses a threshold being written to the webhook receiving the
notification, through a real ``pulseboard serve``: its evaluation (every second, the
rule's interval) and its delivery job, against a local receiver."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from app.alerting.notify.stages import DEFAULT_RATE_LIMIT
from bench.common import HOST, Result, pg_database
from bench.logs_data import add_token, served_app
from storage.db import make_engine
from storage.metrics import MetricsStore, Sample

INTERVAL = 1
"""The rule's evaluation interval (seconds)."""
TARGET = f"p99 <= {INTERVAL + 1} s (interval + 1 s)"
METRIC = "bench_alert_latency_value"
API = "/api/v1/admin/alerts"
PACE = 2.2
"""Seconds from one written sample to the next when the rounds send more notifications
than the webhook channel's rate limit takes in its minute."""


@contextmanager
def receiver() -> Iterator[tuple[str, list[tuple[float, dict]]]]:
    """A webhook receiver on 127.0.0.1: its URL and (arrival time, body) of each POST."""
    arrived: list[tuple[float, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            arrived.append((time.time(), json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", arrived
    finally:
        server.shutdown()
        server.server_close()


def _wait_for(arrived: list, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(arrived) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(arrived)} of {count} notifications arrived")
        time.sleep(0.005)


def run(quick: bool = False) -> list[Result]:
    """p50 and p99 of sample-to-webhook times over repeated fire/resolve rounds."""
    rounds = 3 if quick else 30
    # Stay under the channel's rate limit, which would rightly hold the excess back for
    # one digest: pace the samples only when the rounds send more than it takes.
    pace = PACE if 2 * rounds > DEFAULT_RATE_LIMIT else 0.0
    written = 0.0
    with pg_database() as url:
        token = add_token(url, "admin")
        settings = {
            "PULSEBOARD_WEBHOOK_ALLOW_PRIVATE": "1",
            "PULSEBOARD_ALERT_GROUP_WAIT": "0",
            "PULSEBOARD_ALERT_GROUP_INTERVAL": "0",
        }
        engine = make_engine(url, pool_size=2)
        metrics = MetricsStore(engine)
        with served_app(url, **settings) as served, receiver() as (hook, arrived):
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
            channel = session.post(
                served.base + f"{API}/channels",
                json={"name": "bench", "kind": "webhook", "url": hook},
                timeout=10,
            ).json()["id"]
            made = session.post(
                served.base + f"{API}/rules",
                json={
                    "name": "latency",
                    "kind": "metric",
                    "metric": METRIC,
                    "reduce": "last",
                    # A label set per round: one alert firing and resolving over and over
                    # would (rightly) be held open as flapping.
                    "group_by": ["round"],
                    "window": 30,
                    "op": ">",
                    "critical": 50,
                    "interval": INTERVAL,
                    "no_data": "ok",
                    "channels": [channel],
                },
                timeout=10,
            )
            if made.status_code != 201:
                raise RuntimeError(made.text)
            firing: list[float] = []
            for n in range(rounds):
                for value, status in ((100.0, "firing"), (0.0, "resolved")):
                    time.sleep(max(0.0, pace - (time.time() - written)))
                    written = time.time()
                    metrics.write([Sample(written, HOST, METRIC, value, {"round": str(n)})])
                    _wait_for(arrived, 2 * n + (1 if status == "firing" else 2))
                    at, body = arrived[-1]
                    if body["status"] != status:
                        raise RuntimeError(f"expected {status}, got {body['status']}")
                    if status == "firing":
                        firing.append(at - written)
        engine.dispose()
    cuts = statistics.quantiles(firing, n=100, method="inclusive")
    note = (
        f"{rounds} rounds of a sample written above the threshold then below it; rule "
        f"interval {INTERVAL} s, group wait 0, one pulseboard serve on PostgreSQL"
    )
    return [
        Result("alert latency p50, sample to webhook", cuts[49], None, "s", TARGET, note),
        Result("alert latency p99, sample to webhook", cuts[98], None, "s", TARGET, note),
    ]
