"""Error groups kept at write time, on both backends: records at error or above get their
fingerprint and their group in the same transaction, counts add up, a group back after a
quiet day has regressed, the reads over a range, and every ingest path (syslog, a tailed
file, Pulseboard's own logging handler; the API in tests/app/diagnostics) ends in the same
fingerprinting write."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import text

from app.log_handler import LogStoreHandler
from collectors.syslog import SyslogReceiver
from collectors.tail import FileTailer
from storage.diagnostics.errors import ErrorGroupStore
from storage.log_fingerprint import fingerprint
from storage.logquery import parse
from storage.logs import LogEntry, LogStore
from tests.storage.conftest import T0


def entry(minutes: float, message: str, level: str = "error", **kw) -> LogEntry:
    return LogEntry(
        T0 + timedelta(minutes=minutes),
        level,
        kw.get("source", "api"),
        kw.get("host", "web-1"),
        message,
        kw.get("attrs", {}),
    )


def groups(store: LogStore) -> dict[str, dict]:
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM error_groups")).mappings().all()
    return {r["fingerprint"]: dict(r) for r in rows}


def fingerprints(store: LogStore) -> list[tuple[str, str | None]]:
    with store.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(text("SELECT level, fingerprint FROM log_records ORDER BY id"))
        ]


def test_records_at_error_or_above_get_a_group_and_the_rest_none(store):
    store.write(
        [
            entry(0, "order 1 failed"),
            entry(1, "order 2 failed", level="critical"),
            entry(2, "order 3 failed", level="warning"),
            entry(3, "all good", level="info"),
        ]
    )
    levels = fingerprints(store)
    assert [fp is not None for _, fp in levels] == [True, True, False, False]
    assert levels[0][1] == fingerprint("error", "api", "order 1 failed").fingerprint
    assert len(groups(store)) == 2


def test_a_group_counts_its_records_and_keeps_first_last_and_the_latest_sample(store):
    store.write([entry(5, "order 5 failed"), entry(1, "order 1 failed")])
    store.write([entry(9, "order 9 failed"), entry(3, "order 3 failed")])
    (group,) = groups(store).values()
    assert group["count"] == 4
    assert group["first_seen"] == (T0 + timedelta(minutes=1)).timestamp()
    assert group["last_seen"] == (T0 + timedelta(minutes=9)).timestamp()
    assert group["sample"] == "order 9 failed"
    assert group["title"] == "order <int> failed"
    assert group["regressed_at"] is None


def test_a_group_seen_again_after_a_quiet_day_has_regressed(store):
    store.write([entry(0, "order 1 failed")])
    store.write([entry(60 * 23, "order 2 failed")])  # within a day: not regressed
    assert next(iter(groups(store).values()))["regressed_at"] is None
    back = 60 * 23 + 60 * 24 + 1
    store.write([entry(back, "order 3 failed"), entry(back + 5, "order 4 failed")])
    (group,) = groups(store).values()
    assert group["regressed_at"] == (T0 + timedelta(minutes=back)).timestamp()
    assert group["count"] == 4


def test_fingerprinting_can_be_switched_off(engine):
    store = LogStore(engine, fingerprints=False)
    store.write([entry(0, "order 1 failed")])
    assert fingerprints(store) == [("error", None)]
    assert groups(store) == {}


def test_the_groups_of_a_range_with_counts_hosts_sources_and_sparkline(store):
    store.write(
        [
            entry(0, "order 1 failed", host="web-1"),
            entry(10, "order 2 failed", host="web-2"),
            entry(50, "order 3 failed", host="web-2", source="worker"),
            entry(20, "disk full", level="critical", source="db"),
            entry(-600, "old one 7"),  # before the range
        ]
    )
    start, end = T0.timestamp(), (T0 + timedelta(hours=1)).timestamp()
    found = ErrorGroupStore(store).groups(start, end, limit=10, buckets=6)
    # Most records first, then the latest seen.
    assert [(g["title"], g["source"]) for g in found] == [
        ("order <int> failed", "api"),
        ("order <int> failed", "worker"),
        ("disk full", "db"),
    ]
    top = found[0]
    assert top["in_range"] == 2 and top["total"] == 2
    assert top["hosts"] == ["web-1", "web-2"] and top["sources"] == ["api"]
    assert top["sparkline"] == [1, 1, 0, 0, 0, 0]
    assert top["new"] and not top["regressed"]
    assert found[1]["sources"] == ["worker"] and found[1]["hosts"] == ["web-2"]
    only_db = ErrorGroupStore(store).groups(start, end, query=parse("source:db"))
    assert [g["title"] for g in only_db] == ["disk full"]
    # A group first seen before the range is not new in it.
    later = ErrorGroupStore(store).groups(start + 60, end, new_only=True)
    assert sorted(g["source"] for g in later) == ["db", "worker"]


def test_one_group_in_detail_and_its_records_by_fingerprint(store):
    store.write([entry(0, "order 1 failed"), entry(30, "order 2 failed"), entry(31, "other")])
    fp = fingerprint("error", "api", "order 1 failed").fingerprint
    start, end = T0.timestamp(), (T0 + timedelta(hours=1)).timestamp()
    detail = ErrorGroupStore(store).group(fp, start, end, buckets=2)
    assert detail["in_range"] == 2 and detail["series"] == [[start, 1], [start + 1800, 1]]
    assert ErrorGroupStore(store).group("0" * 16, start, end) is None
    page = store.search(parse(f"fingerprint:{fp}"))
    assert [r.message for r in page.records] == ["order 2 failed", "order 1 failed"]
    assert [r.message for r in store.search(parse(f"-fingerprint:{fp}")).records] == ["other"]
    assert parse(f"fingerprint:{fp}").matches(
        {"level": "error", "source": "api", "message": "order 9 failed"}
    )


def test_syslog_records_get_their_fingerprint(store):
    receiver = SyslogReceiver("127.0.0.1", 0, store.write)
    receiver.receive("<11>1 2026-01-05T12:00:00Z web-1 app 42 - - payment 7 failed", "10.0.0.1")
    receiver.receive("<14>1 2026-01-05T12:00:01Z web-1 app 42 - - all fine", "10.0.0.1")
    assert receiver.flush()
    levels = fingerprints(store)
    assert levels[0] == ("error", fingerprint("error", "syslog", "payment 7 failed").fingerprint)
    assert levels[1] == ("info", None)


def test_tailed_file_lines_get_their_fingerprint(store, tmp_path):
    log = tmp_path / "app.log"
    log.write_text("ERROR payment 7 declined\nINFO all fine\nERROR payment 8 declined\n")
    assert FileTailer([str(log)], store.write, tmp_path / "pos.json", "web-1").poll() == 3
    levels = fingerprints(store)
    assert [level for level, _ in levels] == ["error", "info", "error"]
    assert levels[0][1] == levels[2][1] is not None and levels[1][1] is None


def test_the_logging_handler_records_get_their_fingerprint_from_the_traceback(store):
    handler = LogStoreHandler(store, "web-1", flush_interval=0.05)
    logger = logging.getLogger("tests.error_groups")
    logger.addHandler(handler)
    try:
        for order in (1, 2):
            try:
                raise ValueError(f"order {order} broken")
            except ValueError:
                logger.exception("checkout failed for %s", order)
        handler.flush()
    finally:
        logger.removeHandler(handler)
        handler.close()
    (group,) = groups(store).values()
    assert group["count"] == 2
    assert group["title"] == "ValueError: order <int> broken"
