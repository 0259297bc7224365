"""GET /metrics with 5,000 series: ours vs a plain renderer writing the same exposition.

The reference renderer is the straightforward way to write the text format: group the
samples into families, write HELP and TYPE, then one line per series with its labels
sorted, names made valid and values escaped, formatted with prometheus_client's own
float formatting. It keeps nothing between scrapes. tests/app/test_prometheus.py checks
that GET /metrics writes exactly its text, line for line.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from prometheus_client.utils import floatToGoString

from app import create_app
from app.services import prometheus
from app.settings import Settings
from bench.common import HOST, Result, compared, paired_rounds
from collectors.base import Field
from storage.live import METRICS_CHANNEL

TARGET = "<= 2x"
SERIES = 5000


_NOT_IN_LABEL_NAME = re.compile(r"[^A-Za-z0-9_]")
_NOT_IN_METRIC_NAME = re.compile(r"[^A-Za-z0-9_:]")


def _valid(name: str, invalid: re.Pattern) -> str:
    safe = invalid.sub("_", name)
    return "_" + safe if safe[:1].isdigit() else safe


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _line(name: str, labels: dict[str, str], value: float) -> str:
    pairs = ",".join(
        f'{_valid(k, _NOT_IN_LABEL_NAME)}="{_escape(v)}"' for k, v in sorted(labels.items())
    )
    return (
        f"{name}{{{pairs}}} {floatToGoString(value)}\n"
        if pairs
        else (f"{name} {floatToGoString(value)}\n")
    )


def reference(
    samples: list[dict], fields: dict[str, Field], others: list[prometheus.Family]
) -> str:
    """The exposition of the latest ``samples`` (described by ``fields``), then of the
    ``others`` families, written plainly from scratch."""
    families: dict[str, prometheus.Family] = {}
    for sample in samples:
        name = sample["name"]
        if name not in families:
            meta = fields.get(name)
            kind = meta.kind if meta else "gauge"
            exposed = _valid(name, _NOT_IN_METRIC_NAME)
            if kind == "counter" and not exposed.endswith("_total"):
                exposed += "_total"
            families[name] = prometheus.Family(exposed, kind, meta.description if meta else name)
        labels = {**sample["labels"], "host": sample["host"]}
        families[name].samples.append((labels, sample["value"]))
    out = []
    for family in [*families.values(), *others]:
        doc = family.help.replace("\\", "\\\\").replace("\n", "\\n")
        out.append(f"# HELP {family.name} {doc}\n# TYPE {family.name} {family.kind}\n")
        out.extend(_line(family.name, labels, value) for labels, value in family.samples)
    return "".join(out)


def snapshot(count: int) -> dict:
    """A published collection of ``count`` series: 50 metrics x 100 label values."""
    return {
        "type": "metrics",
        "ts": 1.7e9,
        "samples": [
            {
                "name": f"bench_metric_{i % 50}_bytes",
                "host": HOST,
                "labels": {"instance": f"i-{i // 50}", "zone": "eu-west-1a"},
                "value": i * 1024.5,
            }
            for i in range(count)
        ],
    }


def run(quick: bool = False) -> list[Result]:
    """Render time of one scrape through the app vs the reference renderer."""
    count = 500 if quick else SERIES
    repeats = 7 if quick else 31
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

        def plain() -> bytes:
            fields = {f.name: f for c in rt.collectors for f in c.fields}
            others = [prometheus.alerts_family(rt), *prometheus.health_families(rt)]
            return reference(published["samples"], fields, others).encode()

        ours = client.get("/metrics").get_data()
        if ours != plain():
            raise AssertionError("GET /metrics differs from the reference renderer")
        rounds = paired_rounds(lambda: client.get("/metrics").get_data(), plain, repeats)
        rt.close()
    return [
        compared(
            f"GET /metrics with {count} series vs plain renderer",
            rounds,
            TARGET,
            f"{len(ours):,} bytes of exposition, equal to the reference's; "
            f"median of {repeats} alternating rounds",
        )
    ]
