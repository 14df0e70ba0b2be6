"""Implied volatility against vollib (Let's Be Rational) and QuantLib, round trips, bounds.

Near the money means |ln(K/F)| <= sigma sqrt(T) (within one standard deviation of the forward);
the wings go out to 8 standard deviations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import QuantLib as ql
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from vollib.black import black
from vollib.black.implied_volatility import implied_volatility as vollib_iv

from scalper.core.errors import DataError
from scalper.options.black import normalised_otm, price, year_fraction
from scalper.options.iv import IvStatus, implied_vol

MINUTES = (30, 120, 390, 1440, 7 * 1440, 30 * 1440, 365 * 1440)  # 30 min, 2 h, 6.5 h, 1 d, 7 d, 30 d, 1 y
VOLS = (0.08, 0.2, 0.5, 1.2)
Z = np.linspace(-8.0, 8.0, 65)  # ln(K/F) in standard deviations
FORWARD, RATE = 5000.0, 0.045
NEAR, WING = 1e-8, 1e-6


def grid(minutes: int) -> tuple[float, float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(t, discount, strike, vol, is_call (the OTM side), near-the-money mask) over VOLS x Z."""
    t = float(year_fraction(minutes))
    vol = np.repeat(VOLS, Z.size)
    z = np.tile(Z, len(VOLS))
    strike = FORWARD * np.exp(z * vol * math.sqrt(t))
    return t, math.exp(-RATE * t), strike, vol, strike >= FORWARD, np.abs(z) <= 1.0


def assert_close(ours: np.ndarray, reference: np.ndarray, near: np.ndarray) -> None:
    assert np.all(np.isfinite(ours)) and np.all(np.isfinite(reference))
    assert np.max(np.abs(ours - reference)[near]) <= NEAR
    assert np.max(np.abs(ours - reference)[~near]) <= WING


@pytest.mark.parametrize("minutes", MINUTES)
def test_implied_vol_matches_vollib_on_vollib_prices(minutes: int) -> None:
    t, disc, strike, vol, call, near = grid(minutes)
    flags = np.where(call, "c", "p")
    prices = np.array([black(f, FORWARD, k, t, RATE, v) for f, k, v in zip(flags, strike, vol, strict=True)])
    theirs = np.array([vollib_iv(p, FORWARD, k, RATE, t, f) for p, k, f in zip(prices, strike, flags, strict=True)])
    ours = implied_vol(prices, FORWARD, strike, t, call, disc)
    assert np.all(ours.status == IvStatus.OK)
    assert_close(ours.vol, theirs, near)
    assert_close(ours.vol, vol, near)


@pytest.mark.parametrize("minutes", MINUTES)
def test_implied_vol_matches_quantlib_on_quantlib_prices(minutes: int) -> None:
    t, disc, strike, vol, call, near = grid(minutes)
    kinds = [ql.Option.Call if c else ql.Option.Put for c in call]
    std = vol * math.sqrt(t)
    prices = np.array([ql.blackFormula(q, k, FORWARD, s, disc) for q, k, s in zip(kinds, strike, std, strict=True)])
    theirs = np.array(
        [
            ql.blackFormulaImpliedStdDev(q, k, FORWARD, p, disc, 0.0, ql.nullDouble(), 1e-12, 1000) / math.sqrt(t)
            for q, k, p in zip(kinds, strike, prices, strict=True)
        ]
    )
    ours = implied_vol(prices, FORWARD, strike, t, call, disc)
    assert np.all(ours.status == IvStatus.OK)
    assert_close(ours.vol, theirs, near)


@pytest.mark.parametrize("minutes", MINUTES)
def test_price_to_iv_to_price_round_trips(minutes: int) -> None:
    t, disc, strike, vol, call, _ = grid(minutes)
    prices = price(FORWARD, strike, t, vol, call, disc)
    again = price(FORWARD, strike, t, implied_vol(prices, FORWARD, strike, t, call, disc).vol, call, disc)
    # deep-wing prices move ~(ln(K/F) / sigma sqrt(T))^2 times faster than vol: ~1e-11 is the noise
    np.testing.assert_allclose(again, prices, rtol=1e-10, atol=0.0)


def test_in_the_money_prices_invert_to_the_same_vol_as_their_out_of_the_money_twin() -> None:
    t, disc, strike, vol, call, near = grid(390)
    itm = price(FORWARD, strike, t, vol, ~call, disc)
    result = implied_vol(itm, FORWARD, strike, t, ~call, disc)
    # an ITM price is mostly intrinsic value: only the near-the-money half keeps full precision
    np.testing.assert_allclose(result.vol[near], vol[near], rtol=0, atol=1e-9)
    assert np.all(result.status[near] == IvStatus.OK)


@settings(max_examples=300, deadline=None)
@given(
    log_moneyness=st.floats(-1.5, 1.5),
    minutes=st.floats(1.0, 2 * 525_600.0),
    vol=st.floats(0.01, 2.0),
    rate=st.floats(-0.01, 0.1),
)
def test_random_out_of_the_money_prices_round_trip(
    log_moneyness: float, minutes: float, vol: float, rate: float
) -> None:
    t = minutes / 525_600.0
    strike = 100.0 * math.exp(log_moneyness)
    s = vol * math.sqrt(t)
    assume(float(normalised_otm(np.array([-abs(log_moneyness)]), np.array([s]))[0]) > 1e-250)
    call = strike >= 100.0
    disc = math.exp(-rate * t)
    value = price(100.0, strike, t, vol, call, disc)
    result = implied_vol(value, 100.0, strike, t, call, disc)
    assert result.status == IvStatus.OK
    assert abs(float(result.vol) - vol) <= 1e-10 * max(vol, 1.0)


@settings(max_examples=200, deadline=None)
@given(
    log_moneyness=st.floats(-1.0, 1.0),
    minutes=st.floats(1.0, 525_600.0),
    vols=st.tuples(st.floats(0.01, 3.0), st.floats(0.01, 3.0)),
    call=st.booleans(),
)
def test_price_increases_with_vol(log_moneyness: float, minutes: float, vols: tuple[float, float], call: bool) -> None:
    low, high = sorted(vols)
    t = minutes / 525_600.0
    strike = 100.0 * math.exp(log_moneyness)
    assert price(100.0, strike, t, low, call) <= price(100.0, strike, t, high, call)


@pytest.mark.parametrize(
    ("value", "call", "status"),
    [
        (0.0, True, IvStatus.NOT_POSITIVE),  # a zero price (zero bid): no information
        (-0.01, False, IvStatus.NOT_POSITIVE),
        (math.nan, True, IvStatus.MISSING),
        (10.0, True, IvStatus.BELOW_INTRINSIC),  # strike 90: intrinsic 10 (undiscounted, D = 1)
        (9.5, True, IvStatus.BELOW_INTRINSIC),
        (100.0, True, IvStatus.ABOVE_UPPER_BOUND),  # a call is worth less than the forward
        (90.0, False, IvStatus.ABOVE_UPPER_BOUND),  # a put less than the strike
        (120.0, True, IvStatus.ABOVE_UPPER_BOUND),
    ],
)
def test_prices_outside_the_arbitrage_bounds_have_no_vol_and_say_why(
    value: float, call: bool, status: IvStatus
) -> None:
    result = implied_vol(value, 100.0, 90.0, 0.1, call)
    assert math.isnan(float(result.vol))
    assert result.status == status


def test_a_price_just_inside_the_bounds_is_solved() -> None:
    result = implied_vol([10.0 + 1e-6, 100.0 - 1e-6], 100.0, 90.0, 0.1, True)
    assert np.all(result.status == IvStatus.OK) and np.all(np.isfinite(result.vol))
    assert result.vol[0] < result.vol[1]


def test_a_chain_solved_at_once_equals_each_contract_solved_alone() -> None:
    t, disc, strike, vol, call, _ = grid(1440)
    prices = price(FORWARD, strike, t, vol, call, disc)
    batch = implied_vol(prices, FORWARD, strike, t, call, disc).vol
    alone = [float(implied_vol(p, FORWARD, k, t, c, disc).vol) for p, k, c in zip(prices, strike, call, strict=True)]
    np.testing.assert_array_equal(batch, alone)


@pytest.mark.parametrize(
    ("name", "kwargs"), [("forward", {"forward": -1.0}), ("t", {"t": 0.0}), ("strike", {"strike": math.inf})]
)
def test_out_of_domain_inputs_raise_naming_the_input(name: str, kwargs: dict[str, float]) -> None:
    args = {"price": 1.0, "forward": 100.0, "strike": 100.0, "t": 0.1, "is_call": True} | kwargs
    with pytest.raises(DataError, match=f"^{name}: expected finite values > 0"):
        implied_vol(**args)  # type: ignore[arg-type]
