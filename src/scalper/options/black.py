"""Black-76 on the forward: prices and greeks over whole chains (numpy, no per-contract loops).

Conventions
-----------
* Inputs per contract: forward ``F``, strike ``K``, time ``T`` in years, volatility ``sigma``
  (annualised, per unit: 0.20 is 20%), ``is_call``, discount factor ``D = e^{-rT}`` (default 1).
  The forward comes from put-call parity (:func:`implied_forward`), never from a dividend guess.
* Time: ACT/365 counted in minutes, ``T = minutes / (365 * 24 * 60)`` (:func:`year_fraction`).
  A 0DTE option expiring at 16:00 ET has 360 minutes left at 10:00 ET. Settlement instants
  (:func:`settlement_ns`): SPX and NDX monthlies are AM-settled, at 09:30 ET of the expiry
  date; SPXW, NDXP, XSP, SPY and QQQ are PM-settled, at that session's close (an early close
  from :func:`scalper.marketdata.calendar.xnys` moves it). Calendar time, not trading time:
  overnight and weekends count.
* Normalised price: with ``x = ln(F/K)`` and ``s = sigma * sqrt(T)``, the undiscounted call is
  ``sqrt(F K) * b(x, s)``, ``b(x, s) = e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2)``; a put is
  ``b(-x, s)``. Out-of-the-money values are computed without cancellation (scaled erfc), so deep
  wing prices keep their relative accuracy; in-the-money = intrinsic + the out-of-the-money side.

Greeks (:func:`greeks`, per contract, one unit of underlying):

* ``delta`` = dV/dS and ``gamma`` = d²V/dS² with respect to the *spot* ``S``. The forward moves
  with spot as ``F = S e^{(r-q)T}``, so ``dF/dS = F/S`` and
  ``delta_S = delta_F * F/S``, ``gamma_S = gamma_F * (F/S)^2`` with the Black-76 forward greeks
  ``delta_F = D N(d1)`` (call), ``gamma_F = D phi(d1) / (F s)``. Hence
  ``gamma_S S^2 = gamma_F F^2``: the dollar gamma is the same in either variable. Dealer gamma
  exposure (:mod:`scalper.options.gex`) uses the spot gamma (hedges trade in the underlying).
  Without ``spot`` the greeks are taken with respect to the forward (``S = F``).
* ``vega``: dV/dsigma per volatility point (0.01), as the REST snapshot and vollib report it.
* ``theta``: -dV/dT per calendar day (1/365 year) with the forward and the rate held fixed
  (Black-76 theta, ``r = -ln(D)/T``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from scalper.core.errors import DataError

F64 = NDArray[np.float64]
B = NDArray[np.bool_]

MINUTES_PER_YEAR: Final = 365 * 24 * 60
NS_PER_MINUTE: Final = 60_000_000_000
AM_SETTLED: Final = frozenset({"SPX", "NDX", "RUT"})
PM_SETTLED: Final = frozenset({"SPXW", "NDXP", "XSP", "SPY", "QQQ", "RUTW", "IWM"})
_SQRT_2PI: Final = math.sqrt(2.0 * math.pi)
_SQRT_HALF: Final = math.sqrt(0.5)


# --- time --------------------------------------------------------------------------------------
def year_fraction(minutes: ArrayLike) -> F64:
    """Years from minutes to expiry, ACT/365: ``minutes / 525,600``."""
    values: F64 = np.asarray(minutes, dtype=np.float64) / MINUTES_PER_YEAR
    return values


def minutes_to_expiry(ts_ns: ArrayLike, settle_ns: ArrayLike) -> F64:
    """Minutes (fractional) from ``ts_ns`` to the settlement instant ``settle_ns`` (UTC ns)."""
    diff = np.asarray(settle_ns, dtype=np.int64) - np.asarray(ts_ns, dtype=np.int64)
    minutes: F64 = diff.astype(np.float64) / NS_PER_MINUTE
    return minutes


def settlement_ns(root: str, expiry: dt.date) -> int:
    """Settlement instant (UTC ns) of ``root`` options expiring on ``expiry``.

    AM-settled roots (SPX, NDX, RUT monthlies): the session open, 09:30 ET. PM-settled roots
    (SPXW, NDXP, XSP, SPY, QQQ, ...): the session close, early closes included.
    """
    from scalper.marketdata.calendar import xnys

    cal = xnys()
    if not cal.is_session(expiry.isoformat()):
        raise DataError(f"settlement of {root} {expiry}: expected an XNYS session date, was not a session")
    if root in AM_SETTLED:
        return int(cal.session_open(expiry.isoformat()).value)
    if root in PM_SETTLED:
        return int(cal.session_close(expiry.isoformat()).value)
    raise DataError(
        f"settlement of {root} {expiry}: unknown root {root!r}; expected one of {sorted(AM_SETTLED | PM_SETTLED)}"
    )


# --- normal distribution and the normalised Black price ------------------------------------------
def norm_pdf(x: F64) -> F64:
    """Standard normal density."""
    values: F64 = np.exp(-0.5 * x * x) / _SQRT_2PI
    return values


def norm_cdf(x: F64) -> F64:
    """Standard normal distribution function (accurate in both tails)."""
    values: F64 = special.ndtr(x)
    return values


def normalised_otm(x: F64, s: F64) -> F64:
    """``b(x, s)`` for ``x <= 0`` (an out-of-the-money or at-the-money call), no cancellation.

    Both ``h± = x/s ± s/2`` negative: ``b = ½ e^{-(x²/s² + s²/4)/2} [erfcx(-h+/√2) - erfcx(-h-/√2)]``
    (the two exponentials share one exponent). ``h- < 0 <= h+``:
    ``b = ½ e^{x/2} [erf(h+/√2) - erf(h-/√2)] + 2 sinh(x/2) N(h-)`` (a sum of positive erf terms).
    """
    h_plus = x / s + 0.5 * s
    h_minus = x / s - 0.5 * s
    with np.errstate(over="ignore", invalid="ignore"):
        scale = 0.5 * np.exp(-0.5 * ((x / s) ** 2 + 0.25 * s * s))
        wing = scale * (special.erfcx(-h_plus * _SQRT_HALF) - special.erfcx(-h_minus * _SQRT_HALF))
        centre = 0.5 * np.exp(0.5 * x) * (
            special.erf(h_plus * _SQRT_HALF) - special.erf(h_minus * _SQRT_HALF)
        ) + 2.0 * np.sinh(0.5 * x) * special.ndtr(h_minus)
    values: F64 = np.where(h_plus < 0.0, wing, centre)
    return values


def log_normalised_otm(x: F64, s: F64) -> F64:
    """``ln b(x, s)`` for ``x <= 0``, finite even where ``b`` underflows (deep wings, tiny ``s``)."""
    h_plus = x / s + 0.5 * s
    h_minus = x / s - 0.5 * s
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = special.erfcx(-h_plus * _SQRT_HALF) - special.erfcx(-h_minus * _SQRT_HALF)
        wing = math.log(0.5) - 0.5 * ((x / s) ** 2 + 0.25 * s * s) + np.log(diff)
        centre = np.log(normalised_otm(x, s))
    values: F64 = np.where(h_plus < 0.0, wing, centre)
    return values


# --- prices and greeks ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True, slots=True)
class Greeks:
    """Price and greeks per contract (conventions in the module docstring)."""

    price: F64
    delta: F64
    gamma: F64
    vega: F64  # per volatility point
    theta: F64  # per calendar day


def _arrays(**named: ArrayLike) -> dict[str, F64]:
    """Broadcast the inputs to one shape as float64; raise on any out-of-domain value."""
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in named.values()))
    out = dict(zip(named, arrays, strict=True))
    for name in ("forward", "strike", "t", "vol", "discount", "spot"):
        if name in out:
            _check_positive(name, out[name])
    return out


def _check_positive(name: str, values: F64) -> None:
    """Present values must be finite and > 0 (nan means missing and propagates)."""
    bad = ~np.isnan(values) & ~((values > 0) & np.isfinite(values))
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise DataError(
            f"{name}: expected finite values > 0, was {float(values.ravel()[i])!r} at index {i} ({int(bad.sum())} bad)"
        )


def price(
    forward: ArrayLike, strike: ArrayLike, t: ArrayLike, vol: ArrayLike, is_call: ArrayLike, discount: ArrayLike = 1.0
) -> F64:
    """Discounted Black-76 price ``D * sqrt(F K) * b(±x, s)``; in-the-money = intrinsic + OTM value."""
    a = _arrays(forward=forward, strike=strike, t=t, vol=vol, discount=discount)
    call = np.broadcast_to(np.asarray(is_call, dtype=np.bool_), a["forward"].shape)
    return _price(a["forward"], a["strike"], a["t"], a["vol"], call, a["discount"])


def _price(f: F64, k: F64, t: F64, vol: F64, call: B, disc: F64) -> F64:
    x = np.log(f / k)
    s = vol * np.sqrt(t)
    theta = np.where(call, 1.0, -1.0)
    otm = normalised_otm(-np.abs(x), s)
    intrinsic = np.maximum(theta * (f - k), 0.0)
    values: F64 = disc * (intrinsic + np.sqrt(f * k) * otm)
    return values


def greeks(
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
    discount: ArrayLike = 1.0,
    spot: ArrayLike | None = None,
) -> Greeks:
    """Black-76 price and greeks; delta and gamma with respect to ``spot`` (``F`` when omitted)."""
    a = _arrays(forward=forward, strike=strike, t=t, vol=vol, discount=discount, spot=forward if spot is None else spot)
    f, k, t_, vol_, disc, s0 = a["forward"], a["strike"], a["t"], a["vol"], a["discount"], a["spot"]
    call = np.broadcast_to(np.asarray(is_call, dtype=np.bool_), f.shape)
    sqrt_t = np.sqrt(t_)
    s = vol_ * sqrt_t
    d1 = np.log(f / k) / s + 0.5 * s
    pdf = norm_pdf(d1)
    value = _price(f, k, t_, vol_, call, disc)
    delta_f = disc * np.where(call, norm_cdf(d1), -norm_cdf(-d1))
    gamma_f = disc * pdf / (f * s)
    carry = f / s0
    rate = -np.log(disc) / t_
    return Greeks(
        price=value,
        delta=delta_f * carry,
        gamma=gamma_f * carry * carry,
        vega=disc * f * pdf * sqrt_t * 0.01,
        theta=(rate * value - disc * f * pdf * vol_ / (2.0 * sqrt_t)) / 365.0,
    )


def spot_gamma(spot: F64, carry: F64, strike: F64, s: F64, discount: F64) -> F64:
    """Spot gamma ``D (F/S) phi(d1) / (S s)`` with ``F = carry * S`` and ``s = sigma sqrt(T)``.

    Broadcasts (contracts against a grid of spots, for instance); inputs are not re-checked.
    """
    fwd = carry * spot
    values: F64 = discount * carry * norm_pdf(np.log(fwd / strike) / s + 0.5 * s) / (spot * s)
    return values


# --- the forward and the discount factor from put-call parity ------------------------------------
def implied_forward(strike: ArrayLike, call: ArrayLike, put: ArrayLike, discount: float, nearest: int = 3) -> float:
    """Forward from parity, ``F = K + (C - P)/D``, the median over the ``nearest`` strikes with the
    smallest ``|C - P|`` (closest to the money, where both sides are liquid). Pairs with a
    missing or non-positive price are skipped.
    """
    k, c, p = _pairs(strike, call, put, 1)
    if not 0 < discount <= 1.5 or not math.isfinite(discount):
        raise DataError(f"implied forward: expected a discount factor in (0, 1.5], was {discount!r}")
    idx = np.argsort(np.abs(c - p), kind="stable")[:nearest]
    return float(np.median(k[idx] + (c[idx] - p[idx]) / discount))


def implied_forward_discount(
    strike: ArrayLike, call: ArrayLike, put: ArrayLike, nearest: int = 4
) -> tuple[float, float]:
    """Forward and discount factor together from parity: least squares of ``C - P = D F - D K``
    over the ``nearest`` strikes with the smallest ``|C - P|`` (at least two distinct strikes).
    """
    k, c, p = _pairs(strike, call, put, 2)
    idx = np.argsort(np.abs(c - p), kind="stable")[: max(nearest, 2)]
    kk, diff = k[idx], (c - p)[idx]
    if np.unique(kk).size < 2:
        raise DataError("implied forward and discount: expected two distinct strikes near the money")
    slope, intercept = np.polyfit(kk, diff, 1)
    disc = -float(slope)
    if not disc > 0:
        raise DataError(
            f"implied forward and discount: parity gave a discount factor {disc!r} <= 0 "
            "(call and put prices inconsistent)"
        )
    return float(intercept) / disc, disc


def _pairs(strike: ArrayLike, call: ArrayLike, put: ArrayLike, minimum: int) -> tuple[F64, F64, F64]:
    k, c, p = (np.asarray(v, dtype=np.float64).ravel() for v in (strike, call, put))
    if not k.shape == c.shape == p.shape:
        raise DataError(f"parity: expected strike, call and put of one length, were {k.size}, {c.size}, {p.size}")
    ok = np.isfinite(k) & np.isfinite(c) & np.isfinite(p) & (k > 0) & (c > 0) & (p > 0)
    if int(ok.sum()) < minimum:
        raise DataError(
            f"parity: expected at least {minimum} strike(s) with positive call and put prices, found {int(ok.sum())}"
        )
    return k[ok], c[ok], p[ok]
