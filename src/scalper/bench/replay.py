"""``scalper bench replay``: the full trading pipeline over a synthetic year of one-second data.

Data: ``sessions`` synthetic sessions (252: a year) of I:SPX, SPY, I:NDX and QQQ one-second
aggregates in delivery order, generated in memory before timing. Pipeline: the
:class:`~scalper.engine.trader.Trader` with every feature, the four plays of the thresholds file,
the session policy per minute (:class:`~scalper.strategy.calendar_policy.CalendarPolicy`: the
shipped economic calendar; no database, so no morning score and no options gates, which the policy
treats as unknown inputs), the kill switch, sizing, brackets, the trailing exit and the
:class:`~scalper.brokers.sim.SimBroker`, driven by :class:`~scalper.engine.replay_loop.CompiledReplay`
(compiled while no trade is in progress, the trader's own ``on_event`` otherwise). The kernels are
compiled (or loaded from the disk cache) on a short run first (``compile_s``).

Keys: ``name``, ``events``, ``events_per_s`` (events / wall time of the replay, the policy's
per-minute decisions included), ``sessions``, ``signals`` (decisions), ``entries`` (accepted),
``fills``, ``compiled_events`` / ``python_events`` (events handled in compiled code / by the
trader's Python path), ``generate_s``, ``compile_s``.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from scalper.brokers.sim import SimBroker, SimConfig
from scalper.core.clock import ReplayClock
from scalper.engine.replay_loop import CompiledReplay
from scalper.engine.trader import LevelOf, Trader
from scalper.features.engine import EventArrays, FeatureEngine
from scalper.plays import load_plays
from scalper.strategy.calendar_policy import CalendarPolicy
from scalper.strategy.thresholds import load_thresholds
from scalper.synthetic.feature_events import market_events
from scalper.synthetic.market import generate_market_days

SYMBOLS = ("I:SPX", "SPY", "I:NDX", "QQQ")
FIRST_DAY = dt.date(2025, 1, 2)
EQUITY = 100_000.0
DAILY_SIGMA = {"SPY": 0.011, "QQQ": 0.014}


def trader(level_of: LevelOf | None = None) -> Trader:
    """The benchmark's trader: every play of the packaged thresholds, a simulated broker, the
    calendar's policy (or ``level_of``)."""
    thresholds = load_thresholds()
    clock = ReplayClock(0)
    t = Trader(
        features=FeatureEngine(SYMBOLS),
        plays=load_plays(thresholds.play_sections()).values(),
        risk=thresholds.risk,
        broker=SimBroker(clock, SimConfig(id_prefix="sim-bench")),
        clock=clock,
        equity=EQUITY,
        daily_sigma=DAILY_SIGMA,
        level_of=level_of or CalendarPolicy(thresholds),
        perf_counter_ns=time.perf_counter_ns,
        namespace="bench",
    )
    t.broker_connected(0)
    return t


def replay(events: EventArrays) -> tuple[Trader, CompiledReplay, float]:
    """Replay ``events`` through a new trader; (trader, loop, wall seconds)."""
    t = trader()
    loop = CompiledReplay(t)
    started = time.perf_counter()
    loop.run(events)
    return t, loop, time.perf_counter() - started


def run(sessions: int = 252, seed: int = 5) -> dict[str, Any]:
    """Generate the data, replay it, and return the figures."""
    started = time.perf_counter()
    events = market_events(generate_market_days(FIRST_DAY, sessions, seed), SYMBOLS)
    generate_s = time.perf_counter() - started
    started = time.perf_counter()
    replay(events.take(slice(0, 20_000)))
    compile_s = time.perf_counter() - started
    t, loop, seconds = replay(events)
    return {
        "name": "replay",
        "events": len(events),
        "events_per_s": round(len(events) / seconds),
        "sessions": sessions,
        "signals": len(t.signals),
        "entries": sum(1 for s in t.signals if s.kind == "enter" and s.accepted),
        "fills": len(t.book.fills()),
        "compiled_events": loop.compiled,
        "python_events": loop.handed + loop.decided,
        "generate_s": round(generate_s, 1),
        "compile_s": round(compile_s, 2),
    }
