"""The trader's journal: every decision and every order change handed over, submissions before the broker call."""

from __future__ import annotations

import itertools
from typing import Any

from scalper.brokers.port import BracketRequest
from scalper.brokers.sim import SimBroker, SimConfig
from scalper.core.clock import ReplayClock
from scalper.core.orders import Fill, Leg, OrderRequest, OrderStatus, StatusUpdate
from scalper.engine.journal import MemoryJournal
from scalper.engine.trader import Trader
from scalper.features.engine import FeatureEngine
from scalper.oms import OrderBook, client_order_id
from scalper.plays.base import load_play
from scalper.strategy.thresholds import load_thresholds
from scripted_play import PATH, T0, bars, decision


class ObservedSim(SimBroker):
    """The simulator, noting what the journal held at the moment each request reached it."""

    def __init__(self, clock: ReplayClock, journal: MemoryJournal) -> None:
        super().__init__(clock, SimConfig())
        self.journal = journal
        #: (client ids sent, [(client id, seq, kind) of every journal event at that moment])
        self.seen: list[tuple[tuple[str, ...], list[tuple[str, int, str]]]] = []

    def _note(self, cids: tuple[str, ...]) -> None:
        self.seen.append((cids, [(e.client_order_id, e.seq, e.kind) for e in self.journal.events]))

    def submit_bracket(self, bracket: BracketRequest) -> None:
        self._note(tuple(leg.client_order_id for leg in bracket.legs))
        super().submit_bracket(bracket)

    def submit(self, request: OrderRequest) -> None:
        self._note((request.client_order_id,))
        super().submit(request)


FLAT = [500.0] * 10 + [500.05, 500.10] + [500.10] * 20


def run(
    *, enter_at: tuple[int, ...], exit_at: tuple[int, ...] = (), connected: bool = True
) -> tuple[Trader, ObservedSim, MemoryJournal]:
    clock = ReplayClock(T0)
    journal = MemoryJournal()
    broker = ObservedSim(clock, journal)
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
    ticks = itertools.count(0, 1000)
    trader = Trader(
        features=FeatureEngine(("I:SPX", "SPY")),
        plays=[play],
        risk=load_thresholds().risk,
        broker=broker,
        clock=clock,
        equity=100_000.0,
        daily_sigma={"SPY": 0.012},
        level_of=lambda name, ts: "normal",
        perf_counter_ns=lambda: next(ticks),
        expectancy_lower_r={"SCRIPTED": 0.2},
        journal=journal,
    )
    if connected:
        trader.broker_connected(T0)
    for event in bars(FLAT):
        trader.on_event(event)
    return trader, broker, journal


SIGNAL = f"SCRIPTED-{decision(9)}"
LEGS = tuple(client_order_id(SIGNAL, leg) for leg in (Leg.ENTRY, Leg.STOP, Leg.TARGET))


def test_an_accepted_entry_is_recorded_with_its_symbols_price_and_latency() -> None:
    trader, _, journal = run(enter_at=(decision(9),))
    [record] = journal.signals
    assert record.kind == "enter" and record.accepted and record.signal_id == SIGNAL
    assert (record.index, record.proxy) == ("I:SPX", "SPY")
    assert record.price == 5000.0  # the index close decided at (second 9's bar)
    assert record.latency_ns is not None and record.latency_ns == 1000
    assert record.client_order_ids == LEGS and record.shares > 0
    assert record.plan is not None and record.plan.entry == 500.0
    assert trader.signals == journal.signals


def test_the_three_legs_are_journaled_before_the_broker_hears_of_them() -> None:
    _, broker, journal = run(enter_at=(decision(9),))
    [(sent, journaled)] = broker.seen  # one bracket, no other request
    assert sent == LEGS
    # at the moment of the broker call, the journal held exactly the three submissions
    assert journaled == [(cid, 0, "submitted") for cid in LEGS]
    # and in the whole journal, every leg's submission precedes every broker update of the legs
    kinds = [(e.client_order_id, e.seq, e.kind) for e in journal.events]
    assert kinds[:3] == [(cid, 0, "submitted") for cid in LEGS]
    assert all(kind != "submitted" for _, _, kind in kinds[3:])
    for cid in LEGS:
        seqs = [seq for c, seq, _ in kinds if c == cid]
        assert seqs == list(range(len(seqs))) and len(seqs) >= 2  # numbered from the submission, no gap


def test_status_changes_and_fills_are_journaled_as_the_broker_reports_them() -> None:
    trader, broker, journal = run(enter_at=(decision(9),), exit_at=(decision(20),))
    fills = [u for u in broker.updates if isinstance(u, Fill)]
    assert len(fills) == 2  # the entry, then the market exit
    assert [e.fill for e in journal.events if e.kind == "fill"] == fills
    statuses = [u for u in broker.updates if isinstance(u, StatusUpdate)]
    journaled = [(e.client_order_id, e.status) for e in journal.events if e.kind == "status"]
    assert journaled == [(u.client_order_id, u.status) for u in statuses]
    assert (LEGS[1], OrderStatus.CANCELLED) in journaled and (LEGS[2], OrderStatus.CANCELLED) in journaled
    # the exit order was journaled before it was sent, after the bracket's cancels
    exit_id = client_order_id(SIGNAL, Leg.EXIT)
    [_, (sent, journaled_then)] = broker.seen
    assert sent == (exit_id,) and journaled_then[-1] == (exit_id, 0, "submitted")
    # the journal alone rebuilds the trader's book
    last = {e.client_order_id: e for e in journal.events}
    rebuilt = OrderBook.restore(
        [e.order for e in last.values()],
        [e.fill for e in journal.events if e.fill is not None],
        {cid: e.seq for cid, e in last.items()},
    )
    assert rebuilt == trader.book
    assert [r.kind for r in journal.signals] == ["enter", "exit"]
    assert trader.signals == journal.signals


def test_a_refused_entry_is_recorded_as_not_accepted_and_sends_nothing() -> None:
    trader, broker, journal = run(enter_at=(decision(9),), connected=False)  # entries need the broker up
    [record] = journal.signals
    assert record.kind == "enter" and not record.accepted
    assert (record.index, record.proxy, record.price) == ("I:SPX", "SPY", 5000.0)
    assert record.latency_ns is None and record.client_order_ids == () and record.shares == 0
    assert record.reasons[0].code == "SCRIPTED"  # the play's reasons, then the block
    assert record.reasons[-1].code == "BROKER_NOT_CONNECTED" and record.reasons[-1].effect == "no entry"
    assert journal.events == [] and broker.seen == [] and len(trader.book) == 0
    assert trader.signals == journal.signals


def test_without_a_journal_the_trader_keeps_one_in_memory() -> None:
    clock = ReplayClock(T0)
    play: Any = load_play(
        PATH,
        {"index": "I:SPX", "proxy": "SPY", "reward_risk": 2.0, "cooldown_s": 0},
        name="SCRIPTED",
    )
    trader = Trader(
        features=FeatureEngine(("I:SPX", "SPY")),
        plays=[play],
        risk=load_thresholds().risk,
        broker=SimBroker(clock),
        clock=clock,
        equity=100_000.0,
        daily_sigma={"SPY": 0.012},
        level_of=lambda name, ts: "normal",
        perf_counter_ns=lambda: 0,
    )
    assert isinstance(trader.journal, MemoryJournal) and trader.journal.signals == []
