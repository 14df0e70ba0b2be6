"""Round trips from the engine's book: one per closed signal, PnL net of costs, slippage vs the decision."""

from __future__ import annotations

import itertools

import pytest

from scalper.backtest.trades import round_trips
from scalper.brokers.sim import SimBroker, SimConfig
from scalper.core.clock import ReplayClock
from scalper.core.orders import Leg
from scalper.engine.trader import Trader
from scalper.features.engine import FeatureEngine
from scalper.plays.base import load_play
from scalper.strategy.thresholds import load_thresholds
from scripted_play import PATH, T0, bars, decision


def trade(closes: list[float], enter_at: tuple[int, ...], exit_at: tuple[int, ...] = ()) -> Trader:
    clock = ReplayClock(T0)
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
    trader = Trader(
        features=FeatureEngine(("I:SPX", "SPY")),
        plays=[play],
        risk=risk.model_copy(update={"trailing": risk.trailing.model_copy(update={"rule": "off"})}),
        broker=SimBroker(clock, SimConfig(half_spread=0.005, slippage=0.001, commission_per_share=0.002)),
        clock=clock,
        equity=100_000.0,
        daily_sigma={"SPY": 0.012},
        level_of=lambda name, ts: "normal",
        perf_counter_ns=itertools.count().__next__,
    )
    trader.broker_connected(T0)
    for event in bars(closes):
        trader.on_event(event)
    return trader


RISE = [500.0] * 10 + [500.05 + 0.05 * i for i in range(12)] + [500.60] * 5


def test_a_target_exit_is_one_round_trip_with_the_positions_pnl() -> None:
    trader = trade(RISE, enter_at=(decision(9),))
    (trip,), still_open = round_trips(trader.book.orders(), trader.book.fills())
    assert still_open == 0
    assert trip.play == "SCRIPTED" and trip.direction == 1 and trip.exit_leg is Leg.TARGET
    assert trip.exit_price == pytest.approx(500.4) and trip.shares == 333.0
    assert trip.pnl == pytest.approx(trader.positions()["SPY"].realised_pnl)
    assert trip.costs == pytest.approx(sum(f.costs for f in trader.book.fills()))
    # the entry paid the half-spread and the slippage over the decision price (the signal bar's close)
    assert trip.slippage == pytest.approx(trip.entry_price - 500.0) and trip.slippage > 0
    assert trip.holding_s > 0 and trip.entry_ts < trip.exit_ts


def test_an_open_trade_is_counted_not_returned() -> None:
    flat = [500.0] * 10 + [500.05] * 10
    trader = trade(flat, enter_at=(decision(9),))
    trips, still_open = round_trips(trader.book.orders(), trader.book.fills())
    assert trips == [] and still_open == 1


def test_an_exit_intent_closes_the_trip_with_an_exit_leg() -> None:
    flat = [500.0] * 10 + [500.05] * 20
    trader = trade(flat, enter_at=(decision(9),), exit_at=(decision(15),))
    (trip,), _ = round_trips(trader.book.orders(), trader.book.fills())
    assert trip.exit_leg is Leg.EXIT and trip.pnl < 0  # bought the ask, sold the bid, paid costs
