"""What the auth layer costs a cheap API call: ``GET /api/v1/admin/me`` with a bearer token.

Ours: the full app through Flask's test client, guard and token check included (the
token cache warm, as for a program calling repeatedly; it still expires every few seconds).
Baseline: a second app on the same database, built the same way, whose guard is replaced
by a ``before_request`` that presets ``g.account`` to the same account: the same URL,
routing, view, JSON and response headers, no auth. Both run in the same process,
alternating. A third row shows a token cache that never hits (every request asks the
database), for scale.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from flask import g

from app import auth
from app.token_cache import TokenCache
from bench.common import Result, compared, console_app, paired_rounds

PATH = "/api/v1/admin/me"
TARGET = "ratio <= 1.2"


def without_auth(app, account) -> None:
    """Replace ``app``'s guard with one that presets ``g.account`` to ``account``."""
    funcs = app.server.before_request_funcs[None]

    def preset() -> None:
        g.account = account

    funcs[funcs.index(auth.check_request)] = preset


def batch(client, headers: dict[str, str], count: int) -> Callable[[], None]:
    """``count`` GETs of PATH, each checked for a 200."""

    def run() -> None:
        for _ in range(count):
            response = client.get(PATH, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"{PATH} answered {response.status_code}")

    return run


def run(quick: bool = False) -> list[Result]:
    """Median time per request, with and without the auth layer."""
    requests, repeats = (20, 5) if quick else (200, 31)
    with tempfile.TemporaryDirectory(prefix="bench_auth_") as tmp:
        data_dir = Path(tmp)
        url = f"sqlite:///{data_dir / 'bench.db'}"
        ours_app, bare_app = console_app(data_dir, url), console_app(data_dir, url)
        rt = ours_app.server.extensions["pulseboard"]
        account = rt.accounts.add_user("bench", "analyst", auth.hash_password("bench-password"))
        _, token = rt.accounts.create_token(account.id, "bench")
        without_auth(bare_app, account)
        headers = {"Authorization": f"Bearer {token}"}
        ours = batch(ours_app.server.test_client(), headers, requests)
        bare = batch(bare_app.server.test_client(), headers, requests)
        note = (
            f"median of {repeats} batches of {requests} requests, alternating; baseline: the "
            "same app with its guard replaced by presetting g.account (no token check)"
        )
        warm = paired_rounds(ours, bare, repeats)
        rt.token_cache = TokenCache(ttl=0)
        cold = paired_rounds(ours, bare, repeats)
        for app in (ours_app, bare_app):
            app.server.extensions["pulseboard"].close()
    per_request = 1e6 / requests
    return [
        compared(
            "auth overhead GET /me, token cache warm",
            warm,
            TARGET,
            note,
            unit="us/request",
            scale=per_request,
        ),
        compared(
            "auth overhead GET /me, token checked in SQLite each time",
            cold,
            "for scale",
            note,
            unit="us/request",
            scale=per_request,
        ),
    ]
