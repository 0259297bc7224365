"""Browser smoothness: the longest main-thread tasks (Performance API ``longtask``) that
headless Chromium runs while the Overview redraws its 24 h charts of 60 series (live
points arriving every second meanwhile) and while the Logs page runs its search again,
on a real ``pulseboard serve``."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app.auth import hash_password
from bench.common import Result
from bench.logs_data import log_entries, served_app
from bench.overview_refresh import RANGE, load
from storage.accounts import AccountStore
from storage.db import make_engine, upgrade
from storage.logs import LogStore
from storage.metrics import MetricsStore

TARGET = "none over 200 ms"
LONG = 200.0
"""Milliseconds: a task longer than this is a stutter a user sees."""
CHROMIUM = os.environ.get("DASH_TEST_CHROMEPATH", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PULSEBOARD_CHROMEDRIVER", "/usr/bin/chromedriver")
OBSERVER = """
window.pulseboardLongTasks = [];
new PerformanceObserver(function (list) {
  list.getEntries().forEach(function (e) { window.pulseboardLongTasks.push(e.duration); });
}).observe({type: "longtask", buffered: true});
"""
TAKE_TASKS = """
const tasks = window.pulseboardLongTasks || [];
window.pulseboardLongTasks = [];
return tasks;
"""
CHART_POINTS = """
const gd = document.querySelector('#overview-chart-cpu .js-plotly-plot');
return gd && gd.data && gd.data.length ? gd.data[0].x.length : 0;
"""
SET_PROPS = "window.dash_clientside.set_props(arguments[0], arguments[1]);"
READER, PASSWORD = "bench-analyst", "bench-password-1"
SETTLE = 2.0
"""Seconds a page is left to work after each step (its tasks are counted meanwhile)."""


@contextmanager
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium as the browser tests run it, watching for long tasks on every
    page it loads."""
    options = Options()
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--no-first-run",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": OBSERVER})
        yield driver
    finally:
        driver.quit()


def login(driver: webdriver.Chrome, base: str) -> None:
    """Log in as the bench's reader through the form; wait for the Overview."""
    driver.get(f"{base}/login")
    wait = WebDriverWait(driver, 30)
    wait.until(lambda d: d.find_elements(By.ID, "login-name"))[0].send_keys(READER)
    driver.find_element(By.ID, "login-password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    wait.until(lambda d: d.find_elements(By.ID, "overview-card-uptime"))


def settle(driver: webdriver.Chrome) -> None:
    """Let the page work for ``SETTLE`` seconds (callbacks, drawing, live points)."""
    time.sleep(SETTLE)
    driver.execute_script("return 1;")


def overview_tasks(driver: webdriver.Chrome, refreshes: int) -> list[float]:
    """Long tasks (ms) of ``refreshes`` redraws of the 24 h Overview, as its timer fires."""
    driver.execute_script(SET_PROPS, "overview-range", {"value": RANGE})
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(CHART_POINTS) > 300)
    settle(driver)
    driver.execute_script(TAKE_TASKS)  # the page's own loading is not a refresh
    tasks: list[float] = []
    for n in range(refreshes):
        label = driver.find_element(By.ID, "overview-updated").text
        driver.execute_script(SET_PROPS, "overview-refresh", {"n_intervals": 1000 + n})
        WebDriverWait(driver, 60).until(
            lambda d, old=label: d.find_element(By.ID, "overview-updated").text != old
        )
        settle(driver)
        tasks += driver.execute_script(TAKE_TASKS)
    return tasks


def logs_tasks(driver: webdriver.Chrome, base: str, searches: int) -> list[float]:
    """Long tasks (ms) of ``searches`` runs of the Logs page's search (histogram, grid)."""
    driver.get(f"{base}/logs?range=7d")
    WebDriverWait(driver, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#logs-histogram .js-plotly-plot .bars")
    )
    settle(driver)
    driver.execute_script(TAKE_TASKS)
    tasks: list[float] = []
    for _ in range(searches):
        driver.find_element(By.ID, "logs-search").click()
        settle(driver)
        tasks += driver.execute_script(TAKE_TASKS)
    return tasks


def _row(page: str, tasks: list[float], what: str) -> list[Result]:
    longest = max(tasks, default=0.0)
    over = sum(1 for t in tasks if t > LONG)
    note = (
        f"overview_long_tasks: headless Chromium on pulseboard serve (SQLite, collecting "
        f"every 1 s); {what}; every PerformanceObserver 'longtask' entry counted"
    )
    return [
        Result(f"{page}: longest task", longest, None, "ms", TARGET, note),
        Result(f"{page}: tasks over {LONG:g} ms", over, None, "tasks", "0", note),
    ]


def run(quick: bool = False) -> list[Result]:
    """Long tasks on the Overview's refreshes and the Logs page's searches."""
    refreshes, interval, records = (1, 120.0, 5_000) if quick else (5, 30.0, 50_000)
    with tempfile.TemporaryDirectory(prefix="bench_long_tasks_") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        samples = load(MetricsStore(engine), interval, time.time())
        now = datetime.now(UTC)
        LogStore(engine).write(list(log_entries(records, now - timedelta(days=7), now)))
        AccountStore(engine).add_user(READER, "analyst", hash_password(PASSWORD))
        engine.dispose()
        with served_app(url, PULSEBOARD_COLLECT_INTERVAL="1") as served, browser() as driver:
            login(driver, served.base)
            overview = overview_tasks(driver, refreshes)
            logs = logs_tasks(driver, served.base, refreshes)
    return [
        *_row(
            "overview 24 h refresh",
            overview,
            f"{refreshes} refreshes of the 24 h range, 60 series ({samples:,} samples)",
        ),
        *_row("logs search", logs, f"{refreshes} searches over 7 days of {records:,} records"),
    ]
