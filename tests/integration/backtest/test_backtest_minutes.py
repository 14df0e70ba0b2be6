"""A backtest from minute bars alone (users with minute flat files only): the features are built from
the minute bars, decisions and fills happen on minute bars, nothing is seen before it is complete."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest

from scalper.adapters.store.synthetic_history import store_synthetic_sessions
from scalper.apps.backtest import run_backtest
from scalper.config import load_config
from scalper.core.errors import ConfigError
from scalper.strategy.thresholds import load_thresholds

pytestmark = pytest.mark.integration

NS_PER_MIN = 60_000_000_000
FIRST = dt.date(2025, 9, 8)


@pytest.fixture
def minute_history(db: psycopg.Connection[Any]) -> list[dt.date]:
    days = store_synthetic_sessions(db, FIRST, 7, 7)
    db.execute("DELETE FROM agg_1s")  # minute bars only, as from the minute flat files
    return days


def test_a_minute_backtest_trades_on_minute_bars_without_seconds(
    db: psycopg.Connection[Any], db_url: str, minute_history: list[dt.date]
) -> None:
    config, thresholds = load_config(None, {}), load_thresholds()
    first, last = minute_history[-3], minute_history[-1]
    run = run_backtest(db_url, config, thresholds, first=first, last=last, run_id="minutes", resolution="minute")
    (stored,) = db.execute(
        "SELECT count(*) FROM bars WHERE timeframe = '1m' AND symbol IN ('I:SPX', 'SPY', 'I:NDX', 'QQQ') "
        "AND (ts AT TIME ZONE 'America/New_York')::date BETWEEN %s AND %s",
        (first, last),
    ).fetchone() or (0,)
    assert run.events == stored > 0
    assert run.warmed_up > 0  # warmed up on the minute bars of the sessions before
    signals = run.trader.signals
    assert any(s.kind == "enter" and s.accepted for s in signals)
    # decisions at minute ends (a bar is known when complete), fills at a later minute's open
    assert all(s.ts % NS_PER_MIN == 0 for s in signals)
    fills = run.trader.book.fills()
    assert fills
    for fill in fills:
        order = run.trader.book.order(fill.client_order_id)
        assert fill.ts % NS_PER_MIN == 0 and fill.ts >= order.request.ts_created
    again = run_backtest(db_url, config, thresholds, first=first, last=last, run_id="minutes-2", resolution="minute")
    assert [(s.signal_id, s.kind, s.accepted, s.shares) for s in again.trader.signals] == [
        (s.signal_id, s.kind, s.accepted, s.shares) for s in signals
    ]
    (params,) = db.execute("SELECT params FROM runs WHERE run_id = 'minutes'").fetchone() or ({},)
    assert params["resolution"] == "minute"


def test_a_second_backtest_finds_no_seconds_and_minute_parquet_is_refused(
    db: psycopg.Connection[Any], db_url: str, minute_history: list[dt.date], tmp_path: Any
) -> None:
    config, thresholds = load_config(None, {}), load_thresholds()
    day = minute_history[-1]
    run = run_backtest(db_url, config, thresholds, first=day, last=day, run_id="seconds")
    assert run.events == 0 and run.trader.signals == []
    with pytest.raises(ConfigError, match="minute"):
        run_backtest(db_url, config, thresholds, first=day, last=day, run_id="p", resolution="minute", parquet=tmp_path)
