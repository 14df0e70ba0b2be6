"""Honest statistics of a set of trades (pure; definitions in docs/ANALYTICS.md).

* :func:`expectancy_ci` — mean PnL per trade with a confidence interval from a **stationary block
  bootstrap over whole days** (Politis & Romano 1994): trades of one day are correlated, so days,
  not trades, are resampled, in blocks of consecutive days of geometric length.
* :func:`probabilistic_sharpe` — PSR = Φ[(SR̂ − SR*)·√(T−1) / √(1 − γ₃·SR̂ + ((γ₄−1)/4)·SR̂²)],
  γ₃ the skewness and γ₄ the raw (non-excess) kurtosis of the returns, SR̂ per period.
* :func:`deflated_sharpe` — PSR at SR₀ = √V[SR_n]·[(1−γ)Φ⁻¹(1−1/N) + γΦ⁻¹(1−1/(N·e))], γ the
  Euler–Mascheroni constant, N the number of parameter sets tried, V[SR_n] the variance of their
  Sharpe ratios (Bailey & López de Prado 2014).
* :func:`max_drawdown`, :func:`sharpe`, :func:`slippage_sweep` and its break-even.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from scalper.backtest.trades import RoundTrip
from scalper.core.errors import ConfigError, DataError

EULER_GAMMA = 0.5772156649015329


@dataclass(frozen=True, kw_only=True, slots=True)
class ExpectancyCI:
    """Mean PnL per trade and its bootstrap interval at ``level``."""

    mean: float
    low: float
    high: float
    level: float
    trades: int
    days: int
    resamples: int
    mean_block_days: float


def daily_pnl(trips: Sequence[RoundTrip]) -> tuple[list[dt.date], NDArray[np.float64], NDArray[np.int64]]:
    """(days in order, PnL per day, trades per day) of the trips (by entry date)."""
    days = sorted({t.day for t in trips})
    index = {d: i for i, d in enumerate(days)}
    pnl = np.zeros(len(days))
    count = np.zeros(len(days), dtype=np.int64)
    for t in trips:
        pnl[index[t.day]] += t.pnl
        count[index[t.day]] += 1
    return list(days), pnl, count


def stationary_bootstrap_indices(n: int, mean_block: float, rng: np.random.Generator) -> NDArray[np.int64]:
    """One stationary-bootstrap resample of ``range(n)``: blocks start at uniform positions, continue
    with probability 1 − 1/``mean_block`` (wrapping around), until ``n`` indices are drawn."""
    if n < 1:
        raise DataError("stationary bootstrap: expected at least one observation")
    if not mean_block >= 1.0:
        raise ConfigError(f"stationary bootstrap: mean block length must be >= 1, was {mean_block!r}")
    p = 1.0 / mean_block
    out = np.empty(n, dtype=np.int64)
    starts = rng.random(n) < p
    first = rng.integers(0, n, size=n)
    out[0] = first[0]
    for i in range(1, n):
        out[i] = first[i] if starts[i] else (out[i - 1] + 1) % n
    return out


def expectancy_ci(
    trips: Sequence[RoundTrip],
    *,
    level: float = 0.95,
    resamples: int = 2000,
    mean_block_days: float | None = None,
    seed: int = 0,
) -> ExpectancyCI:
    """Mean PnL per trade with a percentile interval from a stationary bootstrap over days.

    Each resample draws as many days as there are, in blocks (mean length ``mean_block_days``,
    default n^(1/3) rounded, at least 1), and takes total PnL / total trades of the drawn days.
    """
    if not trips:
        raise DataError("expectancy: no closed trade")
    if not 0.0 < level < 1.0:
        raise ConfigError(f"expectancy level: expected 0 < level < 1, was {level!r}")
    if resamples < 100:
        raise ConfigError(f"expectancy resamples: expected at least 100, was {resamples}")
    _, pnl, count = daily_pnl(trips)
    n = len(pnl)
    block = float(mean_block_days) if mean_block_days is not None else max(1.0, round(n ** (1 / 3)))
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for r in range(resamples):
        idx = stationary_bootstrap_indices(n, block, rng)
        means[r] = pnl[idx].sum() / count[idx].sum()
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return ExpectancyCI(
        mean=float(pnl.sum() / count.sum()),
        low=float(low),
        high=float(high),
        level=level,
        trades=int(count.sum()),
        days=n,
        resamples=resamples,
        mean_block_days=block,
    )


def sharpe(returns: Sequence[float] | NDArray[np.float64]) -> float:
    """Sharpe ratio per period: mean / standard deviation (ddof 1) of the returns."""
    r = np.asarray(returns, dtype=np.float64)
    if len(r) < 2:
        raise DataError(f"sharpe: expected at least 2 returns, had {len(r)}")
    sd = float(r.std(ddof=1))
    if sd == 0.0:
        raise DataError("sharpe: the returns do not vary")
    return float(r.mean()) / sd


def probabilistic_sharpe(returns: Sequence[float] | NDArray[np.float64], sr_star: float = 0.0) -> float:
    """P(true Sharpe > ``sr_star``) given the returns' Sharpe, length, skewness and raw kurtosis."""
    r = np.asarray(returns, dtype=np.float64)
    sr = sharpe(r)
    skew = float(stats.skew(r, bias=False)) if len(r) > 2 else 0.0
    kurt = float(stats.kurtosis(r, fisher=False, bias=False)) if len(r) > 3 else 3.0
    return psr(sr, len(r), skew, kurt, sr_star)


def psr(sr: float, n: int, skew: float, kurt: float, sr_star: float = 0.0) -> float:
    """The PSR formula from its inputs (``kurt`` raw: 3 for normal returns)."""
    if n < 2:
        raise DataError(f"probabilistic sharpe: expected at least 2 returns, had {n}")
    denom = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    if not denom > 0.0:
        raise DataError(f"probabilistic sharpe: the variance term is not positive ({denom:.3g})")
    return float(stats.norm.cdf((sr - sr_star) * math.sqrt(n - 1) / math.sqrt(denom)))


def expected_max_sharpe(trials: int, var_sr: float) -> float:
    """SR₀: the expected maximum Sharpe among ``trials`` unskilled strategies whose Sharpe ratios
    vary with variance ``var_sr`` (0 when there was a single trial)."""
    if trials < 1:
        raise ConfigError(f"deflated sharpe: expected at least one trial, was {trials}")
    if var_sr < 0.0:
        raise ConfigError(f"deflated sharpe: expected a variance >= 0, was {var_sr!r}")
    if trials == 1:
        return 0.0
    z1 = stats.norm.ppf(1.0 - 1.0 / trials)
    z2 = stats.norm.ppf(1.0 - 1.0 / (trials * math.e))
    return float(math.sqrt(var_sr) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


def deflated_sharpe(returns: Sequence[float] | NDArray[np.float64], *, trials: int, var_sr: float) -> float:
    """PSR at SR₀ = :func:`expected_max_sharpe` (``trials`` parameter sets, their Sharpe variance)."""
    return probabilistic_sharpe(returns, expected_max_sharpe(trials, var_sr))


@dataclass(frozen=True, kw_only=True, slots=True)
class Drawdown:
    """The largest fall of an equity curve from a running peak (``depth`` ≤ 0, dollars)."""

    depth: float
    peak: int
    trough: int


def max_drawdown(equity: Sequence[float] | NDArray[np.float64]) -> Drawdown:
    """Largest peak-to-trough fall of ``equity`` (positions of the peak and the trough)."""
    e = np.asarray(equity, dtype=np.float64)
    if len(e) == 0:
        raise DataError("max drawdown: empty equity curve")
    peaks = np.maximum.accumulate(e)
    falls = e - peaks
    trough = int(np.argmin(falls))
    peak = int(np.argmax(e[: trough + 1]))
    return Drawdown(depth=float(falls[trough]), peak=peak, trough=trough)


@dataclass(frozen=True, kw_only=True, slots=True)
class SweepPoint:
    cents: float  # extra slippage per share and side
    expectancy: float
    total: float


def slippage_sweep(
    trips: Sequence[RoundTrip], cents: Sequence[float] = (0, 0.5, 1, 1.5, 2, 2.5, 3)
) -> list[SweepPoint]:
    """Expectancy and total PnL with ``c`` more cents per share paid on the entry and on the exit."""
    if not trips:
        raise DataError("slippage sweep: no closed trade")
    pnl = np.array([t.pnl for t in trips])
    shares = np.array([t.shares for t in trips])
    out = []
    for c in cents:
        adjusted = pnl - 2.0 * shares * c / 100.0
        out.append(SweepPoint(cents=float(c), expectancy=float(adjusted.mean()), total=float(adjusted.sum())))
    return out


def break_even_cents(trips: Sequence[RoundTrip]) -> float:
    """The extra slippage (cents per share and side) at which the total PnL is zero (negative when
    the trades lose already)."""
    if not trips:
        raise DataError("break-even slippage: no closed trade")
    return 100.0 * sum(t.pnl for t in trips) / (2.0 * sum(t.shares for t in trips))
