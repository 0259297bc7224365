"""GET /metrics with 5,000 series: ours (prometheus_client) vs a bare f-string join."""

from __future__ import annotations

import tempfile
from pathlib import Path

from app import create_app
from app.services import prometheus
from app.settings import Settings
from bench.common import HOST, Result, paired_medians
from storage.live import METRICS_CHANNEL

TARGET = "report (no target)"
SERIES = 5000


def snapshot(count: int) -> dict:
    """A published collection of ``count`` series: 50 metrics x 100 label values."""
    return {
        "type": "metrics",
        "ts": 1.7e9,
        "samples": [
            {
                "name": f"bench_metric_{i % 50}_bytes",
                "host": HOST,
                "labels": {"instance": f"i-{i // 50}"},
                "value": float(i),
            }
            for i in range(count)
        ],
    }


def bare(samples: list[dict]) -> str:
    """The exposition lines written by hand, no HELP/TYPE, no escaping."""
    return "".join(
        f'{s["name"]}{{host="{s["host"]}",instance="{s["labels"]["instance"]}"}} {s["value"]}\n'
        for s in samples
    )


def run(quick: bool = False) -> list[Result]:
    """Median render time of one scrape."""
    count = 500 if quick else SERIES
    repeats = 5 if quick else 31
    with tempfile.TemporaryDirectory(prefix="bench_metrics_") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=f"sqlite:///{tmp}/b.db",
            redis_url=None,
            secret_key="bench",
            admin_password="bench-password",
            start_scheduler=False,
        )
        app = create_app(settings)
        rt = app.server.extensions["pulseboard"]
        published = snapshot(count)
        rt.bus.publish(METRICS_CHANNEL, published)
        client = app.server.test_client()
        ours, baseline = paired_medians(
            lambda: client.get("/metrics").get_data(), lambda: bare(published["samples"]), repeats
        )
        size = len(prometheus.render(rt))
        rt.close()
    return [
        Result(
            f"GET /metrics with {count} series vs f-string join",
            ours * 1000,
            baseline * 1000,
            "ms",
            TARGET,
            f"{size:,} bytes of exposition; median of {repeats}, alternating",
        )
    ]
