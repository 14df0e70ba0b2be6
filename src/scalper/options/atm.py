"""The constant-maturity at-the-money implied volatility of a chain (the IV-rank series).

Per expiry (root and date, with a forward from put–call parity): the ATM IV is the IV at the
forward, interpolated linearly in log-moneyness ln(K/F) between the two strikes that bracket the
forward, using each strike's out-of-the-money option (puts below the forward, calls above; the
IVs a completed chain carries). Across expiries: total variance σ²·T interpolated linearly in T
between the two expiries that bracket the target maturity (30 calendar days by default). An
expiry without a bracketing pair of strikes, or a target outside the expiries, gives ``nan`` with
the reason — never an extrapolation.
"""

from __future__ import annotations

import math

import numpy as np

from scalper.options.chains import Chain, Terms, complete, terms

MINUTES_PER_YEAR = 365.0 * 24 * 60


def atm_iv(
    chain: Chain, *, days: float = 30.0, rate: float | None = None, neighbours: int = 1
) -> tuple[float, str | None]:
    """(the ``days``-day ATM implied volatility, why it is nan or None).

    ``neighbours`` > 1 fits a least-squares line of IV against ln(K/F) through that many
    out-of-the-money strikes on each side of the forward (for chains priced from closes, whose
    single strikes are noisy) instead of interpolating between the two nearest.
    """
    filled, _ = complete(chain, rate=rate)
    term = terms(filled, rate=rate)
    points = sorted(_per_expiry(filled, term, neighbours))  # (T, ATM IV)
    if not points:
        return math.nan, "no expiry with a forward and strikes on both sides of it"
    target = days / 365.0
    below = [p for p in points if p[0] <= target]
    above = [p for p in points if p[0] >= target]
    if not below or not above:
        span = f"{points[0][0] * 365:.1f}–{points[-1][0] * 365:.1f} days"
        return math.nan, f"{days:g} days lies outside the expiries with an ATM IV ({span})"
    (t1, v1), (t2, v2) = below[-1], above[0]
    if t1 == t2:
        return v1, None
    w1, w2 = v1 * v1 * t1, v2 * v2 * t2
    variance = w1 + (w2 - w1) * (target - t1) / (t2 - t1)
    if variance <= 0:
        return math.nan, "interpolated total variance is not positive"
    return math.sqrt(variance / target), None


def _per_expiry(chain: Chain, term: Terms, neighbours: int = 1) -> list[tuple[float, float]]:
    out = []
    keys = np.char.add(chain.root.astype(str), chain.expiry.astype(str))
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        t, f = float(term.t[rows[0]]), float(term.forward[rows[0]])
        if not (t > 0 and f > 0):
            continue
        otm = rows[
            (chain.is_call[rows] & (chain.strike[rows] >= f)) | (~chain.is_call[rows] & (chain.strike[rows] < f))
        ]
        otm = otm[np.isfinite(chain.iv[otm])]
        lower = otm[chain.strike[otm] < f]
        upper = otm[chain.strike[otm] >= f]
        if lower.size == 0 or upper.size == 0:
            continue
        if neighbours > 1:
            near = np.concatenate(
                (
                    lower[np.argsort(-chain.strike[lower])[:neighbours]],
                    upper[np.argsort(chain.strike[upper])[:neighbours]],
                )
            )
            _, intercept = np.polyfit(np.log(chain.strike[near] / f), chain.iv[near], 1)
            out.append((t, float(intercept)))
            continue
        a = lower[np.argmax(chain.strike[lower])]
        b = upper[np.argmin(chain.strike[upper])]
        xa, xb = math.log(chain.strike[a] / f), math.log(chain.strike[b] / f)
        iv = chain.iv[a] + (chain.iv[b] - chain.iv[a]) * (0.0 - xa) / (xb - xa) if xb != xa else chain.iv[a]
        out.append((t, float(iv)))
    return out
