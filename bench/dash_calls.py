"""Dash callback requests as the browser sends them, for the page benchmarks."""

from __future__ import annotations

from collections.abc import Callable, Mapping

DASH_UPDATE = "/_dash-update-component"


def dash_request(app, output: str, values: Mapping[str, object], changed: str) -> dict:
    """The ``/_dash-update-component`` body of the callback whose outputs include
    ``output`` (``id.property``), with the inputs and states set from ``values`` (by
    ``id.property``, None when absent) and ``changed`` as the input that fired."""
    key = next(k for k in app.callback_map if f".{output}." in f".{k}.")
    spec = app.callback_map[key]

    def filled(deps: list[dict]) -> list[dict]:
        return [{**d, "value": values.get(f"{d['id']}.{d['property']}")} for d in deps]

    outputs = [
        {"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
        for part in key.strip(".").split("...")
    ]
    return {
        "output": key,
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": filled(spec["inputs"]),
        "changedPropIds": [changed],
        "state": filled(spec["state"]),
    }


def reader_client(app) -> Callable[[dict], bytes]:
    """A caller that posts a Dash request as an analyst (bearer token) and returns the
    response body; it raises unless Dash answered 200."""
    rt = app.server.extensions["pulseboard"]
    account = rt.accounts.add_user("bench-analyst", "analyst", None)
    token = rt.accounts.create_token(account.id, "bench")[1]
    client = app.server.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def call(body: dict) -> bytes:
        response = client.post(DASH_UPDATE, json=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{body['output']} answered {response.status_code}")
        return response.get_data()

    return call
