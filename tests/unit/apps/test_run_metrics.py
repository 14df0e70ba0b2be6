"""The trading metrics of `scalper run`, set from the engine's state by the run monitor."""

from __future__ import annotations

import itertools

from prometheus_client import CollectorRegistry

from scalper.adapters.metrics import TradingMetrics
from scalper.adapters.store.journal import StoreJournal
from scalper.apps.run import RunMonitor
from scalper.brokers.sim import SimBroker
from scalper.core.clock import ReplayClock
from scalper.engine.live_trading import LiveTrading
from scalper.engine.trader import Trader
from scalper.features.engine import FeatureEngine
from scalper.plays.base import load_play
from scalper.strategy.thresholds import load_thresholds
from scripted_play import PATH, T0, bars, decision


def unreachable() -> object:
    raise AssertionError("the monitor must not touch the database when nothing is to be alerted")


def test_the_monitor_exports_signals_orders_positions_and_decision_latencies() -> None:
    clock = ReplayClock(T0)
    play = load_play(
        PATH,
        {"index": "I:SPX", "proxy": "SPY", "reward_risk": 2.0, "cooldown_s": 0, "enter_at": (decision(9),)},
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
        perf_counter_ns=itertools.count().__next__,
    )
    trader.broker_connected(T0)
    perf = itertools.count(0, 40_000)  # every read 40 µs later: each timed decision takes 40 µs
    trading = LiveTrading(trader, None, perf_ns=perf.__next__, wall_ns=lambda: T0)
    trading.apply(bars([500.0] * 10 + [500.05, 500.10] + [500.10] * 10))
    journal = StoreJournal(unreachable, "run-metrics")  # type: ignore[arg-type]
    monitor = RunMonitor("run-metrics", trader, journal, unreachable, lambda: T0)  # type: ignore[arg-type]
    registry = CollectorRegistry()
    metrics = TradingMetrics(registry)
    monitor.export(metrics, trading)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("scalper_trading_signals", play="SCRIPTED", outcome="taken") == 1.0
    assert value("scalper_trading_signals", play="SCRIPTED", outcome="refused") == 0.0
    assert value("scalper_trading_orders", status="accepted") == 2.0  # stop and target working
    assert value("scalper_trading_orders", status="filled") == 1.0  # the entry
    assert value("scalper_trading_fills") == 1.0
    assert value("scalper_trading_position_shares", symbol="SPY") == trader.positions()["SPY"].qty > 0
    assert value("scalper_trading_kill_switch_tripped") == 0.0
    assert value("scalper_trading_decision_seconds_count") == len(trading.latencies_ns) == 22
    assert value("scalper_trading_decision_seconds_bucket", le="5e-05") == 22.0  # 40 µs each
    assert value("scalper_trading_decision_seconds_bucket", le="2.5e-05") == 0.0
    monitor.export(metrics, trading)  # the same latencies are not observed twice
    assert value("scalper_trading_decision_seconds_count") == 22
