"""Implied volatility of Black-76 prices, vectorised over whole chains.

Method: safeguarded Newton on the normalised out-of-the-money price (after Jäckel, "Let's Be
Rational", 2015, without his rational-cubic initial guesses). A price is first normalised,
``beta = V / (D sqrt(F K))``, and turned into its out-of-the-money equivalent (a call at
``x = -|ln(F/K)| <= 0``; an in-the-money price minus its intrinsic value, by parity). With
``s = sigma sqrt(T)``, the normalised price ``b(x, s)`` is convex below the inflection point
``s_c = sqrt(2|x|)`` and concave above it, so the solve runs on one branch:

* lower branch (``beta < b(x, s_c)``: the wings and short expiries, where vega underflows):
  Newton on ``ln b(s) - ln beta``, evaluated in log space with the scaled complementary error
  function, so nothing underflows; initial guess from the asymptotic expansion
  ``b ~ s^3 e^{-(x^2/s^2 + s^2/4)/2} / (sqrt(2 pi) (x^2 - s^4/4))`` (three fixed-point steps);
* upper branch: Newton on ``b(s) - beta``; initial guess exact at the money,
  ``s = -2 N^{-1}((e^{x/2} - beta) / (2 e^{x/2}))``.

Every step keeps a bracket ``[lo, hi]`` of the root and falls back to bisection when Newton
leaves it, so the iteration always converges; it stops when a step or the bracket is below
``2^-46 s``, when the objective is within 16 eps (relative) of zero, or when, already within
about 4e-9 of zero, a Newton step no longer reduces it (the evaluation's rounding noise).
Observed accuracy against vollib and QuantLib: docs/OPTIONS.md.

Which side to invert: the out-of-the-money side (calls at or above the forward, puts below);
:func:`implied_vol` accepts either, and an in-the-money price is reduced to the out-of-the-money
one first (exact by parity, but the relative precision of a small time value on a large intrinsic
value is lost, which is why a chain inverts its OTM quotes, see :mod:`scalper.options.chains`).

Bounds (``vol`` nan, ``status`` says why, see :class:`IvStatus`): a missing price; a price
``<= 0`` (including a zero bid's zero price: no information about vol); a price at or below the
discounted intrinsic value (vol would be 0 or undefined); a price at or above the upper bound
(``D F`` for a call, ``D K`` for a put: vol would be infinite).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from scalper.options.black import F64, B, _arrays, log_normalised_otm, normalised_otm

MAX_ITERATIONS: Final = 100
S_MAX: Final = 40.0  # sigma sqrt(T) bound of the upper bracket; b(x, 40) equals e^{x/2} in float64
_EPS: Final = float(np.finfo(np.float64).eps)
_STEP_TOL: Final = 2.0**-46  # relative step in s (about 1.4e-14): below the noise of b itself
_VALUE_TOL: Final = 16.0 * _EPS  # |ln b - ln beta|, or |b - beta| / beta: the evaluation's noise floor
_NOISE: Final = 2.0**20  # a stalled Newton step is accepted below _NOISE * _VALUE_TOL (about 4e-9)
_LOG_SQRT_2PI: Final = 0.5 * math.log(2.0 * math.pi)


class IvStatus(IntEnum):
    """Why an implied volatility is (or is not) there."""

    OK = 0
    MISSING = 1  # price (or an input) is nan
    NOT_POSITIVE = 2  # price <= 0
    BELOW_INTRINSIC = 3  # price <= discounted intrinsic value
    ABOVE_UPPER_BOUND = 4  # price >= D F (call) or D K (put)
    NO_CONVERGENCE = 5  # not reached within MAX_ITERATIONS (not observed)
    ZERO_BID = 6  # set by chains: a zero bid, so the mid is no price


@dataclass(frozen=True, kw_only=True, slots=True)
class IvResult:
    """Implied volatilities (annualised, nan where not defined) and a status code per contract."""

    vol: F64
    status: NDArray[np.int8]
    iterations: int


def implied_vol(
    price: ArrayLike, forward: ArrayLike, strike: ArrayLike, t: ArrayLike, is_call: ArrayLike, discount: ArrayLike = 1.0
) -> IvResult:
    """Black-76 implied volatility of discounted prices ``price`` (see the module docstring)."""
    a = _arrays(price=price, forward=forward, strike=strike, t=t, discount=discount)
    f, k, t_, disc, v = a["forward"], a["strike"], a["t"], a["discount"], a["price"]
    call = np.broadcast_to(np.asarray(is_call, dtype=np.bool_), f.shape)
    x = np.log(f / k)
    root = np.sqrt(f * k)
    theta = np.where(call, 1.0, -1.0)
    with np.errstate(invalid="ignore"):
        beta = v / (disc * root)
        intrinsic = np.maximum(theta * (np.exp(0.5 * x) - np.exp(-0.5 * x)), 0.0)
        otm = beta - intrinsic
        upper = np.where(call, np.exp(0.5 * x), np.exp(-0.5 * x))
    status = np.full(f.shape, IvStatus.OK, dtype=np.int8)
    missing = np.isnan(v) | np.isnan(f) | np.isnan(k) | np.isnan(t_) | np.isnan(disc)
    status[~missing & (beta >= upper)] = IvStatus.ABOVE_UPPER_BOUND
    status[~missing & (otm <= 0)] = IvStatus.BELOW_INTRINSIC
    status[~missing & (v <= 0)] = IvStatus.NOT_POSITIVE
    status[missing] = IvStatus.MISSING
    good = status == IvStatus.OK
    s, iterations = _solve(-np.abs(x[good]), otm[good])
    vol = np.full(f.shape, np.nan)
    vol[good] = s / np.sqrt(t_[good])
    unsolved = good & ~np.isfinite(vol)
    status[unsolved] = IvStatus.NO_CONVERGENCE
    return IvResult(vol=vol, status=status, iterations=iterations)


def _solve(x: F64, beta: F64) -> tuple[F64, int]:
    """``s`` with ``b(x, s) = beta`` for ``x <= 0`` and ``0 < beta < e^{x/2}`` (1-d arrays)."""
    s_c = np.sqrt(-2.0 * x)
    lower = beta < normalised_otm(x, np.maximum(s_c, 1e-300))
    lower &= x < 0
    log_beta = np.log(beta)
    s = np.where(lower, _lower_guess(x, log_beta, s_c), _upper_guess(x, beta, s_c))
    lo = np.where(lower, 0.0, s_c)
    hi = np.where(lower, s_c, S_MAX)
    active = np.arange(x.size)
    previous = np.full(x.size, np.inf)  # |objective| at the previous iterate
    newton = np.zeros(x.size, dtype=np.bool_)  # whether the current iterate came from a Newton step
    iterations = 0
    while active.size and iterations < MAX_ITERATIONS:
        iterations += 1
        xa, sa, la = x[active], s[active], lower[active]
        value, slope = _objective(xa, sa, la, beta[active], log_beta[active])
        above = value > 0
        lo_a = np.where(above, lo[active], sa)
        hi_a = np.where(above, sa, hi[active])
        with np.errstate(divide="ignore", invalid="ignore"):
            step = sa - value / slope
        inside = (step >= lo_a) & (step <= hi_a) & np.isfinite(step)
        new = np.where(value == 0, sa, np.where(inside, step, 0.5 * (lo_a + hi_a)))
        lo[active], hi[active], s[active] = lo_a, hi_a, new
        tol = _STEP_TOL * new
        floor = np.where(la, _VALUE_TOL, _VALUE_TOL * beta[active])
        size = np.abs(value)
        # near the root, a Newton step that no longer reduces |objective| has met the rounding noise
        stalled = newton[active] & (size >= previous[active]) & (size <= _NOISE * floor)
        previous[active], newton[active] = size, inside
        done = (np.abs(new - sa) <= tol) | (hi_a - lo_a <= tol) | (size <= floor) | stalled
        active = active[~done]
    s[active] = np.nan
    return s, iterations


def _objective(x: F64, s: F64, lower: B, beta: F64, log_beta: F64) -> tuple[F64, F64]:
    """Lower branch ``ln b - ln beta`` and its slope; upper branch ``b - beta`` and its slope."""
    log_vega = -0.5 * ((x / s) ** 2 + 0.25 * s * s) - _LOG_SQRT_2PI
    log_b = log_normalised_otm(x, s)
    b = normalised_otm(x, s)
    value = np.where(lower, log_b - log_beta, b - beta)
    with np.errstate(over="ignore"):
        slope = np.where(lower, np.exp(log_vega - log_b), np.exp(log_vega))
    return value, slope


def _lower_guess(x: F64, log_beta: F64, s_c: F64) -> F64:
    """Fixed-point steps on the small-``s`` asymptotic of ``ln b`` (kept inside ``(0, s_c)``)."""
    ax = np.abs(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = ax / np.sqrt(np.maximum(-2.0 * log_beta, 1e-300))
        for _ in range(3):
            s = np.clip(s, 1e-300, 0.99 * s_c)
            rest = 3.0 * np.log(s) - 0.125 * s * s - _LOG_SQRT_2PI - np.log(ax * ax - 0.25 * s**4) - log_beta
            s = ax / np.sqrt(np.maximum(2.0 * rest, 1e-300))
    guess: F64 = np.where(np.isfinite(s), np.clip(s, 1e-300, 0.99 * s_c), 0.5 * s_c)
    return guess


def _upper_guess(x: F64, beta: F64, s_c: F64) -> F64:
    """The at-the-money inversion ``-2 N^{-1}((bmax - beta) / (2 bmax))``, kept inside ``[s_c, S_MAX]``."""
    bmax = np.exp(0.5 * x)
    s = -2.0 * special.ndtri(np.clip((bmax - beta) / (2.0 * bmax), 1e-300, 0.5))
    guess: F64 = np.clip(np.where(np.isfinite(s), s, s_c), s_c, S_MAX)
    return guess
