"""The Overview's chart refresh as the browser asks for it: every available chart's figure
by chart id, carrying exactly the points the metrics store answers."""

from __future__ import annotations

import time

from app.components.charts import chart_id, time_label
from app.services import overview
from storage.metrics import Sample
from tests.app.auth_helpers import csrf_of

DASH_UPDATE = "/_dash-update-component"
SPECS = {spec.key: spec for spec in overview.CHARTS}


def refresh_request(app, window: dict, theme: str) -> dict:
    """The body Dash sends when the Overview's refresh timer fires on a custom window."""
    output = next(key for key in app.callback_map if "overview-figures.data" in key)
    values = {
        "overview-window.data": window,
        "overview-refresh.n_intervals": 1,
        "overview-host.value": "",
        "theme-store.data": theme,
    }
    return {
        "output": output,
        "outputs": [
            {"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
            for part in output.strip(".").split("...")
        ],
        "inputs": [
            {**dep, "value": values.get(f"{dep['id']}.{dep['property']}")}
            for dep in app.callback_map[output]["inputs"]
        ],
        "changedPropIds": ["overview-refresh.n_intervals"],
        "state": [],
    }


def test_the_refresh_sends_each_available_chart_with_the_stores_points(app, accounts, client):
    rt = app.server.extensions["pulseboard"]
    now = time.time()
    rt.metrics.write(
        [
            Sample(now - 600 + i * 5, "test-host", name, value + i, labels)
            for i in range(120)
            for name, value, labels in (
                ("system_cpu_usage_percent", 10.0, {}),
                ("system_network_receive_bytes_per_second", 1e6, {"interface": "eth0"}),
                ("system_network_transmit_bytes_per_second", 2e5, {"interface": "eth0"}),
            )
        ]
    )
    accounts.login(client, "analyst")

    answer = client.post(
        DASH_UPDATE,
        json=refresh_request(app, {"from": now - 3600, "to": now + 60}, "dark"),
        headers={"X-CSRFToken": csrf_of(client)},
    )

    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    figures = answer.get_json()["response"]["overview-figures"]["data"]
    assert set(figures) == {chart_id(key) for key in overview.available_charts(rt)}
    network = figures[chart_id("network")]
    stored = overview.chart_series(rt, SPECS["network"], now - 3600, now + 60)
    assert [t["name"] for t in network["data"]] == ["rx eth0", "tx eth0"]
    for trace, series in zip(network["data"], stored, strict=True):
        assert trace["y"] == [p[1] for p in series.points]
        assert trace["x"] == [time_label(p[0]) for p in series.points]
    assert network["layout"]["template"]["layout"]["paper_bgcolor"] == "rgb(17,17,17)"
