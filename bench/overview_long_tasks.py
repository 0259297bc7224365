"""Browser smoothness: the longest main-thread tasks (Performance API ``longtask``) that
headless Chromium runs while the Overview redraws its 24 h charts of 60 series (live
points arriving every second meanwhile) and while the Logs page runs its search again
(histogram and first grid block) and scrolls to the grid's next block, on a real
``pulseboard serve``."""

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
from app.services.overview import CHART_POINTS as DRAWN_POINTS
from app.services.timerange import RANGES
from bench.common import Result
from bench.logs_data import log_entries, served_app
from bench.logs_page import BLOCK
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
SCROLL_GRID = """
const api = window.dash_ag_grid && dash_ag_grid.getApi('logs-grid');
if (!api) { return false; }
api.ensureIndexVisible(api.getDisplayedRowCount() - 1, 'bottom');
const node = api.getDisplayedRowAtIndex(arguments[0]);
return !!(node && node.data);
"""
"""Scroll the grid to its last row (the next block loads as it shows) and tell whether row
``arguments[0]`` has come."""
READER, PASSWORD = "bench-analyst", "bench-password-1"


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


def settle(driver: webdriver.Chrome, seconds: float) -> None:
    """Let the page work for ``seconds`` (callbacks, drawing, live points)."""
    time.sleep(seconds)
    driver.execute_script("return 1;")


def overview_tasks(
    driver: webdriver.Chrome, refreshes: int, points: int, pause: float
) -> list[float]:
    """Long tasks (ms) of ``refreshes`` redraws of the 24 h Overview, as its timer fires,
    once its CPU chart shows more than ``points`` points; ``pause`` seconds after each."""
    driver.execute_script(SET_PROPS, "overview-range", {"value": RANGE})
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(CHART_POINTS) > points)
    settle(driver, pause)
    driver.execute_script(TAKE_TASKS)  # the page's own loading is not a refresh
    tasks: list[float] = []
    for n in range(refreshes):
        label = driver.find_element(By.ID, "overview-updated").text
        driver.execute_script(SET_PROPS, "overview-refresh", {"n_intervals": 1000 + n})
        WebDriverWait(driver, 60).until(
            lambda d, old=label: d.find_element(By.ID, "overview-updated").text != old
        )
        settle(driver, pause)
        tasks += driver.execute_script(TAKE_TASKS)
    return tasks


def logs_tasks(driver: webdriver.Chrome, base: str, searches: int, pause: float) -> list[float]:
    """Long tasks (ms) of ``searches`` runs of the Logs page's search (histogram, first
    grid block), each followed by a scroll that loads the grid's next block."""
    driver.get(f"{base}/logs?range=7d")
    WebDriverWait(driver, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#logs-histogram .js-plotly-plot .bars")
    )
    settle(driver, pause)
    driver.execute_script(TAKE_TASKS)
    tasks: list[float] = []
    last = 2 * BLOCK - 1
    for _ in range(searches):
        driver.find_element(By.ID, "logs-search").click()
        settle(driver, pause)
        WebDriverWait(driver, 60).until(lambda d: d.execute_script(SCROLL_GRID, last))
        settle(driver, pause)
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
    refreshes, interval, records = (1, 240.0, 5_000) if quick else (5, 30.0, 50_000)
    pause = 0.5 if quick else 2.0
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
            # Half the range's points: its figures are drawn, not the first hour's.
            drawn = min(int(RANGES[RANGE] / interval), DRAWN_POINTS) // 2
            overview = overview_tasks(driver, refreshes, drawn, pause)
            logs = logs_tasks(driver, served.base, refreshes, pause)
    return [
        *_row(
            "overview 24 h refresh",
            overview,
            f"{refreshes} refreshes of the 24 h range, 60 series ({samples:,} samples)",
        ),
        *_row(
            "logs search and next block",
            logs,
            f"{refreshes} searches over 7 days of {records:,} records, each with a scroll to "
            f"rows {BLOCK}-{2 * BLOCK}",
        ),
    ]
