"""One evaluation cycle of every alert rule (500 metric rules over 5,000 series, 50 log
rules over a million records) in steady state: ``Evaluator.run`` vs hand-written SQL
computing the same aggregates, one statement per rule."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg

from app.alerting.evaluate import Evaluator
from app.alerting.observe import Sources, log_values, metric_values
from app.alerting.rules import Rule, RuleBody, check, from_record, to_record
from bench.common import Result, compared, paired_rounds, psycopg_dsn
from bench.logs_data import log_database
from storage.alerts import AlertStore, InstanceRecord
from storage.db import make_engine
from storage.live import InProcessBus
from storage.logs import LogStore
from storage.metrics import MetricsStore, Sample
from storage.outbox import OutboxEntry

INTERVAL = 10
HISTORY = 600
"""Seconds of samples before the first evaluation (every rule's window fits in it)."""
LOG_RECORDS = 1_000_000
HOT_SHARE = 0.03
"""Series far above the rest: the groups they lead are the ones that fire."""
REDUCERS = ("avg", "min", "max", "last", "sum", "rate", "p95")
METRIC_WINDOWS = (60, 120, 180, 300)
LOG_WINDOWS = (120, 300, 600, 900)
METRIC_GROUPS: tuple[tuple[tuple[str, ...], dict[str, str]], ...] = (
    ((), {}),
    (("host",), {}),
    (("host", "device"), {}),
    (("host",), {"device": "d0"}),
)
LOG_GROUPS: tuple[tuple[str, ...], ...] = ((), ("source",), ("host",), ("source", "host"))
# Query text, the hand-written condition and its parameters.
LOG_QUERIES: tuple[tuple[str, str, tuple], ...] = (
    ("level>=error", "level IN ('error', 'critical')", ()),
    ("source:api", "source = %s", ("api",)),
    ("deadlock", "message ILIKE %s", ("%deadlock%",)),
    ("level:warning source:db", "level = 'warning' AND source = %s", ("db",)),
    ("timeout", "message ILIKE %s", ("%timeout%",)),
    (
        "level>=warning -source:nginx",
        "level IN ('warning', 'error', 'critical') AND NOT (source = %s)",
        ("nginx",),
    ),
    ('"card declined"', "message ILIKE %s", ("%card declined%",)),
)

# Per-series reducers in SQL over ``metric_samples`` rows of one window.
PER_SERIES = {
    "avg": "SUM(value) / COUNT(*)",
    "min": "MIN(value)",
    "max": "MAX(value)",
    "sum": "SUM(value)",
    "last": "(ARRAY_AGG(value ORDER BY ts DESC))[1]",
    "p95": "PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY value)",
}
METRIC_SQL = (
    "WITH s AS (SELECT id, host, labels::jsonb AS l FROM metric_series WHERE name = %s{match}), "
    "v AS (SELECT series_id, {reduce} AS v FROM metric_samples WHERE series_id IN "
    "(SELECT id FROM s) AND ts > %s AND ts <= %s GROUP BY series_id) "
    "SELECT {cols}{combine}(v.v) FROM v JOIN s ON s.id = v.series_id{group}"
)
# A counter's increase, counting from zero again after a reset, over the time it covers.
RATE_SQL = (
    "WITH s AS (SELECT id, host, labels::jsonb AS l FROM metric_series WHERE name = %s{match}), "
    "d AS (SELECT series_id, ts, value, LAG(value) OVER (PARTITION BY series_id ORDER BY ts) "
    "AS prev FROM metric_samples WHERE series_id IN (SELECT id FROM s) "
    "AND ts > %s AND ts <= %s), "
    "v AS (SELECT series_id, SUM(CASE WHEN value < prev THEN value ELSE value - prev END) "
    "/ (MAX(ts) - MIN(ts)) AS v FROM d GROUP BY series_id HAVING COUNT(*) >= 2) "
    "SELECT {cols}MAX(v.v) FROM v JOIN s ON s.id = v.series_id{group}"
)
LOG_SQL = "SELECT {cols}COUNT(*) FROM log_records WHERE ts >= %s AND ts < %s AND {cond}{group}"
RATIO_SQL = (
    "SELECT {cols}COUNT(*) FILTER (WHERE {cond}), COUNT(*) FROM log_records "
    "WHERE ts >= %s AND ts < %s{group}"
)

Values = dict[tuple, float]


@dataclass(frozen=True)
class Spec:
    """What a rule computes, before its thresholds are known."""

    name: str
    kind: str
    window: int
    group_by: tuple[str, ...]
    metric: str = ""
    reduce: str = ""
    matchers: tuple[tuple[str, str], ...] = ()
    query: int = 0
    """Index of the log rule's query in ``LOG_QUERIES``."""
    aggregate: str = ""


@dataclass(frozen=True)
class Size:
    """How big the scenario is."""

    names: int
    hosts: int
    devices: int
    metric_rules: int
    log_rules: int
    repeats: int


FULL = Size(names=50, hosts=20, devices=5, metric_rules=500, log_rules=50, repeats=9)
QUICK = Size(names=7, hosts=4, devices=2, metric_rules=28, log_rules=8, repeats=3)


def _counter(name: str) -> bool:
    return name.endswith("_total")


def metric_names(count: int) -> list[str]:
    """Gauges and one counter in five (the metrics ``rate`` rules read)."""
    return [
        f"bench_requests_{i:02d}_total" if i % 5 == 4 else f"bench_gauge_{i:02d}"
        for i in range(count)
    ]


def samples(size: Size, start: float, end: float, seed: int = 10) -> Iterator[list[Sample]]:
    """Every series' samples every ``INTERVAL`` s in (start, end], one tick per batch:
    gauges hold a level (a few far above), counters grow at a rate (a few far faster)."""
    rng = random.Random(seed)
    keys = [
        (name, f"node-{h:02d}", {"device": f"d{d}"})
        for name in metric_names(size.names)
        for h in range(size.hosts)
        for d in range(size.devices)
    ]
    hot = [rng.random() < HOT_SHARE for _ in keys]
    level = [(200.0 if h else rng.uniform(0, 100)) for h in hot]
    rate = [(50.0 if h else rng.uniform(0, 10)) for h in hot]
    counter = [rng.uniform(0, 1e6) for _ in keys]
    ts = start + INTERVAL
    while ts <= end:
        batch = []
        for i, (name, host, labels) in enumerate(keys):
            if _counter(name):
                counter[i] += rate[i] * INTERVAL + rng.uniform(0, 2)
                value = counter[i]
            else:
                value = level[i] + rng.uniform(-1, 1)
            batch.append(Sample(ts, host, name, value, labels))
        yield batch
        ts += INTERVAL


def specs(size: Size) -> list[Spec]:
    """Metric rules over every reducer, window and grouping; log rules over every query,
    aggregate and grouping."""
    names = metric_names(size.names)
    gauges = [n for n in names if not _counter(n)]
    counters = [n for n in names if _counter(n)]
    out = []
    for i in range(size.metric_rules):
        how = REDUCERS[i % len(REDUCERS)]
        pool = counters if how == "rate" else gauges
        group_by, matchers = METRIC_GROUPS[(i // len(REDUCERS)) % len(METRIC_GROUPS)]
        out.append(
            Spec(
                name=f"metric {i:03d}",
                kind="metric",
                window=METRIC_WINDOWS[i % len(METRIC_WINDOWS)],
                group_by=group_by,
                metric=pool[(i // len(REDUCERS)) % len(pool)],
                reduce=how,
                matchers=tuple(matchers.items()),
            )
        )
    for i in range(size.log_rules):
        out.append(
            Spec(
                name=f"log {i:02d}",
                kind="log",
                window=LOG_WINDOWS[i % len(LOG_WINDOWS)],
                group_by=LOG_GROUPS[(i // 3) % len(LOG_GROUPS)],
                query=i % len(LOG_QUERIES),
                aggregate=("count", "rate", "ratio")[i % 3],
            )
        )
    return out


# -- the hand-written baseline --------------------------------------------------------------


def _metric_statement(spec: Spec) -> tuple[str, tuple]:
    """The statement of a metric rule and its parameters before the window's bounds."""
    # Labels are stored as JSON text: read as jsonb. Label names are the scenario's own.
    cols = ["s.host" if k == "host" else f"s.l ->> '{k}'" for k in spec.group_by]
    match = "".join(
        " AND host = %s" if k == "host" else f" AND labels::jsonb ->> '{k}' = %s"
        for k, _ in spec.matchers
    )
    group = f" GROUP BY {', '.join(str(n + 1) for n in range(len(cols)))}" if cols else ""
    fields = {"match": match, "cols": "".join(f"{c}, " for c in cols), "group": group}
    if spec.reduce == "rate":
        sql = RATE_SQL.format(**fields)
    else:
        combine = {"sum": "SUM", "min": "MIN"}.get(spec.reduce, "MAX")
        sql = METRIC_SQL.format(reduce=PER_SERIES[spec.reduce], combine=combine, **fields)
    return sql, (spec.metric, *(v for _, v in spec.matchers))


def _log_statement(spec: Spec) -> tuple[str, tuple]:
    _, cond, params = LOG_QUERIES[spec.query]
    cols = "".join(f"{k}, " for k in spec.group_by)
    group = f" GROUP BY {', '.join(spec.group_by)}" if spec.group_by else ""
    template = RATIO_SQL if spec.aggregate == "ratio" else LOG_SQL
    return template.format(cols=cols, cond=cond, group=group), params


def _key(group_by: Sequence[str], values: Sequence) -> tuple:
    return tuple((k, str(v)) for k, v in zip(group_by, values, strict=True) if v is not None)


def baseline_values(raw: psycopg.Connection, spec: Spec, now: float) -> Values:
    """The value of each label group of ``spec`` at ``now``, by hand-written SQL."""
    start = now - spec.window
    n = len(spec.group_by)
    if spec.kind == "metric":
        sql, params = _metric_statement(spec)
        rows = raw.execute(sql, (*params, start, now)).fetchall()
        return {_key(spec.group_by, r[:n]): r[n] for r in rows if r[n] is not None}
    sql, params = _log_statement(spec)
    bounds = (datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(now, UTC))
    if spec.aggregate == "ratio":
        rows = raw.execute(sql, (*params, *bounds)).fetchall()
        return {_key(spec.group_by, r[:n]): r[n] / r[n + 1] for r in rows if r[n + 1]}
    rows = raw.execute(sql, (*bounds, *params)).fetchall()
    per = spec.window if spec.aggregate == "rate" else 1
    return {_key(spec.group_by, r[:n]): r[n] / per for r in rows}


# -- the rules ------------------------------------------------------------------------------


def threshold(values: Values, index: int) -> float:
    """A threshold above which a few of ``values`` lie: in the widest gap among the top
    quarter (one rule in twenty fires when there is only one group)."""
    ranked = sorted(values.values(), reverse=True)
    if len(ranked) < 2:
        top = ranked[0] if ranked else 0.0
        return top - abs(top) / 2 - 1 if index % 20 == 0 else top + abs(top) + 10
    k = max(range(1, max(2, len(ranked) // 4 + 1)), key=lambda k: ranked[k - 1] - ranked[k])
    if ranked[k - 1] == ranked[k]:
        return ranked[0] + abs(ranked[0]) + 10
    return (ranked[k - 1] + ranked[k]) / 2


def body(spec: Spec, index: int, limit: float) -> RuleBody:
    """The rule of ``spec`` firing above ``limit`` (warning or critical, some with a
    pending time)."""
    level = "critical" if index % 2 else "warning"
    fields = {
        "name": spec.name,
        "kind": spec.kind,
        "group_by": list(spec.group_by),
        "window": spec.window,
        "op": ">",
        level: limit,
        "for": 60 if index % 5 == 0 else 0,
        "interval": INTERVAL,
    }
    if spec.kind == "metric":
        fields.update(metric=spec.metric, reduce=spec.reduce, matchers=dict(spec.matchers))
    else:
        fields.update(query=LOG_QUERIES[spec.query][0], aggregate=spec.aggregate)
    return RuleBody.model_validate(fields)


def enqueue(instance: InstanceRecord, rule: Rule, event: str, now: float) -> list[OutboxEntry]:
    """The outbox rows of one event, one per channel of the rule."""
    return [
        OutboxEntry(
            dedup_key=f"{instance.fingerprint}:{event}:{now}:{channel}",
            group_key=f"{rule.id}:{channel}",
            channel_id=channel,
            rule_id=rule.id or 0,
            event=event,
            payload={"labels": instance.labels},
            created_at=now,
            next_attempt_at=now,
        )
        for channel in rule.channels
    ]


# -- the scenario ---------------------------------------------------------------------------


@dataclass
class Scenario:
    """The loaded database, its rules and both ways of evaluating them at the clock."""

    alerts: AlertStore
    metrics: MetricsStore
    logs: LogStore
    raw: psycopg.Connection
    specs: list[Spec]
    rules: list[Rule]
    clock: float
    records: int
    evaluator: Evaluator = field(init=False)

    def __post_init__(self) -> None:
        # One evaluator for every cycle, as the leader's job keeps it.
        self.evaluator = Evaluator(self.alerts, self.metrics, self.logs, InProcessBus(), enqueue)

    def cycle(self) -> int:
        """One cycle of ours, ``INTERVAL`` s after the last (every rule is due)."""
        self.clock += INTERVAL
        done = self.evaluator.run(self.clock)
        if done != len(self.rules):
            raise RuntimeError(f"{done} of {len(self.rules)} rules evaluated")
        return done

    def baseline(self) -> list[Values]:
        """Every rule's values at the clock, by hand-written SQL."""
        return [baseline_values(self.raw, spec, self.clock) for spec in self.specs]

    def check(self, every: int) -> None:
        """Raise unless ours and the baseline agree for every ``every``-th rule."""
        for spec, rule in list(zip(self.specs, self.rules, strict=True))[::every]:
            start = self.clock - spec.window
            if spec.kind == "metric":
                ours = metric_values(rule, Sources(self.metrics, self.logs), start, self.clock)
            else:
                ours = log_values(rule, self.logs, start, self.clock)
            theirs = baseline_values(self.raw, spec, self.clock)
            same = ours.keys() == theirs.keys() and all(
                math.isclose(ours[k], theirs[k], rel_tol=1e-9, abs_tol=1e-9) for k in ours
            )
            if not same:
                raise RuntimeError(f"{spec.name}: ours {ours} != hand-written {theirs}")

    def firing_share(self) -> float:
        """Firing instances as a share of every label group the rules see."""
        groups = sum(len(v) for v in self.baseline())
        firing = [i for i in self.alerts.open_instances() if i.state == "firing"]
        return len(firing) / max(groups, 1)


@contextmanager
def scenario(quick: bool) -> Iterator[Scenario]:
    """A database with the log records, the series and the rules, evaluated once so that
    every instance exists: the steady state each measured cycle starts from."""
    size = QUICK if quick else FULL
    with log_database(quick, records=None if quick else LOG_RECORDS) as db:
        engine = make_engine(db.url)
        alerts, metrics, logs = AlertStore(engine), MetricsStore(engine), LogStore(engine)
        now = (db.end - timedelta(hours=1)).timestamp() // INTERVAL * INTERVAL
        for batch in samples(size, now - HISTORY, now + (2 * size.repeats + 8) * INTERVAL):
            metrics.write(batch)
        for record in alerts.list_rules():  # the default rules watch metrics not loaded
            alerts.delete_rule(record.id or 0, [])
        with psycopg.connect(psycopg_dsn(db.url), autocommit=True) as raw:
            raw.execute("VACUUM ANALYZE")
            rules = []
            for index, spec in enumerate(specs(size)):
                limit = threshold(baseline_values(raw, spec, now), index)
                record = alerts.create_rule(to_record(check(body(spec, index, limit))), None, now)
                rules.append(from_record(record))
            state = Scenario(alerts, metrics, logs, raw, specs(size), rules, now, db.total)
            state.cycle()
            yield state
        engine.dispose()


def run(quick: bool = False) -> list[Result]:
    """Median cycle time, ours and hand-written alternating, and its share of the interval."""
    size = QUICK if quick else FULL
    with scenario(quick) as state:
        rounds = paired_rounds(state.cycle, state.baseline, size.repeats)
        state.check(every=5)
        share = state.firing_share()
        records = state.records
    rules = f"{size.metric_rules} metric rules over {size.names * size.hosts * size.devices}"
    note = (
        f"alerts_evaluate: {rules} series, {size.log_rules} log rules over {records:,} "
        f"records, every rule due, instances from the previous cycle ({share:.1%} of the "
        f"groups firing); baseline: one hand-written statement per rule (PostgreSQL), median "
        f"of {size.repeats} alternating rounds"
    )
    return [
        compared("alerts evaluate cycle (pg)", rounds, "<= 1.5x", note),
        Result(
            "alerts cycle / 10 s interval (pg)",
            rounds[0].median / INTERVAL * 100,
            None,
            "% of interval",
            "< 20% of 10 s",
            note,
        ),
    ]
