"""A restart: a new trader and a new simulator take over the trade in progress of the stored book."""

from __future__ import annotations

import itertools

import pytest

from scalper.brokers.sim import SimBroker, SimConfig
from scalper.core.clock import ReplayClock
from scalper.core.errors import InvariantError
from scalper.core.orders import Fill, Leg, OrderStatus, Side
from scalper.engine.journal import MemoryJournal
from scalper.engine.trader import Trader
from scalper.features.engine import FeatureEngine
from scalper.oms import OrderBook, client_order_id
from scalper.plays.base import load_play
from scalper.strategy.thresholds import load_thresholds
from scripted_play import PATH, T0, S, ScriptedPlay, bars, decision

CONFIG = SimConfig(half_spread=0.005, slippage=0.001)


def make_play(name: str = "SCRIPTED", **config: object) -> ScriptedPlay:
    play = load_play(
        PATH,
        {"index": "I:SPX", "proxy": "SPY", "reward_risk": 2.0, "cooldown_s": 0, **config},
        name=name,
    )
    assert isinstance(play, ScriptedPlay)
    return play


def trader_of(play: ScriptedPlay, clock: ReplayClock, broker: SimBroker, book: OrderBook | None = None) -> Trader:
    ticks = itertools.count(0, 1000)
    return Trader(
        features=FeatureEngine(("I:SPX", "SPY")),
        plays=[play],
        risk=load_thresholds().risk,
        broker=broker,
        clock=clock,
        equity=100_000.0,
        daily_sigma={"SPY": 0.012},
        level_of=lambda name, ts: "normal",
        perf_counter_ns=lambda: next(ticks),
        expectancy_lower_r={play.name: 0.2},
        book=book,
        journal=MemoryJournal(),
    )


def first_process(closes: list[float], **config: object) -> tuple[Trader, SimBroker, MemoryJournal]:
    """A run that enters at decision(9) and stops after ``closes`` (the 'crash')."""
    clock = ReplayClock(T0)
    broker = SimBroker(clock, CONFIG)
    trader = trader_of(make_play(enter_at=(decision(9),), **config), clock, broker)
    trader.broker_connected(T0)
    for event in bars(closes):
        trader.on_event(event)
    assert isinstance(trader.journal, MemoryJournal)
    return trader, broker, trader.journal


def stored(journal: MemoryJournal) -> OrderBook:
    """The book as a store rebuilds it from the journal (each order's last state, the fills, the last seq)."""
    last = {e.client_order_id: e for e in journal.events}
    return OrderBook.restore(
        [e.order for e in last.values()],
        [e.fill for e in journal.events if e.fill is not None],
        {cid: e.seq for cid, e in last.items()},
    )


def second_process(
    book: OrderBook, at: int, *, name: str = "SCRIPTED"
) -> tuple[Trader, SimBroker, ScriptedPlay, list[str]]:
    clock = ReplayClock(at)
    broker = SimBroker(clock, CONFIG)
    broker.restore(book.orders(), book.fills())
    play = make_play(name)
    trader = trader_of(play, clock, broker, book)
    lines = trader.resume(at)
    trader.broker_connected(at)
    return trader, broker, play, lines


SIGNAL = f"SCRIPTED-{decision(9)}"
ENTRY, STOP, TARGET = (client_order_id(SIGNAL, leg) for leg in (Leg.ENTRY, Leg.STOP, Leg.TARGET))
#: SPY flat at 500 until second 9, then 500.05 and 500.10 (the entry fills at second 11's open) for 20 seconds
OPENED = [500.0] * 10 + [500.05] + [500.10] * 19


@pytest.mark.parametrize(("direction", "through_stop"), [(1, 499.50), (-1, 500.60)])
def test_a_resumed_trade_is_protected_by_its_stop_and_ends_in_the_play(direction: int, through_stop: float) -> None:
    first, _, journal = first_process(OPENED, direction=direction)
    book = stored(journal)
    assert book == first.book
    assert book.order(ENTRY).status is OrderStatus.FILLED
    assert {book.order(c).status for c in (STOP, TARGET)} == {OrderStatus.ACCEPTED}
    earlier_fill_ids = {f.fill_id for f in book.fills()}
    shares = book.order(ENTRY).qty

    restart = T0 + 40 * S
    trader, broker, play, lines = second_process(book, restart)
    [line] = lines
    assert line.startswith(f"SCRIPTED {SIGNAL}: ") and f"{direction * shares:+g} SPY" in line
    working = line.split("working: ", 1)[1]
    assert "stop accepted" in working and "target accepted" in working and "entry" not in working
    assert trader.in_trade("SCRIPTED") and play.position == direction
    assert trader.positions()["SPY"].qty == direction * shares
    assert trader.now == restart

    # the price moves through the stop after the restart: the restored simulator fills it
    moves = [500.10, (500.10 + through_stop) / 2, through_stop, through_stop]
    for event in bars(moves, start=41):
        trader.on_event(event)
    [stop_fill] = [u for u in broker.updates if isinstance(u, Fill)]
    assert stop_fill.client_order_id == STOP and stop_fill.fill_id not in earlier_fill_ids
    assert stop_fill.side is (Side.SELL if direction > 0 else Side.BUY) and stop_fill.qty == shares
    assert trader.book.order(STOP).status is OrderStatus.FILLED
    assert trader.book.order(TARGET).status is OrderStatus.CANCELLED  # one-cancels-other
    assert trader.positions()["SPY"].is_flat
    assert not trader.in_trade("SCRIPTED") and play.position == 0
    assert len(play.closed_at) == 1 and play.closed_at[0] > restart  # told once, by the resumed trader
    # the day's realised PnL counts the first process's fills too
    assert trader.kill_switch.day_pnl == pytest.approx(trader.book.positions()["SPY"].realised_pnl)
    entry_price = book.order(ENTRY).avg_fill_price
    assert entry_price is not None
    gross = direction * shares * (stop_fill.price - entry_price)
    assert trader.kill_switch.day_pnl == pytest.approx(gross - stop_fill.costs - book.fills()[0].costs)


def test_a_resumed_trade_ended_by_the_play_sends_its_exit_to_the_restored_broker() -> None:
    _, _, journal = first_process(OPENED)
    restart = T0 + 40 * S
    clock = ReplayClock(restart)
    broker = SimBroker(clock, CONFIG)
    broker.restore(stored(journal).orders(), stored(journal).fills())
    play = make_play(exit_at=(decision(44),))
    trader = trader_of(play, clock, broker, stored(journal))
    assert len(trader.resume(restart)) == 1
    trader.broker_connected(restart)
    for event in bars([500.10] * 10, start=41):
        trader.on_event(event)
    exit_order = trader.book.order(client_order_id(SIGNAL, Leg.EXIT))
    assert exit_order.status is OrderStatus.FILLED and exit_order.qty == trader.book.order(ENTRY).qty
    assert {trader.book.order(c).status for c in (STOP, TARGET)} == {OrderStatus.CANCELLED}
    assert trader.positions()["SPY"].is_flat and not trader.in_trade("SCRIPTED")


def test_a_bracket_not_yet_acknowledged_is_resumed_with_the_entry_side() -> None:
    # the run stops right after the decision: the bracket is journaled, the broker has not answered
    first, _, journal = first_process([500.0] * 10)
    book = stored(journal)
    assert {o.status for o in book.orders()} == {OrderStatus.NEW}
    play = make_play()
    clock = ReplayClock(T0 + 20 * S)
    trader = trader_of(play, clock, SimBroker(clock, CONFIG), book)
    [line] = trader.resume(T0 + 20 * S)
    assert "+0 SPY" in line and "entry new" in line and "stop new" in line and "target new" in line
    assert trader.in_trade("SCRIPTED") and play.position == 1
    assert first.signals[0].accepted


def test_a_bracket_not_yet_acknowledged_works_after_the_restart() -> None:
    _, _, journal = first_process([500.0] * 10)
    restart = T0 + 20 * S
    trader, _, play, _ = second_process(stored(journal), restart)
    for event in bars([500.0, 500.0, 499.0, 499.0], start=21):
        trader.on_event(event)
    assert trader.book.order(ENTRY).status is OrderStatus.FILLED
    assert trader.book.order(STOP).status is OrderStatus.FILLED
    assert not trader.in_trade("SCRIPTED") and play.position == 0


def test_resume_is_refused_after_an_event() -> None:
    _, _, journal = first_process(OPENED)
    clock = ReplayClock(T0 + 40 * S)
    trader = trader_of(make_play(), clock, SimBroker(clock, CONFIG), stored(journal))
    trader.on_event(bars([500.10], start=40)[0])
    with pytest.raises(InvariantError, match="before the first event"):
        trader.resume(T0 + 41 * S)
    assert not trader.in_trade("SCRIPTED")


def test_a_trade_of_a_play_no_longer_configured_is_refused_by_name() -> None:
    _, _, journal = first_process(OPENED)
    clock = ReplayClock(T0 + 40 * S)
    trader = trader_of(make_play("OTHER"), clock, SimBroker(clock, CONFIG), stored(journal))
    with pytest.raises(InvariantError, match=r"play SCRIPTED, which is not configured") as info:
        trader.resume(T0 + 40 * S)
    assert SIGNAL in str(info.value)


def test_a_book_whose_trades_are_closed_resumes_nothing() -> None:
    # the target (500.40) is reached before the 'crash': entry filled, target filled, stop cancelled
    done = [*OPENED, 500.2, 500.3, 500.5, 500.5]
    first, _, journal = first_process(done)
    assert first.book.order(TARGET).status is OrderStatus.FILLED and not first.in_trade("SCRIPTED")
    book = stored(journal)
    trader, _, play, lines = second_process(book, T0 + 60 * S)
    assert lines == [] and not trader.in_trade("SCRIPTED") and play.position == 0
    assert trader.positions()["SPY"].is_flat
    assert trader.kill_switch.day_pnl == pytest.approx(book.positions()["SPY"].realised_pnl)
