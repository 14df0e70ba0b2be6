"""Trade-side classification for cumulative delta (buy volume − sell volume).

Two methods (DOMAIN.md), and every value says which produced it:

* **Lee–Ready** (:func:`lee_ready_side`), from trades and the prevailing NBBO quote: above the
  midpoint a buy, below a sell; at the midpoint (or with no valid quote) the tick rule — up from
  the last different trade price a buy, down a sell. Contemporaneous quotes are used (the original
  five-second quote delay is for old, unsynchronised data).
* **Bulk volume classification** (:func:`bvc_delta`), from one-second OHLCV only:
  ``V_buy = V·Φ(ΔP/σ_ΔP)`` so ``delta = V_buy − V_sell = V·(2Φ(ΔP/σ_ΔP) − 1)``, with σ_ΔP the
  exponentially weighted root mean square of recent bar-to-bar close changes, taken *before* the
  current change is added. With σ_ΔP = 0 a non-zero change classifies the whole bar.
"""

from __future__ import annotations

import math

from scalper.features._jit import kernel

METHOD_NONE = 0.0  # indices: no volume, no delta
METHOD_BVC = 1.0
METHOD_LEE_READY = 2.0


@kernel
def normal_cdf(z: float) -> float:
    """Φ(z), the standard normal distribution function."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


@kernel
def bvc_delta(volume: float, change: float, sigma: float) -> float:
    """``V·(2Φ(ΔP/σ) − 1)``; σ = 0 gives ±V for a non-zero change and 0 for none."""
    if change == 0.0:
        return 0.0
    if sigma > 0.0:
        return volume * (2.0 * normal_cdf(change / sigma) - 1.0)
    return volume if change > 0.0 else -volume


@kernel
def lee_ready_side(price: float, bid: float, ask: float, last_price: float, last_side: float) -> float:
    """+1 buy, −1 sell: the quote rule against the midpoint, the tick rule at it (0 when still unknown).

    ``last_price`` is the previous trade's price and ``last_side`` the tick-rule direction carried
    from the last price change (a zero tick keeps it).
    """
    if 0.0 < bid <= ask:
        mid = 0.5 * (bid + ask)
        if price > mid:
            return 1.0
        if price < mid:
            return -1.0
    if last_price == last_price:
        if price > last_price:
            return 1.0
        if price < last_price:
            return -1.0
    return last_side
