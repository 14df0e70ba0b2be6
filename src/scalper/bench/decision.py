"""``scalper bench decision``: event-to-order-decision latency of the trading engine.

Data: ``sessions`` synthetic sessions of I:SPX, SPY, I:NDX and QQQ one-second bars as the feed
delivers them (``SecondAgg`` events in delivery order); the first sessions warm the features up
and only the last one is timed. The engine is the :class:`~scalper.engine.trader.Trader` the live
runner drives — features, the four shipped plays with their thresholds, risk sizing and brackets,
the order book and the simulated broker — at policy level ``normal``.

Timed: one ``Trader.on_event`` call per index bar (the events on which the plays decide, entry or
not), from the call to its return, including any order it submits: ``p50_us``, ``p99_us``,
``max_us``. ``signals`` counts the entries decided; ``events`` the decisions timed.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import numpy as np

from scalper.brokers.sim import SimBroker
from scalper.core.clock import ReplayClock
from scalper.core.events import SecondAgg
from scalper.engine.trader import Trader
from scalper.features.engine import FeatureEngine
from scalper.plays import load_plays
from scalper.strategy.thresholds import load_thresholds
from scalper.synthetic import columns
from scalper.synthetic.market import generate_market_days

SYMBOLS = ("I:SPX", "SPY", "I:NDX", "QQQ")
SECOND_NS = 1_000_000_000


def _events(day: Any) -> list[SecondAgg]:
    sec = columns.seconds(day)
    code = {s: i for i, s in enumerate(SYMBOLS)}
    order = np.lexsort((np.array([code[str(s)] for s in sec["symbol"]]), sec["ts"]))
    out = []
    for i in order:
        volume, vwap = float(sec["volume"][i]), float(sec["vwap"][i])
        out.append(
            SecondAgg(
                symbol=str(sec["symbol"][i]),
                ts_event=int(sec["ts"][i]),
                ts_end=int(sec["ts"][i]) + SECOND_NS,
                open=float(sec["open"][i]),
                high=float(sec["high"][i]),
                low=float(sec["low"][i]),
                close=float(sec["close"][i]),
                volume=None if volume != volume else volume,
                vwap=None if vwap != vwap else vwap,
            )
        )
    return out


def run(*, sessions: int = 3, seed: int = 5) -> dict[str, Any]:
    """Warm up on the first sessions, time every index-bar decision of the last one."""
    days = list(generate_market_days(dt.date(2025, 6, 2), sessions, seed))
    thresholds = load_thresholds()
    first = _events(days[0])
    clock = ReplayClock(first[0].ts_event)
    trader = Trader(
        features=FeatureEngine(SYMBOLS),
        plays=load_plays(thresholds.play_sections()).values(),
        risk=thresholds.risk,
        broker=SimBroker(clock),
        clock=clock,
        equity=100_000.0,
        daily_sigma={"SPY": 0.01, "QQQ": 0.012},
        level_of=lambda name, ts: "normal",
        perf_counter_ns=time.perf_counter_ns,
    )
    trader.broker_connected(first[0].ts_event)
    for day in days[:-1]:
        for event in _events(day):
            trader.on_event(event)
    timed: list[int] = []
    clock_ns = time.perf_counter_ns
    for event in _events(days[-1]):
        started = clock_ns()
        trader.on_event(event)
        if event.symbol.startswith("I:"):
            timed.append(clock_ns() - started)
    values = np.array(timed, dtype=np.float64) / 1000.0
    return {
        "name": "decision",
        "events": len(timed),
        "p50_us": round(float(np.percentile(values, 50)), 1),
        "p99_us": round(float(np.percentile(values, 99)), 1),
        "max_us": round(float(values.max()), 1),
        "signals": len(trader.signals),
    }
