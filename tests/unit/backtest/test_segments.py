"""Trades by segment: MAE/MFE from the bars, per-play / regime / time-of-day statistics."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from scalper.backtest.segments import Excursion, by_segment, excursion, regime_of, time_of_day
from scalper.backtest.trades import RoundTrip
from scalper.core.orders import Leg

NS = 1_000_000_000
#: 2025-09-15 10:00 New York
T0 = int(dt.datetime(2025, 9, 15, 14, 0, tzinfo=dt.UTC).timestamp()) * NS


def trip(
    pnl: float, *, play: str = "P", day: int = 0, minute: int = 0, direction: int = 1, hold_s: int = 60
) -> RoundTrip:
    entry = T0 + day * 86_400 * NS + minute * 60 * NS
    return RoundTrip(
        signal_id=f"{play}-{entry}",
        play=play,
        symbol="SPY",
        direction=direction,
        shares=10.0,
        entry_ts=entry,
        exit_ts=entry + hold_s * NS,
        entry_price=500.0,
        exit_price=500.0 + direction * pnl / 10.0,
        pnl=pnl,
        costs=0.0,
        slippage=0.002,
        exit_leg=Leg.TARGET,
    )


def test_excursions_are_the_worst_and_best_marks_between_entry_and_exit() -> None:
    rng = np.random.default_rng(2)
    ts = T0 + np.arange(300, dtype=np.int64) * NS
    mid = 500 + np.cumsum(rng.normal(0, 0.05, 300))
    high, low = mid + 0.02, mid - 0.02
    for direction in (1, -1):
        t = trip(5.0, direction=direction, minute=1, hold_s=90)
        e = excursion(t, ts, high, low)
        window = (ts >= t.entry_ts) & (ts < t.exit_ts)
        marks = [direction * (p - t.entry_price) * t.shares for p in np.concatenate((high[window], low[window]))]
        assert e.mae == pytest.approx(min(0.0, min(marks)))
        assert e.mfe == pytest.approx(max(0.0, max(marks)))
        assert e.mae <= 0 <= e.mfe


def test_segments_by_play_with_their_statistics() -> None:
    trips = [trip(p, play="A", day=d) for d, p in enumerate([10, -4, 6, 8, -2, 12])] + [
        trip(-3, play="B", day=d) for d in range(3)
    ]
    excursions = {t.signal_id: Excursion(mae=-5.0, mfe=15.0) for t in trips if t.play == "A"}
    a, b = by_segment(trips, lambda t: t.play, excursions=excursions)
    assert (a.key, a.trades, b.key, b.trades) == ("A", 6, "B", 3)
    assert a.win_rate == pytest.approx(4 / 6) and a.total == 30.0 and a.expectancy == 5.0
    assert a.ci is not None and a.ci.low <= a.expectancy <= a.ci.high
    assert b.ci is None  # three trades: no interval
    assert a.quantiles[2] == pytest.approx(np.median([10, -4, 6, 8, -2, 12]))
    assert (a.mae_mean, a.mfe_mean) == (-5.0, 15.0) and b.mae_mean is None
    assert a.max_drawdown == pytest.approx(-4.0)  # +10, then -4, in exit order
    assert b.max_drawdown == pytest.approx(-9.0) and a.slippage_mean == pytest.approx(0.002)
    assert a.holding_median_s == 60.0


def test_time_of_day_and_regime_keys() -> None:
    assert time_of_day(trip(1, minute=0)) == "10:00-10:30"
    assert time_of_day(trip(1, minute=-1)) == "09:30-10:00"
    assert time_of_day(trip(1, minute=45), minutes=60) == "10:00-11:00"
    key = regime_of({dt.date(2025, 9, 15): "trend_up"})
    assert key(trip(1)) == "trend_up" and key(trip(1, day=1)) == "unlabelled"
