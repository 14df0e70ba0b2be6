"""Dealer gamma exposure (GEX): per-strike profile, net GEX, walls, the zero-gamma level, gates.

Convention (docs/DOMAIN.md): dealers are taken to be long the calls and short the puts their
customers trade, so a call contributes ``+`` and a put ``-``. Per contract, in dollars of
delta change per 1% move of the underlying::

    GEX = sign * Gamma_S * weight * 100 * S^2 * 0.01

with ``Gamma_S`` the spot gamma of :mod:`scalper.options.black` (``Gamma_S S^2 = Gamma_F F^2``,
so the figure is the same whether the hedge is the index, the ETF or the future) and ``weight``
by variant: ``oi`` (open interest), ``oi_ex_0dte`` (open interest without the contracts expiring
today) or ``volume`` (today's volume: open interest is end-of-day, so 0DTE contracts show none
in the morning).

The zero-gamma level: every contract's gamma recomputed on a grid of hypothetical spots (``±band``
around the spot, ``points`` points), holding each contract's IV, time to expiry, discount factor
and forward/spot ratio fixed; summed per grid point (contracts x grid as one array); the sign
change nearest the spot interpolated linearly between the two grid points that bracket it. No
sign change on the grid gives nan with a reason.

Contracts without a usable volatility (nan, e.g. an unsolved IV) or with a zero weight do not
contribute; a missing weight counts as zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import numpy as np
from numpy.typing import NDArray

from scalper.core.errors import ConfigError, DataError
from scalper.options.black import F64, B

CONTRACT_MULTIPLIER: Final = 100.0
_INV_SQRT_2PI: Final = 1.0 / math.sqrt(2.0 * math.pi)


class Variant(StrEnum):
    """Which weight the exposure uses."""

    OI = "oi"
    OI_EX_0DTE = "oi_ex_0dte"
    VOLUME = "volume"


@dataclass(frozen=True, kw_only=True, slots=True)
class GammaChain:
    """Per-contract inputs of the exposure: one spot, arrays of one length.

    ``t`` in years (ACT/365 minutes), ``vol`` annualised (nan: not usable), ``carry`` = F/S of
    the contract's expiry, ``discount`` = its discount factor.
    """

    spot: float
    strike: F64
    is_call: B
    t: F64
    vol: F64
    carry: F64
    discount: F64
    open_interest: F64
    volume: F64
    expires_today: B

    def __post_init__(self) -> None:
        if not (math.isfinite(self.spot) and self.spot > 0):
            raise DataError(f"gamma chain: expected a finite spot > 0, was {self.spot!r}")
        n = self.strike.shape
        for name in ("is_call", "t", "vol", "carry", "discount", "open_interest", "volume", "expires_today"):
            if getattr(self, name).shape != n:
                raise DataError(f"gamma chain: expected {name} of shape {n}, was {getattr(self, name).shape}")
        for name in ("strike", "carry", "discount"):
            values = getattr(self, name)
            if not bool(np.all(np.isfinite(values) & (values > 0))):
                raise DataError(f"gamma chain: expected finite {name} > 0 for every contract")
        for name in ("open_interest", "volume"):
            if bool(np.any(getattr(self, name) < 0)):
                raise DataError(f"gamma chain: expected {name} >= 0")

    def __len__(self) -> int:
        return int(self.strike.size)

    def weight(self, variant: Variant) -> F64:
        """Contracts per contract row for ``variant`` (missing counts as zero)."""
        if variant == Variant.VOLUME:
            raw = self.volume
        elif variant == Variant.OI_EX_0DTE:
            raw = np.where(self.expires_today, 0.0, self.open_interest)
        else:
            raw = self.open_interest
        weights: F64 = np.nan_to_num(raw, nan=0.0)
        return weights


@dataclass(frozen=True, kw_only=True, slots=True)
class GammaLevels:
    """Exposure of one chain at one spot for one variant (dollars per 1% move)."""

    variant: Variant
    spot: float
    net_gex: float
    zero_gamma: float  # nan when there is none
    zero_gamma_reason: str | None  # why zero_gamma is nan
    call_wall: float  # strike of the largest call exposure (nan without calls)
    put_wall: float  # strike of the largest absolute put exposure (nan without puts)
    contracts: int  # contracts that contributed
    strikes: F64 = field(repr=False)  # per-strike profile at the spot, sorted by strike
    call_gex: F64 = field(repr=False)
    put_gex: F64 = field(repr=False)  # <= 0
    grid: F64 = field(repr=False)  # hypothetical spots
    grid_gex: F64 = field(repr=False)  # net GEX at each

    @property
    def net_by_strike(self) -> F64:
        """Call plus put exposure per strike."""
        values: F64 = self.call_gex + self.put_gex
        return values


def contract_gex(spot: F64 | float, chain: GammaChain, weight: F64) -> F64:
    """Signed exposure of every contract at ``spot`` (broadcasts: contracts x spots with a column)."""
    s = chain.vol * np.sqrt(chain.t)
    sign = np.where(chain.is_call, 1.0, -1.0)
    spot_ = np.asarray(spot, dtype=np.float64)
    d1 = np.log(chain.carry * spot_ / chain.strike) / s + 0.5 * s
    gamma = chain.discount * chain.carry * _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1) / (spot_ * s)
    values: F64 = sign * gamma * weight * CONTRACT_MULTIPLIER * spot_ * spot_ * 0.01
    return values


def spot_grid(spot: float, band: float = 0.10, points: int = 201) -> F64:
    """``points`` hypothetical spots evenly spaced over ``spot * [1 - band, 1 + band]``."""
    if not 0 < band < 1 or points < 2:
        raise ConfigError(f"spot grid: expected 0 < band < 1 and points >= 2, was band={band}, points={points}")
    grid: F64 = spot * np.linspace(1.0 - band, 1.0 + band, points)
    return grid


def grid_gex(chain: GammaChain, weight: F64, grid: F64) -> F64:
    """Net exposure at every spot of ``grid``: one (contracts x grid) array, one matrix product.

    With ``s = vol sqrt(T)`` and ``c = F/S``, a contract's dollar gamma at spot ``X`` is
    ``D c X phi(d1) / s`` per unit of weight, ``d1 = (ln(c/K) + ln X) / s + s/2``; so the sum is
    ``X * sum_i coef_i exp(-d1_ij^2 / 2)``.
    """
    use = _usable(chain, weight)
    s = chain.vol[use] * np.sqrt(chain.t[use])
    inv_s = 1.0 / s
    sign = np.where(chain.is_call[use], 1.0, -1.0)
    coef = sign * weight[use] * chain.discount[use] * chain.carry[use] * inv_s * _INV_SQRT_2PI
    shift = np.log(chain.carry[use] / chain.strike[use]) * inv_s + 0.5 * s
    d1 = np.multiply.outer(inv_s, np.log(grid))
    d1 += shift[:, None]
    np.square(d1, out=d1)
    d1 *= -0.5
    np.exp(d1, out=d1)
    # einsum, not BLAS: a threaded matrix-vector product of this size costs more in wake-ups than it saves
    values: F64 = np.einsum("i,ij->j", coef, d1) * grid * (CONTRACT_MULTIPLIER * 0.01)
    return values


def zero_gamma(grid: F64, values: F64, spot: float) -> tuple[float, str | None]:
    """Spot where ``values`` changes sign nearest ``spot`` (linear between bracketing points)."""
    if not np.any(values):
        return math.nan, "net gamma is zero on the whole grid"
    exact = np.flatnonzero(values == 0)
    left = np.flatnonzero(values[:-1] * values[1:] < 0)
    g0, g1 = values[left], values[left + 1]
    crossings = np.concatenate((grid[exact], grid[left] - g0 * (grid[left + 1] - grid[left]) / (g1 - g0)))
    if crossings.size == 0:
        return math.nan, f"no sign change of net gamma between {grid[0]:.2f} and {grid[-1]:.2f}"
    return float(crossings[np.argmin(np.abs(crossings - spot))]), None


def gamma_levels(
    chain: GammaChain, variant: Variant | str = Variant.OI, *, band: float = 0.10, points: int = 201
) -> GammaLevels:
    """Profile, net GEX, walls and zero-gamma level of ``chain`` for ``variant``."""
    try:
        which = Variant(variant)
    except ValueError:
        raise ConfigError(f"gamma variant: expected one of {[v.value for v in Variant]}, was {variant!r}") from None
    weight = chain.weight(which)
    grid = spot_grid(chain.spot, band, points)
    use = _usable(chain, weight)
    per_contract = np.zeros(len(chain))
    per_contract[use] = contract_gex(chain.spot, _subset(chain, use), weight[use])
    strikes, where = np.unique(chain.strike, return_inverse=True)
    call_gex = _by_strike(where, np.where(chain.is_call, per_contract, 0.0), strikes.size)
    put_gex = _by_strike(where, np.where(chain.is_call, 0.0, per_contract), strikes.size)
    values = grid_gex(chain, weight, grid)
    level, reason = zero_gamma(grid, values, chain.spot) if use.any() else (math.nan, "no contract with a weight")
    return GammaLevels(
        variant=which,
        spot=chain.spot,
        net_gex=float(per_contract.sum()),
        zero_gamma=level,
        zero_gamma_reason=reason,
        call_wall=_wall(strikes, call_gex),
        put_wall=_wall(strikes, -put_gex),
        contracts=int(use.sum()),
        strikes=strikes,
        call_gex=call_gex,
        put_gex=put_gex,
        grid=grid,
        grid_gex=values,
    )


def _by_strike(where: NDArray[np.intp], values: F64, strikes: int) -> F64:
    sums: F64 = np.bincount(where, weights=values, minlength=strikes).astype(np.float64)
    return sums


def _usable(chain: GammaChain, weight: F64) -> NDArray[np.bool_]:
    usable: NDArray[np.bool_] = np.isfinite(chain.vol) & (chain.vol > 0) & (chain.t > 0) & (weight > 0)
    return usable


def _subset(chain: GammaChain, use: NDArray[np.bool_]) -> GammaChain:
    return GammaChain(
        spot=chain.spot,
        strike=chain.strike[use],
        is_call=chain.is_call[use],
        t=chain.t[use],
        vol=chain.vol[use],
        carry=chain.carry[use],
        discount=chain.discount[use],
        open_interest=chain.open_interest[use],
        volume=chain.volume[use],
        expires_today=chain.expires_today[use],
    )


def _wall(strikes: F64, exposure: F64) -> float:
    """Strike of the largest positive ``exposure`` (nan when none is positive)."""
    if exposure.size == 0 or not exposure.max() > 0:
        return math.nan
    return float(strikes[int(np.argmax(exposure))])


# --- gates (pure) --------------------------------------------------------------------------------
def near_wall(price: float, wall: float, *, points: float | None = None, percent: float | None = None) -> bool:
    """Whether ``price`` is within ``points`` (index points) or ``percent`` (of the wall) of ``wall``.

    Exactly one of ``points``/``percent``; a nan wall is never near.
    """
    if (points is None) == (percent is None):
        raise ConfigError("near_wall: expected exactly one of points or percent")
    distance = points if points is not None else percent
    if distance is None or not distance >= 0:
        raise ConfigError(f"near_wall: expected a distance >= 0, was points={points}, percent={percent}")
    if not math.isfinite(wall):
        return False
    limit = distance if points is not None else abs(wall) * distance / 100.0
    return abs(price - wall) <= limit


def negative_gamma(levels: GammaLevels) -> bool:
    """Negative-gamma regime: net dealer gamma exposure below zero at the spot."""
    return levels.net_gex < 0
