"""Chains from the REST snapshot shape: parsing, parity forward, IV and greeks filled, GEX inputs."""

from __future__ import annotations

import copy
import datetime as dt
from functools import lru_cache
from typing import Any

import numpy as np
import pytest

from scalper.options.chains import Chain, chain_from_snapshot, complete, gamma_chain, terms
from scalper.options.iv import IvStatus
from scalper.synthetic.market import MarketConfig, MarketDay, generate_market_days
from scalper.synthetic.options import DIVIDEND, RATE, OptionDay, generate_option_day
from scalper.synthetic.polygon_events import snapshot_results


@lru_cache(maxsize=1)
def session() -> tuple[MarketDay, OptionDay]:
    config = MarketConfig(trades_per_second=1.0, quotes_per_second=1.0)
    market = next(iter(generate_market_days(dt.date(2025, 3, 7), 1, seed=11, config=config)))
    return market, generate_option_day(market, seed=11)


def results(*, drop_iv: bool = False, exact_quotes: bool = False) -> list[dict[str, Any]]:
    """SPX snapshot results; optionally without IV/greeks, or quoted exactly at the generator's price."""
    market, options = session()
    out = copy.deepcopy(snapshot_results(options, market, 0))
    row = {t: i for i, t in enumerate(options.chain.ticker)}
    for r in out:
        if drop_iv:
            del r["implied_volatility"], r["greeks"]
        if exact_quotes:
            theo = float(options.snapshot.theo[row[r["details"]["ticker"]]])
            r["last_quote"]["bid"] = r["last_quote"]["ask"] = theo
    return out


def parse(rows: list[dict[str, Any]]) -> Chain:
    return chain_from_snapshot(rows, underlying="I:SPX", ts_ns=session()[1].snapshot.ts_ns)


def test_snapshot_results_parse_into_columns() -> None:
    _, options = session()
    chain = parse(results())
    c = options.chain
    spx = np.flatnonzero(c.underlying == 0)
    assert len(chain) == spx.size
    assert chain.ticker.tolist() == [c.ticker[i] for i in spx]  # both sorted by ticker
    np.testing.assert_array_equal(chain.strike, c.strike[spx])
    np.testing.assert_array_equal(chain.is_call, c.is_call[spx])
    np.testing.assert_array_equal(chain.expiry, c.expiry[spx])
    np.testing.assert_array_equal(chain.iv, c.iv[spx])
    np.testing.assert_array_equal(chain.open_interest, c.open_interest[spx])
    np.testing.assert_array_equal(chain.gamma, options.snapshot.gamma[spx])
    assert set(chain.root.tolist()) == {"SPX", "SPXW"}
    assert chain.session_date == dt.date(2025, 3, 7)


def test_missing_greeks_and_trades_parse_as_nan() -> None:
    rows = results(drop_iv=True)[:3]
    for r in rows:
        r.pop("last_trade", None)
    chain = parse(rows)
    assert np.isnan(chain.iv).all() and np.isnan(chain.delta).all() and np.isnan(chain.last).all()


@pytest.mark.parametrize("rate", [RATE, None])
def test_parity_recovers_the_generators_forward_and_discount(rate: float | None) -> None:
    chain = parse(results(exact_quotes=True))
    term = terms(chain, rate=rate)
    live = np.isfinite(term.t)
    forward = chain.underlying_price * np.exp((RATE - DIVIDEND[0]) * term.t)
    np.testing.assert_allclose(term.forward[live], forward[live], rtol=1e-12)
    np.testing.assert_allclose(term.discount[live], np.exp(-RATE * term.t[live]), rtol=1e-10)
    today = chain.expiry == np.datetime64(chain.session_date, "D")
    assert np.array_equal(~live, today)  # at the close, today's expiries have settled


@pytest.mark.parametrize("rate", [RATE, None])
def test_missing_iv_and_greeks_are_solved_from_exact_quotes(rate: float | None) -> None:
    source = parse(results())
    filled, status = complete(parse(results(drop_iv=True, exact_quotes=True)), rate=rate)
    live = np.isfinite(terms(source).t)
    assert np.all(status[live] == IvStatus.OK) and np.all(status[~live] == IvStatus.MISSING)
    np.testing.assert_allclose(filled.iv[live], source.iv[live], rtol=0, atol=1e-9)
    for name in ("delta", "gamma", "vega"):  # the generator's theta holds spot, ours the forward
        np.testing.assert_allclose(getattr(filled, name)[live], getattr(source, name)[live], rtol=1e-9, atol=1e-14)


def test_both_sides_of_a_strike_take_the_out_of_the_money_iv() -> None:
    chain = parse(results(drop_iv=True))  # real quotes: ticks and spreads, so the two sides differ
    filled, _ = complete(chain, rate=RATE)
    term = terms(chain, rate=RATE)
    key = [f"{r}{e}{k}" for r, e, k in zip(chain.root, chain.expiry, chain.strike, strict=True)]
    calls = {k: i for k, i, c in zip(key, range(len(chain)), chain.is_call, strict=True) if c}
    pairs = [
        (calls[k], i) for k, i, c in zip(key, range(len(chain)), chain.is_call, strict=True) if not c and k in calls
    ]
    both = [(c, p) for c, p in pairs if np.isfinite(filled.iv[c])]
    assert len(both) > 1000
    for c, p in both:
        assert filled.iv[c] == filled.iv[p]
    otm_call = [(c, p) for c, p in both if chain.strike[c] >= term.forward[c]]
    assert otm_call and len(otm_call) < len(both)


def test_a_zero_bid_gives_no_iv() -> None:
    chain = parse(results(drop_iv=True))
    filled, status = complete(chain, rate=RATE)
    term = terms(chain, rate=RATE)
    otm = np.where(chain.is_call, chain.strike >= term.forward, chain.strike < term.forward)
    zero = otm & (chain.bid == 0) & np.isfinite(term.t)
    assert zero.any()
    assert np.all(status[zero] == IvStatus.ZERO_BID) and np.isnan(filled.iv[zero]).all()


def test_source_values_are_kept() -> None:
    source = parse(results())
    filled, _ = complete(source, rate=RATE)
    np.testing.assert_array_equal(filled.iv, source.iv)
    np.testing.assert_array_equal(filled.theta, source.theta)


def test_gamma_inputs_drop_settled_contracts_and_carry_the_forward() -> None:
    chain = parse(results(exact_quotes=True))
    term = terms(chain, rate=RATE)
    inputs = gamma_chain(chain, term)
    live = np.isfinite(term.t)
    assert len(inputs) == int(live.sum()) and not inputs.expires_today.any()
    assert inputs.spot == pytest.approx(float(chain.underlying_price[0]))
    np.testing.assert_allclose(inputs.carry * inputs.spot, term.forward[live], rtol=1e-15)
