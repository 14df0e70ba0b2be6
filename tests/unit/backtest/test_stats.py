"""Backtest statistics against independent computations."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalper.backtest.stats import (
    break_even_cents,
    expectancy_ci,
    expected_max_sharpe,
    max_drawdown,
    probabilistic_sharpe,
    psr,
    sharpe,
    slippage_sweep,
    stationary_bootstrap_indices,
)
from scalper.backtest.trades import RoundTrip
from scalper.core.errors import ConfigError, DataError
from scalper.core.orders import Leg

NS = 1_000_000_000
DAY0 = int(dt.datetime(2025, 9, 15, 14, 0, tzinfo=dt.UTC).timestamp()) * NS


def trip(day: int, pnl: float, shares: float = 100.0, k: int = 0) -> RoundTrip:
    ts = DAY0 + day * 86_400 * NS + k * 60 * NS
    return RoundTrip(
        signal_id=f"P-{ts}",
        play="P",
        symbol="SPY",
        direction=1,
        shares=shares,
        entry_ts=ts,
        exit_ts=ts + 30 * NS,
        entry_price=500.0,
        exit_price=500.0 + pnl / shares,
        pnl=pnl,
        costs=0.0,
        slippage=0.001,
        exit_leg=Leg.TARGET,
    )


def phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_psr_is_the_published_formula() -> None:
    # SR 0.1 per day over 253 days, normal returns: z = 0.1 * sqrt(252) / sqrt(1 + 0.5 * 0.01)
    z = 0.1 * math.sqrt(252) / math.sqrt(1 + (3 - 1) / 4 * 0.01)
    assert psr(0.1, 253, 0.0, 3.0) == pytest.approx(phi(z), abs=1e-12)
    # negative skew and fat tails widen the error: a lower probability for the same Sharpe
    assert psr(0.1, 253, -1.0, 8.0) < psr(0.1, 253, 0.0, 3.0)
    assert psr(0.1, 253, 0.0, 3.0, sr_star=0.1) == pytest.approx(0.5)


def test_probabilistic_sharpe_of_a_sample_uses_its_moments() -> None:
    rng = np.random.default_rng(3)
    r = rng.normal(0.001, 0.01, 500)
    sr = float(r.mean() / r.std(ddof=1))
    assert sharpe(r) == pytest.approx(sr)
    from scipy import stats

    expected = psr(sr, 500, float(stats.skew(r, bias=False)), float(stats.kurtosis(r, fisher=False, bias=False)))
    assert probabilistic_sharpe(r) == pytest.approx(expected)


def test_the_expected_maximum_sharpe_matches_a_simulation() -> None:
    rng = np.random.default_rng(11)
    for trials in (10, 100):
        simulated = rng.normal(0.0, 0.5, (20_000, trials)).max(axis=1).mean()
        assert expected_max_sharpe(trials, 0.25) == pytest.approx(simulated, rel=0.03)
    assert expected_max_sharpe(1, 0.25) == 0.0
    with pytest.raises(ConfigError, match="at least one trial"):
        expected_max_sharpe(0, 0.25)


def test_more_trials_deflate_more() -> None:
    rng = np.random.default_rng(5)
    r = rng.normal(0.002, 0.01, 250)
    from scalper.backtest.stats import deflated_sharpe

    d1 = deflated_sharpe(r, trials=1, var_sr=0.01)
    d10 = deflated_sharpe(r, trials=10, var_sr=0.01)
    d100 = deflated_sharpe(r, trials=100, var_sr=0.01)
    assert d1 == pytest.approx(probabilistic_sharpe(r)) and d1 > d10 > d100


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60))
def test_max_drawdown_equals_the_brute_force(values: list[float]) -> None:
    dd = max_drawdown(values)
    brute = min(values[j] - max(values[: j + 1]) for j in range(len(values)))
    assert dd.depth == pytest.approx(brute)
    assert dd.peak <= dd.trough and values[dd.trough] - values[dd.peak] == pytest.approx(brute)


def test_stationary_bootstrap_blocks_have_the_mean_length() -> None:
    rng = np.random.default_rng(0)
    idx = np.concatenate([stationary_bootstrap_indices(50, 4.0, rng) for _ in range(400)])
    assert idx.min() >= 0 and idx.max() < 50
    # a new block starts when the next index is not the previous + 1 (mod n) or by a draw that lands there
    continues = np.mean((idx[1:] - idx[:-1]) % 50 == 1)
    assert continues == pytest.approx(1 - 1 / 4, abs=0.02)


def test_expectancy_ci_resamples_days_and_is_reproducible() -> None:
    trips = [trip(d, pnl, k=k) for d in range(30) for k, pnl in enumerate((12.0, -5.0, 3.0 + d % 4))]
    ci = expectancy_ci(trips, seed=1)
    assert ci.mean == pytest.approx(sum(t.pnl for t in trips) / len(trips))
    assert ci.trades == 90 and ci.days == 30 and ci.low < ci.mean < ci.high
    assert expectancy_ci(trips, seed=1) == ci
    winners = [trip(d, 5.0 + d) for d in range(10)]
    assert expectancy_ci(winners, seed=2).low > 0
    with pytest.raises(DataError, match="no closed trade"):
        expectancy_ci([])


def test_day_level_resampling_is_wider_than_trade_level_when_a_day_moves_together() -> None:
    # each day's trades share its sign: resampling days must not pretend they are independent
    rng = np.random.default_rng(4)
    trips = []
    for d in range(40):
        sign = 1 if rng.random() < 0.5 else -1
        trips += [trip(d, sign * 10.0 + float(rng.normal(0, 1)), k=k) for k in range(10)]
    ci = expectancy_ci(trips, seed=3, mean_block_days=1.0)
    pnl = np.array([t.pnl for t in trips])
    naive = 1.96 * pnl.std(ddof=1) / math.sqrt(len(pnl))
    assert (ci.high - ci.low) / 2 > 2 * naive


def test_slippage_sweep_and_break_even() -> None:
    trips = [trip(d, 20.0, shares=100) for d in range(5)]  # +$0.20 a share per trade
    sweep = slippage_sweep(trips, cents=(0, 1, 3))
    assert [p.expectancy for p in sweep] == pytest.approx([20.0, 18.0, 14.0])  # 2 sides x 100 shares x 1c
    assert break_even_cents(trips) == pytest.approx(10.0)
    at = slippage_sweep(trips, cents=(break_even_cents(trips),))[0]
    assert at.total == pytest.approx(0.0, abs=1e-9)
