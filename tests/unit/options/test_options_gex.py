"""Dealer gamma exposure: sign conventions, walls, variants, zero-gamma level, gates."""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache

import numpy as np
import pytest

from scalper.core.errors import ConfigError, DataError
from scalper.options.gex import (
    GammaChain,
    Variant,
    contract_gex,
    gamma_levels,
    grid_gex,
    near_wall,
    negative_gamma,
    spot_grid,
    zero_gamma,
)
from scalper.synthetic.market import MarketConfig, generate_market_days
from scalper.synthetic.options import DIVIDEND, RATE, YEAR_NS, generate_option_day


def textbook_gamma(spot: float, strike: float, t: float, vol: float, rate: float = 0.0, div: float = 0.0) -> float:
    """Black-Scholes spot gamma e^{-qT} phi(d1) / (S sigma sqrt(T)), written out for the tests."""
    d1 = (math.log(spot / strike) + (rate - div + 0.5 * vol * vol) * t) / (vol * math.sqrt(t))
    return math.exp(-div * t) * math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi) / (spot * vol * math.sqrt(t))


def chain(
    spot: float,
    contracts: list[tuple[float, bool, float]],  # (strike, is_call, open interest)
    *,
    t: float = 30 / 365,
    vol: float = 0.2,
    rate: float = 0.0,
    div: float = 0.0,
    volume: list[float] | None = None,
    today: list[bool] | None = None,
) -> GammaChain:
    n = len(contracts)
    return GammaChain(
        spot=spot,
        strike=np.array([c[0] for c in contracts]),
        is_call=np.array([c[1] for c in contracts]),
        t=np.full(n, t),
        vol=np.full(n, vol),
        carry=np.full(n, math.exp((rate - div) * t)),
        discount=np.full(n, math.exp(-rate * t)),
        open_interest=np.array([c[2] for c in contracts]),
        volume=np.array(volume if volume is not None else [0.0] * n),
        expires_today=np.array(today if today is not None else [False] * n),
    )


def test_one_call_contributes_plus_gamma_times_oi_times_100_s_squared_per_percent() -> None:
    levels = gamma_levels(chain(100.0, [(105.0, True, 1200.0)], rate=0.045, div=0.013))
    expected = textbook_gamma(100.0, 105.0, 30 / 365, 0.2, 0.045, 0.013) * 1200 * 100 * 100.0**2 * 0.01
    assert levels.net_gex == pytest.approx(expected, rel=1e-12)
    assert levels.call_gex.tolist() == [levels.net_gex] and levels.put_gex.tolist() == [0.0]
    assert levels.call_wall == 105.0 and math.isnan(levels.put_wall)
    assert not negative_gamma(levels)


def test_one_put_contributes_minus_and_makes_the_regime_negative() -> None:
    levels = gamma_levels(chain(100.0, [(95.0, False, 800.0)]))
    expected = -textbook_gamma(100.0, 95.0, 30 / 365, 0.2) * 800 * 100 * 100.0**2 * 0.01
    assert levels.net_gex == pytest.approx(expected, rel=1e-12)
    assert levels.put_wall == 95.0 and math.isnan(levels.call_wall)
    assert negative_gamma(levels)


def test_a_call_and_a_put_at_one_strike_with_equal_oi_cancel() -> None:
    levels = gamma_levels(chain(100.0, [(100.0, True, 500.0), (100.0, False, 500.0)]))
    assert levels.call_gex[0] == -levels.put_gex[0] > 0
    assert levels.net_gex == 0.0
    assert math.isnan(levels.zero_gamma) and levels.zero_gamma_reason == "net gamma is zero on the whole grid"


def test_zero_gamma_of_a_call_below_and_a_put_above_is_where_their_gammas_meet() -> None:
    # equal weights, no carry: phi(d1(K1)) = phi(d1(K2)) at X = sqrt(K1 K2) e^{-s^2/2}
    t, vol = 20 / 365, 0.25
    levels = gamma_levels(chain(100.0, [(97.0, True, 1000.0), (104.0, False, 1000.0)], t=t, vol=vol), points=4001)
    s2 = vol * vol * t
    assert levels.zero_gamma == pytest.approx(math.sqrt(97.0 * 104.0) * math.exp(-s2 / 2), rel=1e-6)
    assert levels.zero_gamma_reason is None


def test_walls_are_the_strikes_of_the_largest_call_and_absolute_put_exposure() -> None:
    contracts = [
        (100.0, True, 1000.0),
        (110.0, True, 1500.0),
        (120.0, True, 4000.0),
        (90.0, False, 3000.0),
        (97.0, False, 1200.0),
    ]
    levels = gamma_levels(chain(101.0, contracts))
    exposure = [textbook_gamma(101.0, k, 30 / 365, 0.2) * oi for k, _, oi in contracts]
    calls, puts = exposure[:3], exposure[3:]
    assert levels.call_wall == contracts[int(np.argmax(calls))][0]
    assert levels.put_wall == contracts[3 + int(np.argmax(puts))][0]
    assert levels.strikes.tolist() == [90.0, 97.0, 100.0, 110.0, 120.0]


def test_variants_weight_by_oi_oi_without_today_or_todays_volume() -> None:
    contracts = [(100.0, True, 0.0), (100.0, False, 700.0), (102.0, True, 900.0)]
    data = chain(100.0, contracts, volume=[5000.0, 300.0, 0.0], today=[True, True, False])
    per = [textbook_gamma(100.0, k, 30 / 365, 0.2) * 100 * 100.0**2 * 0.01 for k, _, _ in contracts]
    oi = gamma_levels(data, "oi")
    ex = gamma_levels(data, Variant.OI_EX_0DTE)
    vol = gamma_levels(data, "volume")
    assert oi.net_gex == pytest.approx(-per[1] * 700 + per[2] * 900, rel=1e-12)
    assert ex.net_gex == pytest.approx(per[2] * 900, rel=1e-12) and ex.contracts == 1
    assert vol.net_gex == pytest.approx(per[0] * 5000 - per[1] * 300, rel=1e-12) and vol.contracts == 2


def test_no_sign_change_on_the_grid_gives_nan_and_says_so() -> None:
    levels = gamma_levels(chain(100.0, [(100.0, True, 10.0)]), band=0.05)
    assert math.isnan(levels.zero_gamma)
    assert levels.zero_gamma_reason == "no sign change of net gamma between 95.00 and 105.00"


def test_the_crossing_nearest_the_spot_is_interpolated_linearly() -> None:
    grid = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    values = np.array([-2.0, -1.0, 1.0, 2.0, -1.0, -3.0])
    assert zero_gamma(grid, values, 4.6) == (pytest.approx(4.0 + 2.0 / 3.0), None)
    assert zero_gamma(grid, values, 2.0) == (pytest.approx(2.5), None)


def test_the_grid_sum_equals_the_per_contract_exposures_summed_at_each_spot() -> None:
    rng = np.random.default_rng(5)
    n = 300
    t = rng.uniform(0.5, 40.0, n) / 365
    data = GammaChain(
        spot=5000.0,
        strike=5000.0 + 5.0 * rng.integers(-60, 60, n),
        is_call=rng.random(n) < 0.5,
        t=t,
        vol=rng.uniform(0.1, 0.5, n),
        carry=np.exp(0.03 * t),
        discount=np.exp(-0.045 * t),
        open_interest=rng.integers(0, 3000, n).astype(float),
        volume=np.zeros(n),
        expires_today=np.zeros(n, dtype=bool),
    )
    grid = spot_grid(5000.0, 0.1, 50)
    weight = data.weight(Variant.OI)
    naive = [contract_gex(x, data, weight).sum() for x in grid]
    np.testing.assert_allclose(grid_gex(data, weight, grid), naive, rtol=1e-10, atol=1e-6)


@lru_cache(maxsize=1)
def synthetic_spx() -> GammaChain:
    market = next(
        iter(
            generate_market_days(
                dt.date(2025, 3, 7), 1, seed=11, config=MarketConfig(trades_per_second=1.0, quotes_per_second=1.0)
            )
        )
    )
    options = generate_option_day(market, seed=11)
    c = options.chain
    spx = c.underlying == 0
    t = (c.settle_ns[spx] - market.window.open_ns) / YEAR_NS
    return GammaChain(
        spot=market.truth.spx.open,
        strike=c.strike[spx],
        is_call=c.is_call[spx],
        t=t,
        vol=c.iv[spx],
        carry=np.exp((RATE - DIVIDEND[0]) * t),
        discount=np.exp(-RATE * t),
        open_interest=c.open_interest[spx].astype(np.float64),
        volume=np.zeros(int(spx.sum())),
        expires_today=c.expiry[spx] == np.datetime64(market.window.day, "D"),
    )


def brute_force_zero_gamma(data: GammaChain, weight: np.ndarray) -> float:
    """Scalar loops: net gamma on a scan of spots, then bisection of the crossing nearest the spot."""
    rows = [
        (float(k), 1.0 if c else -1.0, float(ti), float(v), math.log(float(g)) / float(ti), float(w))
        for k, c, ti, v, g, w in zip(data.strike, data.is_call, data.t, data.vol, data.carry, weight, strict=True)
        if w > 0
    ]
    rate = RATE

    def net(spot: float) -> float:
        return sum(
            sign * w * textbook_gamma(spot, k, ti, v, rate, rate - carry) * spot * spot
            for k, sign, ti, v, carry, w in rows
        )

    scan = [data.spot * (0.9 + 0.2 * i / 100) for i in range(101)]
    values = [net(x) for x in scan]
    brackets = [(scan[i], scan[i + 1]) for i in range(100) if values[i] * values[i + 1] < 0]
    lo, hi = min(brackets, key=lambda b: abs(0.5 * (b[0] + b[1]) - data.spot))
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if net(mid) * net(lo) > 0 else (lo, mid)
    return 0.5 * (lo + hi)


@pytest.mark.parametrize("variant", [Variant.OI, Variant.OI_EX_0DTE])
def test_zero_gamma_of_the_synthetic_chain_matches_a_brute_force_search(variant: Variant) -> None:
    data = synthetic_spx()
    expected = brute_force_zero_gamma(data, data.weight(variant))
    fine = gamma_levels(data, variant, points=2001)
    default = gamma_levels(data, variant)
    assert fine.zero_gamma_reason is None
    assert fine.zero_gamma == pytest.approx(expected, abs=0.01)  # grid step 0.6 points
    assert default.zero_gamma == pytest.approx(expected, abs=0.25)  # grid step 6 points


def test_near_wall_in_points_or_percent() -> None:
    assert near_wall(5990.0, 6000.0, points=10.0)
    assert not near_wall(5989.0, 6000.0, points=10.0)
    assert near_wall(6029.0, 6000.0, percent=0.5)
    assert not near_wall(6031.0, 6000.0, percent=0.5)
    assert not near_wall(6000.0, math.nan, points=10.0)


@pytest.mark.parametrize("kwargs", [{}, {"points": 1.0, "percent": 1.0}, {"points": -1.0}])
def test_near_wall_needs_one_non_negative_distance(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="near_wall"):
        near_wall(100.0, 100.0, **kwargs)


def test_bad_inputs_are_refused_naming_them() -> None:
    with pytest.raises(DataError, match="expected finite carry > 0"):
        chain(100.0, [(100.0, True, 1.0)], rate=math.inf)
    with pytest.raises(ConfigError, match="gamma variant"):
        gamma_levels(chain(100.0, [(100.0, True, 1.0)]), "delta")
    with pytest.raises(ConfigError, match="spot grid"):
        gamma_levels(chain(100.0, [(100.0, True, 1.0)]), band=1.5)
