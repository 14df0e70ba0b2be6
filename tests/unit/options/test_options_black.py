"""Black-76 prices and greeks against vollib and QuantLib; time, settlement and parity forward."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
import QuantLib as ql
from vollib.black import black
from vollib.black.greeks import analytical

from scalper.core.errors import DataError
from scalper.core.timeutil import NEW_YORK
from scalper.options.black import (
    greeks,
    implied_forward,
    implied_forward_discount,
    minutes_to_expiry,
    price,
    settlement_ns,
    year_fraction,
)

MINUTES = (30, 120, 390, 1440, 7 * 1440, 30 * 1440, 365 * 1440)
FORWARD, RATE = 600.0, 0.045


def cases(minutes: int) -> tuple[float, float, np.ndarray, np.ndarray, np.ndarray]:
    """(t, discount, strike, vol, is_call): strikes from -6 to +6 standard deviations, both sides."""
    t = float(year_fraction(minutes))
    vol = np.repeat([0.1, 0.25, 0.7], 25 * 2)
    z = np.tile(np.repeat(np.linspace(-6.0, 6.0, 25), 2), 3)
    strike = FORWARD * np.exp(z * vol * math.sqrt(t))
    return t, math.exp(-RATE * t), strike, vol, np.tile([True, False], strike.size // 2)


@pytest.mark.parametrize("minutes", MINUTES)
def test_price_and_forward_greeks_match_vollib(minutes: int) -> None:
    t, disc, strike, vol, call = cases(minutes)
    ours = greeks(FORWARD, strike, t, vol, call, disc)  # no spot: greeks with respect to the forward
    flags = np.where(call, "c", "p")
    rows = list(zip(flags, strike, vol, strict=True))
    ref = {
        "price": [black(f, FORWARD, k, t, RATE, v) for f, k, v in rows],
        "delta": [analytical.delta(f, FORWARD, k, t, RATE, v) for f, k, v in rows],
        "gamma": [analytical.gamma(f, FORWARD, k, t, RATE, v) for f, k, v in rows],
        "vega": [analytical.vega(f, FORWARD, k, t, RATE, v) for f, k, v in rows],
        "theta": [analytical.theta(f, FORWARD, k, t, RATE, v) for f, k, v in rows],
    }
    for name, values in ref.items():
        # relative 1e-11 (our out-of-the-money evaluation is good to ~2e-12), absolute for values near 0
        np.testing.assert_allclose(getattr(ours, name), values, rtol=1e-11, atol=1e-13 * FORWARD, err_msg=name)


@pytest.mark.parametrize("minutes", MINUTES)
def test_spot_greeks_match_quantlib_black_calculator(minutes: int) -> None:
    t, disc, strike, vol, call = cases(minutes)
    spot = FORWARD * math.exp(-0.03 * t)  # F = S e^{(r - q) T}
    ours = greeks(FORWARD, strike, t, vol, call, disc, spot)
    calcs = [
        ql.BlackCalculator(
            ql.PlainVanillaPayoff(ql.Option.Call if c else ql.Option.Put, k), FORWARD, v * math.sqrt(t), disc
        )
        for k, v, c in zip(strike, vol, call, strict=True)
    ]
    np.testing.assert_allclose(ours.price, [c.value() for c in calcs], rtol=1e-10, atol=1e-13 * FORWARD)
    np.testing.assert_allclose(ours.delta, [c.delta(spot) for c in calcs], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ours.gamma, [c.gamma(spot) for c in calcs], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ours.vega, [c.vega(t) * 0.01 for c in calcs], rtol=1e-10, atol=1e-13 * FORWARD)


def test_spot_gamma_is_the_second_derivative_in_spot_and_dollar_gamma_is_the_same_in_either_variable() -> None:
    t, disc, carry = 10 / 365, math.exp(-RATE * 10 / 365), math.exp(0.03 * 10 / 365)
    spot, strike, vol = 5000.0, np.array([4800.0, 5000.0, 5150.0]), 0.18
    g = greeks(spot * carry, strike, t, vol, True, disc, spot)
    h = 0.05  # truncation ~h^2, rounding ~eps price / h^2: both far below the tolerances
    up, mid, down = (price((spot + d) * carry, strike, t, vol, True, disc) for d in (h, 0.0, -h))
    np.testing.assert_allclose(g.gamma, (up - 2 * mid + down) / (h * h), rtol=1e-5)
    np.testing.assert_allclose(g.delta, (up - down) / (2 * h), rtol=1e-7)
    forward_gamma = greeks(spot * carry, strike, t, vol, True, disc).gamma
    np.testing.assert_allclose(g.gamma * spot**2, forward_gamma * (spot * carry) ** 2, rtol=1e-13)


def test_year_fraction_counts_minutes_on_act_365() -> None:
    assert float(year_fraction(360)) == 360 / 525_600
    assert float(year_fraction(525_600)) == 1.0


def et_ns(day: dt.date, hour: int, minute: int) -> int:
    return int(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK).timestamp()) * 10**9


@pytest.mark.parametrize(
    ("root", "day", "hour", "minute"),
    [
        ("SPXW", dt.date(2025, 11, 25), 16, 0),  # PM-settled at the close
        ("SPY", dt.date(2025, 11, 25), 16, 0),
        ("QQQ", dt.date(2025, 11, 28), 13, 0),  # the day after Thanksgiving closes at 13:00
        ("SPX", dt.date(2025, 12, 19), 9, 30),  # AM-settled monthly: the open
        ("NDX", dt.date(2025, 12, 19), 9, 30),
    ],
)
def test_settlement_instants_follow_the_root_and_the_calendar(root: str, day: dt.date, hour: int, minute: int) -> None:
    assert settlement_ns(root, day) == et_ns(day, hour, minute)


def test_a_0dte_option_at_ten_has_360_minutes_left() -> None:
    day = dt.date(2025, 11, 25)
    assert float(minutes_to_expiry(et_ns(day, 10, 0), settlement_ns("SPXW", day))) == 360.0


@pytest.mark.parametrize(("root", "day"), [("SPXW", dt.date(2025, 11, 27)), ("ABC", dt.date(2025, 11, 25))])
def test_settlement_refuses_holidays_and_unknown_roots(root: str, day: dt.date) -> None:
    with pytest.raises(DataError, match=f"settlement of {root}"):
        settlement_ns(root, day)


def parity_chain(forward: float, disc: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    strike = np.arange(560.0, 641.0, 5.0)
    t = 20 / 365
    return strike, price(forward, strike, t, 0.2, True, disc), price(forward, strike, t, 0.2, False, disc)


def test_parity_gives_the_forward_for_a_known_discount() -> None:
    strike, call, put = parity_chain(601.37, 0.9975)
    assert implied_forward(strike, call, put, 0.9975) == pytest.approx(601.37, rel=1e-13)


def test_parity_gives_forward_and_discount_together() -> None:
    strike, call, put = parity_chain(598.2, 0.991)
    forward, disc = implied_forward_discount(strike, call, put)
    assert forward == pytest.approx(598.2, rel=1e-11) and disc == pytest.approx(0.991, rel=1e-11)


def test_parity_skips_one_sided_strikes_and_refuses_too_few_pairs() -> None:
    strike, call, put = parity_chain(600.0, 0.99)
    call[np.argmin(np.abs(strike - 600.0))] = 0.0  # a zero bid at the money
    assert implied_forward(strike, call, put, 0.99) == pytest.approx(600.0, rel=1e-12)
    with pytest.raises(DataError, match="at least 2"):
        implied_forward_discount(strike[:1], call[:1], put[:1])


def test_negative_vol_is_refused_and_a_missing_vol_propagates() -> None:
    with pytest.raises(DataError, match=r"^vol: expected finite values > 0, was -0\.2 at index 1"):
        greeks(100.0, [100.0, 100.0], 0.1, [0.2, -0.2], True)
    assert np.isnan(greeks(100.0, 100.0, 0.1, math.nan, True).gamma)
