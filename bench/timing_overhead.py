"""The request-timing hooks: a trivial route with them vs the same route without."""

from __future__ import annotations

from flask import Flask

from app.timing import install
from bench.common import Result, compared, paired_rounds
from collectors.requests import RequestTimings

TARGET = "ratio <= 1.05"


def trivial_app(timed: bool) -> Flask:
    """A Flask app with one route answering ``ok``, timed or not."""
    app = Flask("bench")
    app.add_url_rule("/ping", "ping", lambda: "ok")
    if timed:
        install(app, RequestTimings())
    return app


def run(quick: bool = False) -> list[Result]:
    """Median time of a batch of requests through Flask's test client, both ways."""
    batch = 50 if quick else 200
    repeats = 5 if quick else 31
    clients = {timed: trivial_app(timed).test_client() for timed in (True, False)}

    def requests(timed: bool) -> None:
        client = clients[timed]
        for _ in range(batch):
            client.get("/ping")

    rounds = paired_rounds(lambda: requests(True), lambda: requests(False), repeats)
    return [
        compared(
            "request through the timing hooks vs without",
            rounds,
            TARGET,
            f"Flask test client, GET of a trivial route, batches of {batch}, median of "
            f"{repeats} alternating",
            unit="us/request",
            scale=1e6 / batch,
        )
    ]
