"""Log store: batched writes (COPY on Postgres) and searches in the shared query language."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import product

from sqlalchemy import (
    BindParameter,
    Engine,
    Float,
    Integer,
    Select,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    table,
)

from storage.accounts import utc
from storage.db import read_engine
from storage.log_fingerprint import fingerprints
from storage.log_text import attrs_json, clean_text, pg_attrs_jsonb, read_attrs, sqlite_attrs_json
from storage.logquery import LEVELS, Query, Term
from storage.models import LOG_SEARCH_FTS
from storage.models import LogRecord as LogRow

WRITE_LOCK_KEY = 0x50554C5346
"""Session advisory lock held for the instant a PostgreSQL log write reserves its ids (the
leader lock's + 1)."""
WRITE_GATE = 0x50554C53
"""First key of the transaction advisory locks that make log writes commit in id order:
a write holds ``(WRITE_GATE, the id after its last)`` until it ends, and the write whose
ids start there waits for it before committing."""
SEARCH_INDEX_LOCK_KEY = WRITE_LOCK_KEY + 1
"""Session advisory lock held while one process adds or drops the search index."""
TRIGRAM_INDEX = "ix_log_records_message_trgm"
SEARCH_INDEXES = ("trigram", "none")
"""Choices of ``PULSEBOARD_LOG_SEARCH_INDEX`` on PostgreSQL: ``trigram`` keeps the pg_trgm
GIN index that serves substring search; ``none`` drops it, for faster writes, and
substring search reads the rows in time order instead (same answers, slower)."""
MAX_MESSAGE = 64 * 1024
"""Characters of a message that are kept; longer ones are cut (and say so in attrs)."""

MAX_KEPT_PAGES = 512
"""Page statements a store keeps (see ``LogStore._page_statement``) before starting over."""

EXACT_COUNT_LIMIT = 100_000
"""Up to this many matches ``LogStore.count`` counts them; past it, it estimates."""

_FTS = table(LOG_SEARCH_FTS, column("rowid", Integer), column("message", Text))
"""SQLite's FTS5 trigram index over the messages (external content: its rowid is the id)."""

_RECORD_COLUMNS = (
    LogRow.id,
    LogRow.ts,
    LogRow.level,
    LogRow.source,
    LogRow.host,
    LogRow.message,
    LogRow.attrs,
)
"""What a read returns of a record, in ``_record``'s order."""

ERROR_LEVELS = frozenset(LEVELS[LEVELS.index("error") :])
"""Levels whose records get an error group as they are written."""
REGRESSION_QUIET = 86400.0
"""A group seen again after this many quiet seconds has regressed."""
MAX_SAMPLE = 4000
"""Characters of the latest message a group keeps as its sample."""

_GROUP_COLUMNS = "fingerprint, title, level, source, first_seen, last_seen, count, sample"
_MERGE_GROUP = f"""
ON CONFLICT (fingerprint) DO UPDATE SET
    count = error_groups.count + excluded.count,
    first_seen = {{earliest}}(error_groups.first_seen, excluded.first_seen),
    last_seen = {{latest}}(error_groups.last_seen, excluded.last_seen),
    sample = CASE WHEN excluded.last_seen >= error_groups.last_seen
        THEN excluded.sample ELSE error_groups.sample END,
    level = CASE WHEN excluded.last_seen >= error_groups.last_seen
        THEN excluded.level ELSE error_groups.level END,
    regressed_at = CASE WHEN excluded.first_seen - error_groups.last_seen > {REGRESSION_QUIET}
        THEN excluded.first_seen ELSE error_groups.regressed_at END
"""
"""How a batch's group joins the stored one: counts added, first and last times widened,
the latest sample and level kept, ``regressed_at`` set when the group comes back after
more than ``REGRESSION_QUIET`` seconds."""
_PG_UPSERT = (
    f"INSERT INTO error_groups ({_GROUP_COLUMNS}) SELECT * FROM unnest("
    "%s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::float8[], %s::float8[], %s::bigint[], %s::text[])"
    + _MERGE_GROUP.format(earliest="least", latest="greatest")
)
"""PostgreSQL: one statement per batch whatever its number of groups, each column one
array parameter (so its text never changes and the server keeps it prepared)."""
_SQLITE_UPSERT = (
    f"INSERT INTO error_groups ({_GROUP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    + _MERGE_GROUP.format(earliest="min", latest="max")
)
"""SQLite: one prepared statement run for each group of the batch."""

MAX_SPELLINGS = 16
"""On SQLite, a word with more spellings than this (five non-ASCII letters and up) is
always looked up in the full-text index rather than tested row by row with LIKE."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A record to store: UTC time, a level from ``LEVELS``, where it came from, the text."""

    ts: datetime
    level: str
    source: str
    host: str
    message: str
    attrs: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogRecord:
    """A stored record, with its id (ids grow with arrival order)."""

    id: int
    ts: datetime
    level: str
    source: str
    host: str
    message: str
    attrs: dict

    def to_dict(self) -> dict:
        """JSON-ready data; the time as ISO 8601 UTC."""
        return _item(self.id, self.ts, self.level, self.source, self.host, self.message, self.attrs)


def _item(
    id: int, ts: datetime, level: str, source: str, host: str, message: str, attrs: dict
) -> dict:
    """A record as ``LogRecord.to_dict`` gives it."""
    return {
        "id": id,
        "ts": ts.isoformat(),
        "level": level,
        "source": source,
        "host": host,
        "message": message,
        "attrs": attrs,
    }


class LogStore:
    """Reads and writes ``log_records`` on SQLite or PostgreSQL."""

    def __init__(
        self,
        engine: Engine,
        on_commit: Callable[[int], None] | None = None,
        *,
        fingerprints: bool = True,
    ) -> None:
        self.engine = engine
        self.reader = read_engine(engine)
        self.dialect = engine.dialect.name
        self.on_commit = on_commit
        """Called with the count after each committed write (the app wakes live tails)."""
        self.fingerprints = fingerprints
        """Whether records at ``error`` or above get their error group as they are
        written (off only to measure what that costs)."""
        self._pages: dict[tuple, Select] = {}
        """PostgreSQL: the statements of search pages, by query and shape."""

    def write(self, entries: Sequence[LogEntry]) -> int:
        """Store ``entries`` in one transaction (committed when this returns); their count."""
        if not entries:
            return 0
        rows = [_row(e) for e in entries]
        groups = _grouped(entries, rows) if self.fingerprints else []
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                _copy_in_id_order(conn, rows, groups)
            else:
                conn.exec_driver_sql(
                    "INSERT INTO log_records (ts, level, source, host, message, attrs, "
                    "fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(_sqlite_time(r[0]), *r[1:]) for r in rows],
                )
                if groups:
                    conn.exec_driver_sql(_SQLITE_UPSERT, groups)
        if self.on_commit is not None:
            self.on_commit(len(rows))
        return len(rows)

    def apply_search_index(self, choice: str) -> bool:
        """PostgreSQL: add or drop the trigram index as ``choice`` (one of
        ``SEARCH_INDEXES``) says, without blocking writes; whether this process did it
        (False on SQLite, whose full-text index stays, or while another process does)."""
        if choice not in SEARCH_INDEXES:
            raise ValueError(f"unknown search index {choice!r}")
        if self.dialect != "postgresql":
            return False
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            locked = conn.exec_driver_sql(
                "SELECT pg_try_advisory_lock(%s)", (SEARCH_INDEX_LOCK_KEY,)
            ).scalar_one()
            if not locked:
                return False
            try:
                valid = conn.exec_driver_sql(
                    "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE c.relname = %s",
                    (TRIGRAM_INDEX,),
                ).scalar()
                if valid is False or (valid and choice == "none"):
                    # An interrupted concurrent build leaves an invalid index: build anew.
                    conn.exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {TRIGRAM_INDEX}")
                if choice == "trigram" and not valid:
                    conn.exec_driver_sql(
                        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {TRIGRAM_INDEX} "
                        "ON log_records USING gin (message gin_trgm_ops)"
                    )
            finally:
                conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (SEARCH_INDEX_LOCK_KEY,))
        return True

    # -- reading -----------------------------------------------------------------------

    def _reading(self):
        """A connection for one read (on PostgreSQL autocommit and read-only from its
        creation, so a read costs only its query)."""
        return self.reader.connect()

    def search(
        self,
        query: Query,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Page:
        """Matching records newest first, ``limit`` at a time (keyset paging by cursor);
        ``offset`` skips that many more, for a jump to a row no cursor is known for."""
        rows, next_cursor = self._page(query, start, end, cursor, limit, offset)
        return Page([_record(*r) for r in rows], next_cursor)

    def search_items(
        self,
        query: Query,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> tuple[list[dict], str | None]:
        """``search`` as ``LogRecord.to_dict`` data and the next cursor, for a JSON answer:
        built straight from the rows, as record objects made and dropped at once cost more
        than the rest of a first page's Python work."""
        rows, next_cursor = self._page(query, start, end, cursor, limit, 0)
        items = [
            _item(record_id, utc(ts), level, source, host, message, read_attrs(attrs))
            for record_id, ts, level, source, host, message, attrs in rows
        ]
        return items, next_cursor

    def _page(
        self,
        query: Query,
        start: datetime | None,
        end: datetime | None,
        cursor: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list, str | None]:
        """The rows of one ``search`` page (``_RECORD_COLUMNS``) and the next cursor."""
        stmt = self._page_statement(
            query, start is not None, end is not None, cursor is not None, limit, offset
        )
        params: dict = {"start": start, "end": end}
        if cursor is not None:
            params["cursor_ts"], params["cursor_id"] = decode_cursor(cursor)
        with self._reading() as conn:
            rows = conn.execute(stmt, params).all()
        if len(rows) <= limit:
            return rows, None
        last_id, last_ts = rows[limit - 1][0], utc(rows[limit - 1][1])
        return rows[:limit], _cursor(last_ts, last_id)

    def _page_statement(
        self,
        query: Query,
        bounded_below: bool,
        bounded_above: bool,
        after_cursor: bool,
        limit: int,
        offset: int,
    ) -> Select:
        """The statement of a ``search`` page, with the range (``start``, ``end``) and the
        cursor (``cursor_ts``, ``cursor_id``) as parameters.

        On PostgreSQL each is made once and kept: making it and working out its cache key
        cost a first page more than its query did."""
        key = (query, bounded_below, bounded_above, after_cursor, limit, offset)
        kept = self._pages.get(key)
        if kept is not None:
            return kept
        start = bindparam("start", type_=LogRow.ts.type) if bounded_below else None
        end = bindparam("end", type_=LogRow.ts.type) if bounded_above else None
        stmt = self.matching(select(*_RECORD_COLUMNS), query, start, end)
        if after_cursor:
            ts = bindparam("cursor_ts", type_=LogRow.ts.type)
            record_id = bindparam("cursor_id", type_=LogRow.id.type)
            stmt = stmt.where(or_(LogRow.ts < ts, and_(LogRow.ts == ts, LogRow.id < record_id)))
        # LIMIT and OFFSET written into the statement, not bound: once psycopg prepares a
        # statement, PostgreSQL may plan it once for any parameters, and a plan for an
        # unknown LIMIT (assumed a tenth of the rows) is not the one for a page.
        stmt = stmt.order_by(LogRow.ts.desc(), LogRow.id.desc()).limit(_written(limit + 1))
        if offset:
            stmt = stmt.offset(_written(offset))
        if self.dialect == "postgresql":  # SQLite's word terms look at the data as made
            if len(self._pages) >= MAX_KEPT_PAGES:
                self._pages.clear()
            self._pages[key] = stmt
        return stmt

    def after(
        self, last_id: int, query: Query, limit: int = 1000, upto: int | None = None
    ) -> list[LogRecord]:
        """Matching records with ids above ``last_id`` (and at most ``upto``), oldest
        first: what a tail missed."""
        stmt = self.matching(select(*_RECORD_COLUMNS), query, None, None, scan=True)
        stmt = stmt.where(LogRow.id > last_id)
        if upto is not None:
            stmt = stmt.where(LogRow.id <= upto)
        with self._reading() as conn:
            rows = conn.execute(stmt.order_by(LogRow.id).limit(limit)).all()
        return [_record(*r) for r in rows]

    def latest(self, query: Query, upto: int, limit: int) -> list[LogRecord]:
        """The last ``limit`` matching records with ids at most ``upto``, oldest first: a
        tail's backlog."""
        stmt = self.matching(select(*_RECORD_COLUMNS), query, None, None).where(LogRow.id <= upto)
        stmt = stmt.order_by(LogRow.id.desc()).limit(limit)
        with self._reading() as conn:
            rows = conn.execute(stmt).all()
        return [_record(*r) for r in reversed(rows)]

    def count(
        self,
        query: Query,
        start: datetime | None = None,
        end: datetime | None = None,
        exact_limit: int = EXACT_COUNT_LIMIT,
    ) -> tuple[int, bool]:
        """How many records match within [start, end), and whether that is exact.

        Up to ``exact_limit`` matches are counted. Past that PostgreSQL's planner estimates
        the count and SQLite answers ``exact_limit``; either way it is never below it."""
        # A constant, not the id: a range alone is then counted off the ts index without
        # visiting the table (an index-only scan).
        matches = self.matching(select(literal_column("1")).select_from(LogRow), query, start, end)
        capped = select(func.count()).select_from(
            matches.limit(_written(exact_limit + 1)).subquery()
        )
        with self._reading() as conn:
            counted = conn.execute(capped).scalar_one()
            if counted <= exact_limit:
                return counted, True
            if self.dialect != "postgresql":
                return exact_limit, False
            sql = matches.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
            plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}", sql.params).scalar_one()
        return max(int(plan[0]["Plan"]["Plan Rows"]), exact_limit), False

    def group_counts(
        self,
        query: Query,
        start: datetime,
        end: datetime,
        group_by: Sequence[str] = (),
        step: float | None = None,
    ) -> dict[tuple, int]:
        """How many records match within [start, end) per group: keys are the values of
        ``group_by`` (``host``, ``source``, ``fingerprint`` or ``attrs.<name>``, None where
        missing), led with ``step`` by the epoch start of each ``step``-second bucket."""
        columns = [self._group_column(name).label(f"g{i}") for i, name in enumerate(group_by)]
        if step is not None:
            columns.insert(0, self.bucket(start.timestamp(), step).label("b"))
        stmt = self.matching(select(*columns, func.count()), query, start, end)
        if columns:
            stmt = stmt.group_by(*(c.name for c in columns))
        with self._reading() as conn:
            rows = conn.execute(stmt).all()
        if step is None:
            return {tuple(row[:-1]): row[-1] for row in rows}
        base = start.timestamp()
        return {(base + int(row[0]) * step, *row[1:-1]): row[-1] for row in rows}

    def _group_column(self, name: str):
        if name.startswith("attrs."):
            return self._attr_text(name.removeprefix("attrs.").split("."))
        return {"host": LogRow.host, "source": LogRow.source, "fingerprint": LogRow.fingerprint}[
            name
        ]

    def bucket(self, base: float, step: float):
        """The 0-based ``step``-second bucket of a record's time from ``base``."""
        if self.dialect == "postgresql":
            # float8, as numeric arithmetic (extract's type) costs several times more a row.
            epoch = cast(func.extract("epoch", LogRow.ts), Float)
            return func.floor((epoch - literal(base, Float)) / literal(step, Float))
        # Whole seconds: julianday() arithmetic lands a hair below bucket edges.
        return cast((cast(func.strftime("%s", LogRow.ts), Integer) - base) / step, Integer)

    def latest_id(self) -> int:
        """The highest record id (0 when empty)."""
        with self._reading() as conn:
            return conn.execute(select(func.coalesce(func.max(LogRow.id), 0))).scalar_one()

    def histogram(
        self, query: Query, start: datetime, end: datetime, buckets: int = 60
    ) -> tuple[float, list[dict]]:
        """Counts per level per time bucket; returns the bucket width (s) and the rows
        ``{"ts": bucket start (epoch s), "level": ..., "count": n}``."""
        span = max((end - start).total_seconds(), 1.0)
        step = max(1.0, math.ceil(span / max(buckets, 1)))
        base = start.timestamp()
        bucket = self.bucket(base, step)
        stmt = (
            self.matching(select(bucket.label("b"), LogRow.level, func.count()), query, start, end)
            .group_by("b", LogRow.level)
            .order_by("b")
        )
        with self._reading() as conn:
            rows = conn.execute(stmt).all()
        return step, [
            {"ts": base + int(b) * step, "level": level, "count": n} for b, level, n in rows
        ]

    def stream(
        self,
        query: Query,
        start: datetime | None = None,
        end: datetime | None = None,
        batch: int = 2000,
    ) -> Iterator[LogRecord]:
        """Every matching record oldest first, read through a server-side cursor so memory
        stays flat whatever the count."""
        for row in self.stream_rows(query, start, end, batch):
            yield _record(*row)

    def stream_rows(
        self,
        query: Query,
        start: datetime | None = None,
        end: datetime | None = None,
        batch: int = 2000,
    ) -> Iterator[tuple[int, datetime, str, str, str, str, str]]:
        """``stream`` as plain rows: id, UTC time, level, source, host, message and the
        attrs as the JSON text stored (for writers that need not parse it)."""
        stmt = self.matching(select(*_RECORD_COLUMNS), query, start, end).order_by(
            LogRow.ts, LogRow.id
        )
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(stmt)
            for row_id, ts, level, source, host, message, attrs in result:
                yield row_id, utc(ts), level, source, host, message, attrs or "{}"

    def matching(
        self,
        stmt,
        query: Query,
        start: datetime | BindParameter | None,
        end: datetime | BindParameter | None,
        *,
        scan: bool = False,
    ):
        """``stmt`` narrowed to records matching ``query`` within [start, end) (each a time
        or a parameter bound at execution).

        ``scan`` tests each row for words instead of looking them up in SQLite's full-text
        index, for a statement that other conditions bound to a few rows already."""
        if start is not None:
            stmt = stmt.where(LogRow.ts >= start)
        if end is not None:
            stmt = stmt.where(LogRow.ts < end)
        for term in query.terms:
            condition = self._condition(term, scan)
            stmt = stmt.where(not_(condition) if term.negated else condition)
        return stmt

    def _condition(self, term: Term, scan: bool):
        if term.field is None:
            return self._contains(term.value, scan)
        if term.field == "level":
            wanted = LEVELS.index(term.value)
            allowed = [lv for rank, lv in enumerate(LEVELS) if _compare(rank, term.op, wanted)]
            return LogRow.level.in_(allowed)
        if term.field.startswith("attrs."):
            path = term.field.removeprefix("attrs.").split(".")
            return func.coalesce(self._attr_text(path), "") == term.value
        if term.field == "fingerprint":
            # NOT of a plain equality would leave out every record without a group too.
            return and_(LogRow.fingerprint.is_not(None), LogRow.fingerprint == term.value)
        return getattr(LogRow, term.field) == term.value

    def _contains(self, text: str, scan: bool):
        """The message contains ``text``, case-insensitively."""
        if self.dialect == "postgresql":
            # Backslash is PostgreSQL's default LIKE escape; a bare ILIKE is the ``~~*``
            # operator that ix_log_records_message_trgm serves, where the planner finds
            # that it pays. It can only find that from the pattern itself: bound, a
            # prepared statement may get one plan for any word (a guess of how common),
            # so the pattern is written into the statement as it runs.
            pattern = f"%{_escape_like(text)}%"
            return LogRow.message.ilike(
                bindparam(None, pattern, type_=Text, unique=True, literal_execute=True)
            )
        spellings = _spellings(text)
        if spellings and (len(text) < 3 or scan or self._common(text)):
            # LIKE folds ASCII letters only, hence one pattern per spelling of the others.
            return or_(
                *(LogRow.message.like(f"%{_escape_like(s)}%", escape="\\") for s in spellings)
            )
        return LogRow.id.in_(_indexed(text))

    def _common(self, text: str) -> bool:
        """Whether so many messages hold ``text`` that testing rows newest first fills a
        page sooner than fetching and sorting every match the full-text index finds.

        With m matches in n rows, a page of 100 takes about 100·n/m rows tested; a match
        fetched and sorted costs about as much as five rows tested: the two are even near
        m = 4·√n."""
        with self.engine.connect() as conn:
            # Apart, as SQLite reads min() or max() off the index only when alone.
            low = conn.execute(select(func.min(LogRow.id))).scalar()
            high = conn.execute(select(func.max(LogRow.id))).scalar()
            enough = math.ceil(4 * math.sqrt(high - low + 1)) if high else 1
            probe = select(func.count()).select_from(_indexed(text).limit(enough).subquery())
            return conn.execute(probe).scalar_one() >= enough

    def _attr_text(self, path: list[str]):
        """An attribute as the text the query language compares (``true``, ``42``)."""
        if self.dialect == "postgresql":
            return func.jsonb_extract_path_text(pg_attrs_jsonb(LogRow.attrs), *path)
        json_path = "$" + "".join(f'."{key}"' for key in path)
        attrs = sqlite_attrs_json(LogRow.attrs)
        kind = func.json_type(attrs, json_path)
        return case(
            (kind == "true", "true"),
            (kind == "false", "false"),
            else_=cast(func.json_extract(attrs, json_path), String),
        )


RESERVE_IDS = f"""
WITH locked AS MATERIALIZED (SELECT pg_advisory_lock({WRITE_LOCK_KEY})),
reserved AS MATERIALIZED (
    SELECT setval(pg_get_serial_sequence('log_records', 'id'),
        nextval(pg_get_serial_sequence('log_records', 'id')) + %(n)s - 1) AS last
    FROM locked
)
SELECT last - %(n)s + 1,
    pg_advisory_xact_lock({WRITE_GATE}, ((last + 1) %% 2147483648)::int4),
    pg_advisory_unlock({WRITE_LOCK_KEY})
FROM reserved
"""
"""One round trip: under the reservation lock, ``n`` consecutive ids taken from the
sequence at once and the gate of the write after them held; the first id. Every writer of
``log_records`` on PostgreSQL goes through here (``LogStore.write``): a row taking its id
from the sequence on its own could land inside another write's ids."""
_WAIT_FOR_EARLIER = "SELECT pg_advisory_xact_lock_shared(%s, %s)"
_COPY_WITH_IDS = (
    "COPY log_records (id, ts, level, source, host, message, attrs, fingerprint) FROM STDIN"
)


def _copy_in_id_order(conn, rows: list[list], groups: list[tuple]) -> None:
    """PostgreSQL: COPY ``rows`` with ids of their own, alongside other writers, and wait
    before commit until every write with lower ids has ended.

    A tail reads "ids above the last one seen": a batch committed after a later one would
    be passed over. Reserving a batch's ids in one step and holding the gate its successor
    waits on makes batches commit in id order, while their COPYs (and index updates) run
    at once. Error groups are upserted after the wait, so that two writers sharing a
    group never wait on each other in both directions."""
    try:
        first = conn.exec_driver_sql(RESERVE_IDS, {"n": len(rows)}).scalar_one()
    except Exception:
        # The reservation lock is a session's: never hand a connection that may still
        # hold it back to the pool.
        conn.invalidate()
        raise
    with (
        conn.connection.driver_connection.cursor() as cur,
        cur.copy(_COPY_WITH_IDS) as copy,
    ):
        for record_id, row in enumerate(rows, first):
            copy.write_row((record_id, *row))
    conn.exec_driver_sql(_WAIT_FOR_EARLIER, (WRITE_GATE, first % 2**31))
    if groups:
        conn.exec_driver_sql(_PG_UPSERT, tuple(map(list, zip(*groups, strict=True))))


_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime in SQLite


def _sqlite_time(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime(_SQLITE_TIME)


def _record(
    id: int, ts: datetime, level: str, source: str, host: str, message: str, attrs: str | None
) -> LogRecord:
    return LogRecord(id, utc(ts), level, source, host, message, read_attrs(attrs))


def _written(number: int):
    """An integer written into the statement's text rather than bound as a parameter."""
    return literal_column(str(int(number)))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _indexed(text: str):
    """Ids of the messages holding ``text``, from SQLite's full-text index: a quoted phrase
    of trigrams is an exact substring match, case-folded over all of Unicode; inside the
    quotes every character but '"' is plain text."""
    phrase = '"' + text.replace('"', '""') + '"'
    return select(_FTS.c.rowid).where(_FTS.c.message.match(phrase))


def _spellings(text: str) -> list[str]:
    """``text`` with its non-ASCII letters in each case, for SQLite's LIKE (which folds
    ASCII letters itself): ``École`` gives ``École`` and ``école``. None at all when there
    would be more than ``MAX_SPELLINGS``."""
    options = [{c} if c.isascii() else {c, c.lower(), c.upper()} for c in text]
    if math.prod(map(len, options)) > MAX_SPELLINGS:
        return []
    spellings = map("".join, product(*options))
    return sorted({s for s in spellings if s.lower() == text.lower()})


def _compare(rank: int, op: str, wanted: int) -> bool:
    return {
        ":": rank == wanted,
        ">=": rank >= wanted,
        ">": rank > wanted,
        "<=": rank <= wanted,
        "<": rank < wanted,
    }[op]


def _row(entry: LogEntry) -> list:
    """``entry`` as the row stored: its text cleaned (``storage.log_text``), so that no
    record can fail its batch or, once stored, the queries over everyone's records."""
    message, attrs = entry.message, entry.attrs or {}
    if len(message) > MAX_MESSAGE:
        message, attrs = message[:MAX_MESSAGE], {**attrs, "truncated_from": len(entry.message)}
    ts = entry.ts
    if ts.tzinfo is not UTC:  # most entries are in UTC already
        ts = (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)
    return [
        ts,
        clean_text(entry.level),
        clean_text(entry.source),
        clean_text(entry.host),
        clean_text(message),
        attrs_json(attrs),
        None,  # the fingerprint, which ``grouped`` sets on records at error or above
    ]


def _grouped(entries: Sequence[LogEntry], rows: list[list]) -> list[tuple]:
    """Sets the fingerprint of each row at ``error`` or above; returns the batch's error
    groups, one per fingerprint, as rows of ``_GROUP_COLUMNS`` (sorted, so that
    concurrent writers lock them in one order)."""
    groups: dict[str, list] = {}
    errors = [(r, e.attrs) for e, r in zip(entries, rows, strict=True) if r[1] in ERROR_LEVELS]
    found_all = fingerprints((row[1], row[2], row[4], attrs) for row, attrs in errors)
    for (row, _), found in zip(errors, found_all, strict=True):
        level = row[1]
        row[6] = found.fingerprint
        ts = row[0].timestamp()
        group = groups.get(found.fingerprint)
        if group is None:
            sample = row[4][:MAX_SAMPLE]
            groups[found.fingerprint] = [
                found.fingerprint,
                found.title,
                level,
                row[2],
                ts,
                ts,
                1,
                sample,
            ]
            continue
        group[6] += 1
        group[4] = min(group[4], ts)
        if ts >= group[5]:
            group[2], group[5], group[7] = level, ts, row[4][:MAX_SAMPLE]
    return [tuple(groups[key]) for key in sorted(groups)]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a search, newest first, and the cursor of the next (None at the end)."""

    records: list[LogRecord]
    next_cursor: str | None


def encode_cursor(record: LogRecord) -> str:
    """An opaque keyset cursor: the position just after ``record`` in newest-first order."""
    return _cursor(record.ts, record.id)


def _cursor(ts: datetime, record_id: int) -> str:
    return f"{ts.timestamp():.6f}:{record_id}"


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (ts, id) a cursor stands for; ValueError when it is not one of ours."""
    stamp, _, ident = cursor.partition(":")
    ts = datetime.fromtimestamp(float(stamp), UTC)
    record_id = int(ident)
    if record_id < 1:
        raise ValueError("not a cursor")
    return ts, record_id
