"""The synthetic market: XNYS sessions, determinism, shapes, proxies, microstructure."""

from __future__ import annotations

import dataclasses
import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from scalper.synthetic.market import MarketConfig, MarketDay, generate_market_days, session_windows

NY = ZoneInfo("America/New_York")
FAST = MarketConfig(trades_per_second=0.5, quotes_per_second=0.5)
DEFAULT = MarketConfig()


@lru_cache(maxsize=8)
def days(start: dt.date, sessions: int, seed: int, config: MarketConfig = DEFAULT) -> tuple[MarketDay, ...]:
    return tuple(generate_market_days(start, sessions, seed, config))


THANKSGIVING_WEEK = (dt.date(2025, 11, 26), 3, 5)  # Wed, (Thu holiday), Fri early close, Mon


def _local(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=NY)


def test_sessions_skip_holidays_and_respect_early_closes() -> None:
    windows = session_windows(dt.date(2025, 11, 26), 5)
    assert [w.day for w in windows] == [dt.date(2025, 11, d) for d in (26, 28)] + [
        dt.date(2025, 12, d) for d in (1, 2, 3)
    ]
    friday = windows[1]
    assert (_local(friday.open_ns).time(), _local(friday.close_ns).time()) == (dt.time(9, 30), dt.time(13, 0))
    assert friday.seconds == 12_600
    assert windows[0].seconds == 23_400
    christmas = session_windows(dt.date(2025, 12, 24), 2)
    assert [w.day for w in christmas] == [dt.date(2025, 12, 24), dt.date(2025, 12, 26)]
    assert christmas[0].seconds == 12_600


def test_an_early_close_session_has_data_only_inside_its_hours() -> None:
    friday = days(*THANKSGIVING_WEEK)[1]
    w = friday.window
    assert w.seconds == 12_600
    for stamps in (
        friday.index_ticks.ts_ns,
        friday.trades.sip_ns,
        friday.quotes.sip_ns,
        friday.stock_seconds.start_ns,
    ):
        assert stamps.min() >= w.open_ns and stamps.max() < w.close_ns
    assert friday.stock_seconds.start_ns.max() == w.close_ns - 1_000_000_000  # trades up to the last second


def _fields_equal(left: object, right: object) -> bool:
    for field in dataclasses.fields(left):  # type: ignore[arg-type]
        a, b = getattr(left, field.name), getattr(right, field.name)
        same = (
            _fields_equal(a, b)
            if dataclasses.is_dataclass(a)
            else np.array_equal(a, b, equal_nan=True)
            if isinstance(a, np.ndarray)
            else a == b
        )
        if not same:
            return False
    return True


def test_same_seed_and_dates_give_identical_data_and_another_seed_does_not() -> None:
    first = next(generate_market_days(dt.date(2025, 3, 3), 1, seed=5, config=FAST))
    again = next(generate_market_days(dt.date(2025, 3, 3), 1, seed=5, config=FAST))
    other = next(generate_market_days(dt.date(2025, 3, 3), 1, seed=6, config=FAST))
    assert _fields_equal(first, again)
    assert not np.array_equal(first.index_ticks.value, other.index_ticks.value)


def test_bars_are_consistent_low_open_close_high() -> None:
    for day in days(*THANKSGIVING_WEEK):
        for bars in (
            day.index_seconds,
            day.index_minutes,
            day.index_days,
            day.stock_seconds,
            day.stock_minutes,
            day.stock_days,
        ):
            assert np.all(bars.low <= np.minimum(bars.open, bars.close))
            assert np.all(np.maximum(bars.open, bars.close) <= bars.high)
        for truth in (day.truth.spx, day.truth.ndx):
            assert truth.low <= min(truth.open, truth.close) <= max(truth.open, truth.close) <= truth.high


def test_index_levels_are_in_their_bands() -> None:
    for day in days(*THANKSGIVING_WEEK):
        assert day.truth.spx.low > 5_000 and day.truth.spx.high < 6_500
        assert day.truth.ndx.low > 17_000 and day.truth.ndx.high < 23_000


def test_spx_to_spy_ratio_drifts_but_stays_in_a_band() -> None:
    sessions = days(dt.date(2025, 2, 3), 12, 9, FAST)
    ratios = []
    for day in sessions:
        spx, spy = (
            day.index_days.close[day.index_days.symbol == 1][0],
            day.stock_days.close[day.stock_days.symbol == 1][0],
        )
        ratios.append(spx / spy)
        ndx, qqq = (
            day.index_days.close[day.index_days.symbol == 0][0],
            day.stock_days.close[day.stock_days.symbol == 0][0],
        )
        assert 39.0 < ndx / qqq < 43.0
    ratios_arr = np.array(ratios)
    assert np.all((ratios_arr > 9.8) & (ratios_arr < 10.2))
    assert ratios_arr.max() - ratios_arr.min() > 1e-4  # never constant
    assert np.all(np.abs(np.diff(np.log(ratios_arr))) < 0.003)  # a few bps a day, not percent


def test_quotes_have_bid_below_ask_and_trades_print_at_or_inside_the_quote() -> None:
    for day in days(*THANKSGIVING_WEEK):
        q, t = day.quotes, day.trades
        assert np.all(q.bid < q.ask)
        for code in (0, 1):
            qs, ts = q.symbol == code, t.symbol == code
            at = np.searchsorted(q.sip_ns[qs], t.sip_ns[ts], side="right") - 1
            assert at.min() >= 0
            assert np.all(q.bid[qs][at] <= t.price[ts]) and np.all(t.price[ts] <= q.ask[qs][at])
            assert np.all(np.diff(t.sip_ns[ts]) >= 0) and np.all(np.diff(t.sequence[ts]) > 0)
        assert np.array_equal(np.round(t.price * 100) / 100, t.price)  # whole cents


def test_trades_have_realistic_counts_sizes_and_conditions() -> None:
    day = days(*THANKSGIVING_WEEK)[0]
    t = day.trades
    per_second = np.bincount(t.symbol) / day.window.seconds
    assert np.all((per_second >= 4) & (per_second <= 16))
    assert 0.2 < np.mean(t.size < 100) < 0.5 and t.size.max() >= 10_000  # odd lots and a heavy tail
    odd = t.size < 100
    assert np.all(np.any(t.conditions[odd] == 37, axis=1))
    assert np.any(np.any(t.conditions == 15, axis=1)) and np.any(np.any(t.conditions == 14, axis=1))
    assert np.all((t.trf_id != 0) == (t.exchange == 4))


def test_volume_and_volatility_are_u_shaped() -> None:
    day = days(*THANKSGIVING_WEEK)[0]
    minutes = day.stock_minutes
    spy = minutes.symbol == 1
    minute_of_day = (minutes.start_ns[spy] - day.window.open_ns) // 60_000_000_000
    volume = minutes.volume[spy]
    edges = volume[(minute_of_day < 30) | (minute_of_day >= 360)].mean()
    assert edges > 1.5 * volume[(minute_of_day >= 150) & (minute_of_day < 240)].mean()


def _second_returns(day: MarketDay, code: int) -> np.ndarray:
    bars = day.index_seconds
    rows = bars.symbol == code
    second = (bars.start_ns[rows] - day.window.open_ns) // 1_000_000_000
    close = np.full(day.window.seconds, np.nan)
    close[second] = bars.close[rows]
    filled = np.maximum.accumulate(np.where(np.isnan(close), 0, np.arange(close.size)))
    return np.diff(np.log(close[filled]))


def test_spx_and_ndx_per_second_returns_are_strongly_correlated() -> None:
    for day in days(*THANKSGIVING_WEEK):
        correlation = np.corrcoef(_second_returns(day, 1), _second_returns(day, 0))[0, 1]
        assert 0.8 < correlation < 0.95


def test_trend_days_open_at_one_extreme_and_close_at_the_other() -> None:
    sessions = days(dt.date(2024, 4, 1), 16, 3, dataclasses.replace(FAST, trend_probability=1.0))
    hits = 0
    for day in sessions:
        truth = day.truth.spx
        span = truth.high - truth.low
        open_at, close_at = (truth.open - truth.low) / span, (truth.close - truth.low) / span
        if day.truth.day_type == "trend_up":
            hits += open_at <= 0.2 and close_at >= 0.8
        else:
            assert day.truth.day_type == "trend_down"
            hits += open_at >= 0.8 and close_at <= 0.2
    assert hits >= 0.75 * len(sessions)


def test_about_thirty_percent_of_days_trend_and_trend_days_range_wider() -> None:
    sessions = days(dt.date(2024, 6, 3), 40, 21, FAST)
    kinds = [d.truth.day_type for d in sessions]
    assert set(kinds) <= {"trend_up", "trend_down", "balanced"}
    share = sum(k != "balanced" for k in kinds) / len(kinds)
    assert 0.12 <= share <= 0.55
    widths = {
        k: [(d.truth.spx.high - d.truth.spx.low) / d.truth.spx.open for d in sessions if d.truth.day_type == k]
        for k in set(kinds)
    }
    trend = widths.get("trend_up", []) + widths.get("trend_down", [])
    assert np.mean(trend) > np.mean(widths["balanced"])


@pytest.mark.parametrize("bad", [{"daily_vol": 0.0}, {"trend_probability": 1.5}, {"trades_per_second": 0.0}])
def test_invalid_configuration_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="MarketConfig"):
        MarketConfig(**bad)


def test_public_names_resolve() -> None:
    import scalper.marketdata
    import scalper.synthetic

    for package in (scalper.marketdata, scalper.synthetic):
        missing = [name for name in package.__all__ if not hasattr(package, name)]
        assert not missing, missing
