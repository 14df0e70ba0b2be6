"""Synthetic option chains: listings, smile, prices consistent with IV, volume and OI shape."""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache

import numpy as np

from scalper.marketdata.tickers import parse_option_ticker
from scalper.synthetic.market import MarketConfig, MarketDay, generate_market_days
from scalper.synthetic.options import OptionDay, generate_option_day
from scalper.synthetic.polygon_events import snapshot_response

FAST = MarketConfig(trades_per_second=1.0, quotes_per_second=1.0)


@lru_cache(maxsize=2)
def sessions() -> tuple[tuple[MarketDay, OptionDay], ...]:
    # 2025-12-19 is a third Friday: SPX monthlies expire that morning.
    markets = generate_market_days(dt.date(2025, 12, 17), 3, seed=4, config=FAST)
    return tuple((m, generate_option_day(m, seed=4)) for m in markets)


def test_zero_dte_is_about_half_of_spx_option_volume() -> None:
    for market, options in sessions():
        chain, days = options.chain, options.days
        spx = chain.underlying[days.symbol] == 0
        zero = chain.expiry[days.symbol] == np.datetime64(market.window.day, "D")
        share = days.volume[spx & zero].sum() / days.volume[spx].sum()
        assert 0.35 <= share <= 0.65


def test_tickers_encode_the_chain_and_roots_follow_the_listing_rules() -> None:
    market, options = sessions()[0]
    chain = options.chain
    assert list(chain.ticker) == sorted(chain.ticker)
    today = market.window.day
    for i in range(0, len(chain), 7):
        parsed = parse_option_ticker(chain.ticker[i])
        assert parsed.expiry == chain.expiry[i].astype(dt.date)
        assert parsed.strike == chain.strike[i] and parsed.is_call == chain.is_call[i]
        assert 0 <= (parsed.expiry - today).days <= 30
        step = 5.0 if parsed.root in ("SPX", "SPXW") else 1.0
        assert parsed.strike % step == 0
        if parsed.root == "SPX":  # AM-settled monthlies: third Friday only, never on expiry day
            assert parsed.expiry.weekday() == 4 and 15 <= parsed.expiry.day <= 21 and parsed.expiry > today
    roots = {parse_option_ticker(t).root for t in chain.ticker}
    assert roots == {"SPX", "SPXW", "SPY"}
    assert 3_000 <= len(chain) <= 12_000


def test_third_friday_has_no_spx_am_contracts_but_spxw_expires() -> None:
    market, options = sessions()[2]
    assert market.window.day == dt.date(2025, 12, 19)
    today = np.datetime64(market.window.day, "D")
    roots = {
        parse_option_ticker(t).root
        for t, e in zip(options.chain.ticker, options.chain.expiry, strict=True)
        if e == today
    }
    assert roots == {"SPXW", "SPY"}


def test_smile_has_put_skew_and_strikes_within_five_percent() -> None:
    market, options = sessions()[0]
    chain = options.chain
    week = (chain.underlying == 0) & (chain.expiry == chain.expiry[chain.underlying == 0].min() + 7) & ~chain.is_call
    strikes, iv = chain.strike[week], chain.iv[week]
    spot = market.truth.spx.open
    assert strikes.min() >= 0.95 * spot - 5 and strikes.max() <= 1.05 * spot + 5
    atm = iv[np.argmin(np.abs(strikes - spot))]
    assert iv[np.argmin(strikes)] > atm * 1.1


def _bs(spot: float, strike: float, t: float, vol: float, call: bool, q: float, r: float = 0.045) -> float:
    def n(x: float) -> float:
        return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))

    d1 = (math.log(spot / strike) + (r - q + 0.5 * vol * vol) * t) / (vol * math.sqrt(t))
    d2 = d1 - vol * math.sqrt(t)
    if call:
        return spot * math.exp(-q * t) * n(d1) - strike * math.exp(-r * t) * n(d2)
    return strike * math.exp(-r * t) * n(-d2) - spot * math.exp(-q * t) * n(-d1)


def test_snapshot_prices_are_black_scholes_at_the_implied_volatility() -> None:
    _, options = sessions()[0]
    chain, snap = options.chain, options.snapshot
    year = 365 * 86_400e9
    for i in range(0, len(chain), 97):
        t = max((chain.settle_ns[i] - snap.ts_ns) / year, 60e9 / year)
        q = 0.013 if chain.underlying[i] == 0 else 0.012
        expected = _bs(snap.underlying_price[i], chain.strike[i], t, chain.iv[i], bool(chain.is_call[i]), q)
        assert math.isclose(snap.theo[i], expected, rel_tol=1e-9, abs_tol=1e-9)
        assert snap.bid[i] <= snap.theo[i] + 1e-9 and snap.theo[i] <= snap.ask[i] + 1e-9 and snap.bid[i] < snap.ask[i]
    assert np.all((snap.delta >= -1) & (snap.delta <= 1)) and np.all(snap.gamma >= 0)


def test_open_interest_decays_away_from_the_money() -> None:
    market, options = sessions()[0]
    chain = options.chain
    spx = chain.underlying == 0
    distance = np.abs(chain.strike / market.truth.spx.open - 1.0)
    assert chain.open_interest[spx & (distance < 0.01)].mean() > 2 * chain.open_interest[spx & (distance > 0.04)].mean()
    assert chain.open_interest.min() >= 0


def test_minute_bars_exist_only_for_traded_contracts_and_add_up_to_the_day() -> None:
    _, options = sessions()[1]
    minutes, days = options.minutes, options.days
    assert np.all(minutes.volume > 0) and np.all(minutes.transactions >= 1)
    per_contract = np.bincount(minutes.symbol, weights=minutes.volume, minlength=len(options.chain))
    assert np.array_equal(per_contract[days.symbol], days.volume)
    assert set(np.unique(options.trades.contract).tolist()) == set(days.symbol.tolist())
    assert len(days) < len(options.chain)  # far strikes do not all trade


def test_rest_snapshot_results_have_the_documented_shape() -> None:
    market, options = sessions()[0]
    for code, ticker, price_key in ((0, "I:SPX", "value"), (1, "SPY", "price")):
        response = snapshot_response(options, market, code)
        assert response["status"] == "OK"
        results = response["results"]
        assert len(results) == int(np.sum(options.chain.underlying == code))
        traded = [r for r in results if "last_trade" in r]
        assert traded
        for result in results[:: max(1, len(results) // 40)] + traded[:5]:
            assert {
                "implied_volatility",
                "open_interest",
                "greeks",
                "day",
                "details",
                "last_quote",
                "underlying_asset",
            } <= set(result)
            assert set(result["greeks"]) == {"delta", "gamma", "theta", "vega"}
            assert {
                "contract_type",
                "expiration_date",
                "strike_price",
                "shares_per_contract",
                "ticker",
            } <= set(result["details"])
            assert {"bid", "ask", "midpoint", "last_updated"} <= set(result["last_quote"])
            assert result["underlying_asset"]["ticker"] == ticker and price_key in result["underlying_asset"]
        for result in traded[:5]:
            assert {"open", "high", "low", "close", "volume", "vwap"} <= set(result["day"])
            assert {"price", "size", "sip_timestamp"} <= set(result["last_trade"])
