"""Login throttling in the app: parallel guesses sent over HTTP to two ``pulseboard serve``
processes are counted before they are checked; a (user, address) pair and an address are
locked out, a user only slowed down, so an attacker elsewhere cannot keep the owner out.
Both database backends; every assertion is on answers and counts, none on time."""

from __future__ import annotations

import re
import threading
from collections import Counter

import pytest
import requests

from storage.accounts import AccountStore
from storage.db import make_engine
from storage.login_throttle import LoginPolicy, LoginThrottle
from tests.app.auth_helpers import ME, PASSWORD, Browser, login_form, make_user, runtime_of
from tests.app.test_processes import kill, start_server
from tests.storage.test_login_throttle import Clock

PARALLEL = 12
GUESSES = 12
"""Guesses from an attacker using a new address after every 5 (each pair's limit)."""


def login_form_session(url: str) -> tuple[requests.Session, str]:
    """A browser-like session that fetched the login form; the form's CSRF token."""
    browser = requests.Session()
    page = browser.get(f"{url}/login", timeout=30).text
    return browser, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def post_all_at_once(urls: list[str], attempts: list[tuple[str, str]]) -> Counter[int]:
    """POST every (name, password) of ``attempts`` to /login at the same moment, spread
    over the servers at ``urls``; how many answers of each status came back."""
    ready = [login_form_session(urls[i % len(urls)]) for i in range(len(attempts))]
    start = threading.Barrier(len(attempts))
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def attempt(i: int) -> None:
        (browser, csrf), (name, password) = ready[i], attempts[i]
        start.wait()
        response = browser.post(
            f"{urls[i % len(urls)]}/login",
            data={"name": name, "password": password, "csrf_token": csrf},
            allow_redirects=False,
            timeout=60,
        )
        with lock:
            statuses[response.status_code] += 1

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.timeout(180)
def test_parallel_wrong_passwords_for_one_user_are_checked_at_most_five_times(
    tmp_path, database_url
):
    # Two `pulseboard serve` processes on one database, as two workers or hosts would be.
    servers = [start_server(tmp_path, name, database_url) for name in ("alpha", "beta")]
    try:
        urls = [f"http://127.0.0.1:{port}" for _, port in servers]
        statuses = post_all_at_once(urls, [("admin", f"guess-{i}") for i in range(PARALLEL)])
    finally:
        for process, _ in servers:
            kill(process)
    engine = make_engine(database_url)
    try:
        checked = AccountStore(engine).list_audit(action="login.failure", actor="admin")
    finally:
        engine.dispose()
    assert statuses[401] + statuses[429] == PARALLEL, statuses
    assert 1 <= statuses[401] <= 5
    assert len(checked) == statuses[401]


def throttle_on_a_clock(app, policy: LoginPolicy | None = None) -> Clock:
    """Give ``app`` a throttle (with ``policy``) reading a clock the test moves; the clock."""
    rt = runtime_of(app)
    clock = Clock()
    rt.logins = LoginThrottle(rt.engine, policy, clock)
    return clock


def test_the_owner_gets_in_while_an_attacker_from_other_addresses_keeps_failing(app):
    clock = throttle_on_a_clock(app)
    owner, _ = make_user(app, "admin")
    home = Browser(app, "198.51.100.7")
    assert login_form(home, owner, PASSWORD).status_code == 302  # the owner's usual address

    checked = 0
    for attempt in range(GUESSES):
        attacker = Browser(app, f"203.0.113.{attempt // 5 + 1}")
        response = login_form(attacker, owner, f"guess-{attempt}")
        if response.status_code == 429:  # slowed down: the attacker waits as told
            assert int(response.headers["Retry-After"]) <= 30
            clock.advance(int(response.headers["Retry-After"]))
            response = login_form(attacker, owner, f"guess-{attempt}")
        assert response.status_code == 401
        checked += 1
    assert checked == len(runtime_of(app).accounts.list_audit(action="login.failure")) == GUESSES

    # An address the attacker used up is locked out for this user for 15 minutes...
    response = login_form(Browser(app, "203.0.113.2"), owner, PASSWORD)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 60
    # ...while the owner gets in at once from home, and from a new place after a short wait.
    assert login_form(Browser(app, "198.51.100.7"), owner, PASSWORD).status_code == 302
    travelling = Browser(app, "192.0.2.50")
    response = login_form(travelling, owner, PASSWORD)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) <= 30
    clock.advance(int(response.headers["Retry-After"]))
    assert login_form(travelling, owner, PASSWORD).status_code == 302
    assert travelling.get(ME).status_code == 200


def test_failures_up_to_the_address_limit_lock_that_address_out_for_every_user(app):
    # The limit is 20 (tests/storage/test_login_throttle.py); 4 keeps the hashing short.
    throttle_on_a_clock(app, LoginPolicy(address_limit=4))
    real, _ = make_user(app, "analyst")
    scanner = Browser(app, "203.0.113.9")
    for attempt in range(4):
        assert login_form(scanner, f"nobody-{attempt}", PASSWORD).status_code == 401
    response = login_form(scanner, real, PASSWORD)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "900")
    assert "from your address" in response.get_data(as_text=True)
    assert login_form(Browser(app, "198.51.100.7"), real, PASSWORD).status_code == 302
