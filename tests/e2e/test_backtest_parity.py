"""Parity: a paper session traded live through `scalper run` against the replay server, then a
backtest over the seconds that session recorded, give the same signals, orders and fills.

The feed is the one-second aggregates only (`A` on both clusters): the database keeps them exactly,
so the backtest sees what the live engine saw, in the same order (the live run's sequencer and the
backtest's replay order agree when nothing arrives late, which the test checks).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from scalper.apps.backtest import run_backtest
from scalper.apps.paper import SESSION, paper_session
from scalper.config import load_config
from scalper.core.orders import Fill, Leg, Order
from scalper.engine.trader import Trader
from scalper.strategy.thresholds import load_thresholds

pytestmark = pytest.mark.e2e

SECONDS_ONLY = {"SCALPER_FEED__INDEX_CHANNELS": '["A"]', "SCALPER_FEED__STOCK_CHANNELS": '["A"]'}
# a stalled socket (a busy machine) waits for the other one instead of letting events through late
PATIENT = {"SCALPER_FEED__SEQUENCER_GRACE_MS": "5000"}


def signals(trader: Trader) -> list[tuple[Any, ...]]:
    return [
        (r.play, r.ts, r.kind, r.accepted, r.level, r.shares, r.direction, r.price, r.plan, [x.code for x in r.reasons])
        for r in trader.signals
    ]


def orders(trader: Trader) -> list[tuple[Any, ...]]:
    def key(o: Order) -> tuple[Any, ...]:
        r = o.request
        return (r.signal_id, r.leg, r.side, r.order_type, r.qty, r.stop_price, r.limit_price, r.ts_created, o.status)

    return sorted(key(o) for o in trader.book.orders())


def fills(trader: Trader) -> list[tuple[Any, ...]]:
    def leg_of(f: Fill) -> Leg:
        return trader.book.order(f.client_order_id).request.leg

    return sorted((f.ts, leg_of(f), f.side, f.qty, f.price, f.fees) for f in trader.book.fills())


def test_a_backtest_over_the_recorded_session_trades_exactly_as_the_live_paper_run(db_url: str, tmp_path: Path) -> None:
    live = paper_session(
        db_url, tmp_path, seconds=23_400 / 800 + 0.5, speed=800, run_id="parity-live", settings=SECONDS_ONLY | PATIENT
    )
    assert live.trading is not None and live.trading.sequencer is not None
    assert live.trading.sequencer.late == 0  # the live order was the replay order
    live_trader = live.trading.trader
    assert any(r.kind == "enter" and r.accepted for r in live_trader.signals), "the session must trade"

    config = load_config(None, {"SCALPER_LOG__LEVEL": "WARNING", **SECONDS_ONLY})
    replay = run_backtest(db_url, config, load_thresholds(), first=SESSION, last=SESSION, run_id="parity-backtest")
    assert replay.sessions == [SESSION] and replay.events > 4 * 23_400 * 0.9
    assert signals(replay.trader) == signals(live_trader)
    # the same orders: signal ids carry the play and the decision time; client ids differ only by
    # the run (their namespace)
    assert orders(replay.trader) == orders(live_trader)
    assert fills(replay.trader) == fills(live_trader)  # the latency model, applied to the same bars
    assert replay.trader.positions() == live_trader.positions()


def test_the_backtest_refuses_an_existing_run_id_and_an_unknown_play(db_url: str) -> None:
    from scalper.core.errors import ConfigError

    config = load_config(None, {})
    day = dt.date(2025, 9, 16)
    with pytest.raises(ConfigError, match="--plays: unknown play"):
        run_backtest(db_url, config, load_thresholds(), first=day, last=day, run_id="x", plays=["NOPE"])
    run_backtest(db_url, config, load_thresholds(), first=day, last=day, run_id="empty")  # no data: nothing traded
    with pytest.raises(ConfigError, match="--run-id empty: a run with this id is stored already"):
        run_backtest(db_url, config, load_thresholds(), first=day, last=day, run_id="empty")
