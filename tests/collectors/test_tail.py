"""File tailer: appends, partial lines, restarts, rotation, truncation, late files, wiring."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from collectors.scheduler import LeaderJob, ScheduleConfig, Scheduler
from collectors.tail import FileTailer, guess_level
from storage.leader import FileLeaderLock
from storage.live import InProcessBus
from storage.logs import LogStore
from storage.metrics import MetricsStore
from storage.models import LogRecord
from tests.conftest import wait_until


def stored(engine) -> list[tuple[str, str, str, str, str]]:
    """(message, level, source, host, path) of every stored row, in arrival order."""
    with engine.connect() as conn:
        rows = conn.execute(select(LogRecord).order_by(LogRecord.id)).all()
    return [(r.message, r.level, r.source, r.host, json.loads(r.attrs)["path"]) for r in rows]


def messages(engine) -> list[str]:
    return [row[0] for row in stored(engine)]


def append(path: Path, text: str) -> None:
    with path.open("a") as fh:
        fh.write(text)


@pytest.fixture
def make_tailer(engine, tmp_path: Path):
    """Tailers of ``tmp_path/logs/*.log`` sharing one positions file; closed after the test."""
    made: list[FileTailer] = []

    def build(*patterns: str, **kwargs) -> FileTailer:
        tailer = FileTailer(
            patterns or (str(tmp_path / "logs" / "*.log"),),
            LogStore(engine).write,
            tmp_path / "state" / "positions.json",
            "tail-host",
            **kwargs,
        )
        made.append(tailer)
        return tailer

    (tmp_path / "logs").mkdir()
    yield build
    for tailer in made:
        tailer.close()


def test_appends_are_picked_up_and_partial_lines_wait(engine, tmp_path, make_tailer):
    log = tmp_path / "logs" / "app.log"
    log.write_text("ERROR disk full\n[warn] slow\nplain line\npart")
    tailer = make_tailer()
    assert tailer.poll() == 3
    assert stored(engine) == [
        ("ERROR disk full", "error", "file", "tail-host", str(log)),
        ("[warn] slow", "warning", "file", "tail-host", str(log)),
        ("plain line", "info", "file", "tail-host", str(log)),
    ]
    assert tailer.poll() == 0  # "part" has no end yet
    append(log, "ial\r\n\nDEBUG: tick\n")
    assert tailer.poll() == 2
    assert messages(engine)[3:] == ["partial", "DEBUG: tick"]
    assert tailer.poll() == 0


def test_restart_reads_nothing_twice_and_loses_nothing(engine, tmp_path, make_tailer):
    log = tmp_path / "logs" / "app.log"
    log.write_text("one\ntwo\nthr")
    first = make_tailer()
    first.poll()
    first.close()
    append(log, "ee\nfour\n")  # written while Pulseboard was down
    saved = json.loads((tmp_path / "state" / "positions.json").read_text())
    st = log.stat()
    assert saved == {str(log): {"inode": st.st_ino, "device": st.st_dev, "offset": 8}}

    second = make_tailer()
    assert second.poll() == 2
    append(log, "five\n")
    assert second.poll() == 1
    # A crash (no close): the positions written by the last poll are enough.
    third = make_tailer()
    append(log, "six\n")
    assert third.poll() == 1
    assert messages(engine) == ["one", "two", "three", "four", "five", "six"]


def test_rotation_finishes_old_file_then_reads_new(engine, tmp_path, make_tailer):
    log = tmp_path / "logs" / "app.log"
    log.write_text("a1\n")
    tailer = make_tailer(rotate_grace=0.0)
    tailer.poll()
    append(log, "a2\na3-no-end")
    log.rename(tmp_path / "logs" / "app.log.1")  # not matched by *.log
    log.write_text("b1\n")
    tailer.poll()
    assert messages(engine) == ["a1", "a2", "b1"]
    tailer.poll()  # the grace is over: the old file's last line without an end is taken
    append(log, "b2\n")
    tailer.poll()
    assert messages(engine) == ["a1", "a2", "b1", "a3-no-end", "b2"]
    assert tailer.files == {str(log): 6}


def test_rotated_file_keeps_draining_during_grace(engine, tmp_path, make_tailer):
    log = tmp_path / "logs" / "app.log"
    log.write_text("old1\n")
    tailer = make_tailer(rotate_grace=60.0)
    tailer.poll()
    rotated = tmp_path / "logs" / "app.log.1"
    log.rename(rotated)
    tailer.poll()  # no new file yet
    append(rotated, "old2\n")  # the writer has not reopened its file yet
    log.write_text("new1\n")
    tailer.poll()
    assert sorted(messages(engine)) == ["new1", "old1", "old2"]


def test_rotation_while_stopped_reads_new_file_from_start(engine, tmp_path, make_tailer):
    log = tmp_path / "logs" / "app.log"
    log.write_text("a1\na2\n")
    first = make_tailer()
    first.poll()
    first.close()
    log.rename(tmp_path / "logs" / "app.log.1")
    log.write_text("b1\n")
    make_tailer().poll()
    assert messages(engine) == ["a1", "a2", "b1"]


def test_truncation_reads_from_start(engine, tmp_path, make_tailer):
    log = tmp_path / "logs" / "app.log"
    log.write_text("long line one\nlong line two\n")
    tailer = make_tailer()
    tailer.poll()
    with log.open("r+") as fh:
        fh.truncate(0)
    append(log, "short\n")
    assert tailer.poll() == 1
    assert messages(engine) == ["long line one", "long line two", "short"]
    # Truncated while stopped: the next tailer notices too.
    tailer.close()
    log.write_text("x\n")
    assert make_tailer().poll() == 1
    assert messages(engine)[-1] == "x"


def test_glob_picks_up_files_created_later(engine, tmp_path, make_tailer):
    tailer = make_tailer(str(tmp_path / "logs" / "**" / "*.log"))
    assert tailer.poll() == 0
    (tmp_path / "logs" / "nested").mkdir()
    late = tmp_path / "logs" / "nested" / "late.log"
    late.write_text("hello\n")
    (tmp_path / "logs" / "ignored.txt").write_text("not matched\n")
    assert tailer.poll() == 1
    assert stored(engine) == [("hello", "info", "file", "tail-host", str(late))]


def test_deleted_file_is_forgotten(engine, tmp_path, make_tailer):
    log = tmp_path / "logs" / "app.log"
    log.write_text("one\n")
    tailer = make_tailer(rotate_grace=0.0)
    tailer.poll()
    log.unlink()
    tailer.poll()
    tailer.poll()
    assert tailer.files == {}
    assert json.loads((tmp_path / "state" / "positions.json").read_text()) == {}


def test_failed_write_is_retried_from_the_same_offset(engine, tmp_path):
    log = tmp_path / "app.log"
    log.write_text("one\ntwo\n")
    store = LogStore(engine)
    fail = [True]

    def write(entries):
        if fail[0]:
            raise OSError("database away")
        return store.write(entries)

    tailer = FileTailer([str(log)], write, tmp_path / "positions.json", "h")
    with pytest.raises(OSError):
        tailer.poll()
    fail[0] = False
    assert tailer.poll() == 2
    tailer.close()
    assert messages(engine) == ["one", "two"]


def test_positions_written_by_another_process_are_followed(engine, tmp_path, make_tailer):
    """Leadership moved away and back: the other process's positions win."""
    log = tmp_path / "logs" / "app.log"
    log.write_text("one\n")
    mine, theirs = make_tailer(), make_tailer()
    mine.poll()
    append(log, "two\n")
    theirs.poll()
    append(log, "three\n")
    mine.poll()
    assert messages(engine) == ["one", "two", "three"]


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("ERROR something", "error"),
        ("ERROR:root:boom", "error"),
        ("2026-01-01 12:00:00,123 WARNING app: slow", "warning"),
        ("[INFO] ready", "info"),
        ("level=debug msg=x", "debug"),
        ("FATAL out of memory", "critical"),
        ("<crit> x", "critical"),
        ("trace: deep", "debug"),
        ("no level word here at all, error later", "info"),
        ("", "info"),
    ],
)
def test_guess_level(line, level):
    assert guess_level(line) == level


def test_only_the_leader_polls(engine, tmp_path: Path):
    """The tail job runs through the scheduler's leader-only hook."""
    log = tmp_path / "app.log"
    log.write_text("from the leader\n")
    tailer = FileTailer([str(log)], LogStore(engine).write, tmp_path / "pos.json", "h")
    lock = FileLeaderLock(tmp_path / "leader.lock")
    scheduler = Scheduler(
        [], MetricsStore(engine), InProcessBus(), lock, ScheduleConfig(),
        jobs=[LeaderJob("tail", tailer.poll, 0.2)],
    )  # fmt: skip
    job = scheduler.jobs[0]
    assert scheduler.run_job(job) is None  # not the leader yet
    assert messages(engine) == []
    scheduler.start()
    try:
        wait_until(lambda: messages(engine) == ["from the leader"], 10)
        # The run is counted once poll() has returned, a moment after its write commits.
        wait_until(lambda: scheduler.status["tail"].runs >= 1, 10)
    finally:
        scheduler.shutdown()
        tailer.close()
    assert os.path.exists(tmp_path / "pos.json")
