"""The trading journal in PostgreSQL: signals, orders, order events and fills as the trader makes them;
records kept in order through a database outage; alerts on record; the runner's daily sigma."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import psycopg
import pytest

from scalper.adapters.store import connect as store_connect
from scalper.adapters.store.alerts import record_alert
from scalper.adapters.store.journal import StoreJournal
from scalper.adapters.store.orders import load_book, write_run
from scalper.apps.run import daily_sigma
from scalper.brokers.sim import SimBroker, SimConfig
from scalper.core.clock import ReplayClock
from scalper.core.errors import StoreError
from scalper.core.orders import Fill
from scalper.engine.journal import Journal, SignalRecord
from scalper.engine.trader import Trader
from scalper.features.engine import FeatureEngine
from scalper.oms import OrderEvent
from scalper.plays.base import load_play
from scalper.strategy.thresholds import load_thresholds
from scripted_play import PATH, T0, S, bars, decision

pytestmark = pytest.mark.integration

#: Monday 2025-03-03 10:00 New York (15:00 UTC); every time below is a whole millisecond
RUN = "paper-sim-2025-03-03"
CLOSED_PORT = "postgresql://127.0.0.1:1/x"


def path(*legs: tuple[int, float]) -> list[float]:
    closes: list[float] = []
    for (s0, p0), (s1, p1) in itertools.pairwise(legs):
        closes += [round(p0 + (p1 - p0) * (s - s0) / (s1 - s0), 2) for s in range(s0, s1)]
    return [*closes, legs[-1][1]]


#: entry at decision(9) fills near 500.06; the fall to 499.85 trips a $50 daily loss limit (flatten), and
#: the second entry (decision(40)) is refused by the kill switch
SAGGING = path((0, 500.0), (9, 500.0), (11, 500.10), (15, 499.85), (45, 499.85))
FLAT = path((0, 500.0), (9, 500.0), (11, 500.10), (30, 500.10))


def trade(
    journal: Journal, closes: list[float], *, enter_at: tuple[int, ...], exit_at: tuple[int, ...] = ()
) -> tuple[Trader, SimBroker]:
    clock = ReplayClock(T0)
    broker = SimBroker(clock, SimConfig())
    play = load_play(
        PATH,
        {
            "index": "I:SPX",
            "proxy": "SPY",
            "reward_risk": 2.0,
            "cooldown_s": 0,
            "enter_at": enter_at,
            "exit_at": exit_at,
        },
        name="SCRIPTED",
    )
    risk = load_thresholds().risk
    risk = risk.model_copy(update={"limits": risk.limits.model_copy(update={"daily_loss_limit_pct": 0.05})})
    ticks = itertools.count(0, 1000)
    trader = Trader(
        features=FeatureEngine(("I:SPX", "SPY")),
        plays=[play],
        risk=risk,
        broker=broker,
        clock=clock,
        equity=100_000.0,
        daily_sigma={"SPY": 0.012},
        level_of=lambda name, ts: "normal",
        perf_counter_ns=lambda: next(ticks),
        expectancy_lower_r={"SCRIPTED": 0.2},
        journal=journal,
        namespace=RUN,
    )
    trader.broker_connected(T0)
    for event in bars(closes):
        trader.on_event(event)
    return trader, broker


@pytest.fixture
def registered(db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    write_run(db, run_id=RUN, kind="paper", started_ns=T0, params={"broker": "sim"})
    return db


def journal_to(url: str) -> StoreJournal:
    return StoreJournal(lambda: psycopg.connect(url, autocommit=True), RUN)


SIGNAL_COLUMNS = (
    "signal_id, extract(epoch FROM ts)::float8, play, symbol, proxy, direction, price, proxy_price, stop, target, "
    "reasons, policy, accepted, level, shares, latency_us"
)


def signal_rows(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(f"SELECT {SIGNAL_COLUMNS} FROM signals WHERE run_id = %s ORDER BY ts", (RUN,)).fetchall()


def test_entry_decisions_land_in_signals_taken_or_refused(registered: psycopg.Connection[Any], db_url: str) -> None:
    journal = journal_to(db_url)
    trader, _ = trade(journal, SAGGING, enter_at=(decision(9), decision(40)))
    journal.close()
    assert [r.kind for r in trader.signals] == ["enter", "flatten", "enter"]
    taken, _, refused = trader.signals
    assert taken.accepted and not refused.accepted and taken.plan is not None
    assert journal.healthy and journal.waiting == 0 and journal.failures == 0
    rows = signal_rows(registered)
    assert len(rows) == 2  # the flatten is an order of the signal, not a signal
    (sid, ts, play, symbol, proxy, direction, price, proxy_price, stop, target, reasons, policy) = rows[0][:12]
    accepted, level, shares, latency_us = rows[0][12:]
    assert (sid, ts * S, play, symbol, proxy, direction) == (taken.signal_id, taken.ts, "SCRIPTED", "I:SPX", "SPY", 1)
    assert price == taken.price == 5000.0
    assert (
        (proxy_price, stop, target) == (taken.plan.entry, taken.plan.stop, taken.plan.target) == (500.0, 499.8, 500.4)
    )
    assert (accepted, level, shares) == (True, "normal", taken.shares) and taken.shares > 0
    assert latency_us == 1.0  # 1000 ns from the injected counter
    assert reasons == [{"code": r.code, "text": r.text, "effect": r.effect} for r in taken.reasons]
    assert policy == {"level": "normal"}
    sid, *_ = rows[1]
    accepted, level, shares, latency_us = rows[1][12:]
    assert sid == refused.signal_id and (accepted, level, shares, latency_us) == (False, "normal", 0, None)
    assert rows[1][7:10] == (None, None, None)  # no bracket planned
    assert "KILL_SWITCH" in [r["code"] for r in rows[1][10]]


def test_exits_are_not_signals(registered: psycopg.Connection[Any], db_url: str) -> None:
    journal = journal_to(db_url)
    trader, _ = trade(journal, FLAT, enter_at=(decision(9),), exit_at=(decision(20),))
    journal.close()
    assert [r.kind for r in trader.signals] == ["enter", "exit"]
    assert [row[0] for row in signal_rows(registered)] == [trader.signals[0].signal_id]


def test_order_events_land_and_rebuild_the_same_book(registered: psycopg.Connection[Any], db_url: str) -> None:
    recorded = Recorder()
    journal = journal_to(db_url)
    trader, broker = trade(Both(journal, recorded), SAGGING, enter_at=(decision(9), decision(40)))
    journal.close()
    events = [e for _, item in recorded.calls if not isinstance(item, SignalRecord) for e in item]
    assert load_book(registered, RUN) == trader.book
    (n_events,) = registered.execute("SELECT count(*) FROM order_events WHERE run_id = %s", (RUN,)).fetchone() or (0,)
    assert n_events == len(events) and n_events > 0
    fills = registered.execute(
        "SELECT fill_id, client_order_id, qty, price FROM fills WHERE run_id = %s ORDER BY ts, fill_id", (RUN,)
    ).fetchall()
    sim_fills = [u for u in broker.updates if isinstance(u, Fill)]
    assert sorted(fills) == sorted((f.fill_id, f.client_order_id, f.qty, f.price) for f in sim_fills)
    statuses = dict(
        registered.execute("SELECT client_order_id, status FROM orders WHERE run_id = %s", (RUN,)).fetchall()
    )
    assert statuses == {o.client_order_id: str(o.status) for o in trader.book.orders()}


class Recorder:
    """A journal keeping the calls it gets, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, SignalRecord | Sequence[OrderEvent]]] = []

    def signal(self, record: SignalRecord) -> None:
        self.calls.append(("signal", record))

    def order_events(self, events: Sequence[OrderEvent]) -> None:
        self.calls.append(("events", list(events)))


def hand(journal: Journal, kind: str, item: SignalRecord | Sequence[OrderEvent]) -> None:
    """One recorded call, made again."""
    if kind == "signal":
        assert isinstance(item, SignalRecord)
        journal.signal(item)
    else:
        assert not isinstance(item, SignalRecord)
        journal.order_events(item)


class Both:
    """Hands every call to two journals."""

    def __init__(self, a: Journal, b: Journal) -> None:
        self.a, self.b = a, b

    def signal(self, record: SignalRecord) -> None:
        self.a.signal(record)
        self.b.signal(record)

    def order_events(self, events: Sequence[OrderEvent]) -> None:
        self.a.order_events(events)
        self.b.order_events(events)


class Switch:
    """Connects to a closed port until switched to the real database; counts the attempts."""

    def __init__(self, good: Callable[[], psycopg.Connection[Any]], bad: Callable[[], psycopg.Connection[Any]]):
        self.good, self.bad = good, bad
        self.down = True
        self.attempts = 0

    def __call__(self) -> psycopg.Connection[Any]:
        self.attempts += 1
        return self.bad() if self.down else self.good()


def write_order(conn: psycopg.Connection[Any]) -> list[set[tuple[str, int]]]:
    """The stored records grouped by writing transaction, in transaction order (xmin)."""
    rows = conn.execute(
        "SELECT xmin::text::bigint, client_order_id, seq FROM order_events WHERE run_id = %s "
        "UNION ALL SELECT xmin::text::bigint, signal_id, -1 FROM signals WHERE run_id = %s",
        (RUN, RUN),
    ).fetchall()
    groups: dict[int, set[tuple[str, int]]] = {}
    for xid, key, seq in rows:
        groups.setdefault(xid, set()).add((key, seq))
    return [groups[x] for x in sorted(groups)]


@pytest.mark.parametrize("failing", ["psycopg", "store"])
def test_records_wait_through_an_outage_and_are_written_in_order(
    registered: psycopg.Connection[Any], db_url: str, failing: str
) -> None:
    # what the trader hands over, in order
    recorder = Recorder()
    trader, _ = trade(recorder, SAGGING, enter_at=(decision(9), decision(40)))
    stored_calls = [(k, i) for k, i in recorder.calls if k == "events" or getattr(i, "kind", "") == "enter"]
    assert len(stored_calls) > 8

    bad: Callable[[], psycopg.Connection[Any]] = (
        (lambda: psycopg.connect(CLOSED_PORT, connect_timeout=1))
        if failing == "psycopg"
        else (lambda: store_connect(CLOSED_PORT, timeout_s=1.0))  # what the runner passes: DatabaseUnavailable
    )
    switch = Switch(lambda: psycopg.connect(db_url, autocommit=True), bad)
    journal = StoreJournal(switch, RUN)
    down_for = 8  # calls made while the database is unreachable
    made = 0
    for kind, item in recorder.calls:
        stored_before = made
        if kind == "signal":
            assert isinstance(item, SignalRecord)
            journal.signal(item)
            made += item.kind == "enter"
        else:
            assert not isinstance(item, SignalRecord)
            journal.order_events(item)
            made += 1
        if made == stored_before:
            continue  # an exit or a flatten: nothing to store, no attempt
        if made <= down_for:
            assert not journal.healthy and journal.waiting == made and journal.failures == made
            assert switch.attempts == made and journal.last_error is not None
            assert signal_rows(registered) == []
        if made == down_for:
            switch.down = False  # the database is back
        if made == down_for + 1:
            assert journal.healthy and journal.waiting == 0 and journal.last_error is None
            assert switch.attempts == down_for + 1  # one connection wrote everything
    journal.close()
    assert made == len(stored_calls) and journal.failures == down_for and switch.attempts == down_for + 1

    # nothing lost, nothing twice, and written in the order handed over
    assert load_book(registered, RUN) == trader.book
    expected: list[set[tuple[str, int]]] = []
    for _, item in stored_calls:
        if isinstance(item, SignalRecord):
            expected.append({(item.signal_id, -1)})
        else:
            expected.append({(e.client_order_id, e.seq) for e in item})
    assert write_order(registered) == expected
    assert [row[0] for row in signal_rows(registered)] == [r.signal_id for r in trader.signals if r.kind == "enter"]


def test_a_connection_lost_midway_is_replaced_and_nothing_is_lost(
    registered: psycopg.Connection[Any], db_url: str
) -> None:
    recorder = Recorder()
    trader, _ = trade(recorder, FLAT, enter_at=(decision(9),), exit_at=(decision(20),))
    attempts = 0

    def connect() -> psycopg.Connection[Any]:
        nonlocal attempts
        attempts += 1
        return psycopg.connect(db_url, autocommit=True)

    journal = StoreJournal(connect, RUN)
    calls = recorder.calls
    half = len(calls) // 2
    for kind, item in calls[:half]:
        hand(journal, kind, item)
    assert journal.healthy and attempts == 1
    # the server ends the journal's session (a restart, a failover)
    registered.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    events = [(k, i) for k, i in calls[half:] if k == "events"]
    first_kind, first_item = events[0]
    rest = calls[half:]
    rest.remove((first_kind, first_item))
    hand(journal, first_kind, first_item)
    assert not journal.healthy and journal.waiting == 1 and journal.failures == 1
    for kind, item in rest:
        hand(journal, kind, item)
    assert journal.healthy and attempts == 2
    journal.close()
    assert load_book(registered, RUN) == trader.book


def test_an_alert_is_recorded(db: psycopg.Connection[Any]) -> None:
    ts = T0 + 123_456_000
    first = record_alert(
        db, ts_ns=ts, kind="kill_switch", severity="critical", message="run x: tripped", payload={"run_id": "x"}
    )
    second = record_alert(db, ts_ns=ts, kind="journal", severity="warning", message="behind", dedup_key="journal-x")
    assert second > first
    rows = db.execute(
        "SELECT id, extract(epoch FROM ts)::numeric * 1000000, kind, severity, dedup_key, message, payload, "
        "delivered_at FROM alerts ORDER BY id"
    ).fetchall()
    assert [tuple(r) for r in rows] == [
        (first, ts // 1000, "kill_switch", "critical", "kill_switch", "run x: tripped", {"run_id": "x"}, None),
        (second, ts // 1000, "journal", "warning", "journal-x", "behind", {}, None),
    ]
    bad_severity: Any = "fatal"
    with pytest.raises(StoreError, match="recording the disk alert failed"):
        record_alert(db, ts_ns=ts, kind="disk", severity=bad_severity, message="full")


def test_daily_sigma_from_the_last_minute_bar_of_each_day(db: psycopg.Connection[Any]) -> None:
    rng = np.random.default_rng(7)
    day0 = dt.date(2025, 1, 2)
    closes = 500.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 30)))
    rows = []
    for i, close in enumerate(closes):
        day = day0 + dt.timedelta(days=i)
        last = dt.datetime(day.year, day.month, day.day, 20, 59, tzinfo=dt.UTC)  # 15:59 New York
        for ts, c in ((last - dt.timedelta(hours=3), close * 1.05), (last, close)):  # only the day's last bar counts
            rows.append(("SPY", "1m", ts, c, c, c, c, "test"))
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO bars (symbol, timeframe, ts, open, high, low, close, source) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
    before = int(dt.datetime(2025, 2, 1, 14, 0, tzinfo=dt.UTC).timestamp()) * S  # the 30 days are all before
    expected = float(np.std(np.diff(np.log(closes[-21:])), ddof=1))
    assert daily_sigma(db, "SPY", before) == pytest.approx(expected, rel=1e-9)
    # a cut-off: only the days before it count
    cut = int(dt.datetime(2025, 1, 12, 14, 0, tzinfo=dt.UTC).timestamp()) * S  # days 0..9
    assert daily_sigma(db, "SPY", cut) == pytest.approx(float(np.std(np.diff(np.log(closes[:10])), ddof=1)))
    few = int(dt.datetime(2025, 1, 7, 14, 0, tzinfo=dt.UTC).timestamp()) * S  # 5 days: 4 returns
    assert daily_sigma(db, "SPY", few) is None
    assert daily_sigma(db, "QQQ", before) is None
