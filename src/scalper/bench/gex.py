"""``scalper bench gex``: dealer gamma profile and zero-gamma level over a 5,000-contract chain.

The chain is generated before timing (deterministic): SPX-like, 25 expiries from 0 to 60 days,
100 strikes 5 points apart around the spot, a call and a put each, IVs from the synthetic
generator's smile, open interest decaying away from the money. One run is
:func:`scalper.options.gex.gamma_levels` (per-strike profile, net GEX, walls, and every
contract's gamma on a ``grid``-point spot grid summed and searched for the zero crossing); the
figure ``ms`` is the median of ``repeats`` runs.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

import numpy as np

from scalper.options.gex import GammaChain, Variant, gamma_levels
from scalper.synthetic.options import smile

SPOT = 6000.0
RATE = 0.045
DIVIDEND = 0.013


def chain(expiries: int = 25, strikes: int = 100, seed: int = 7) -> GammaChain:
    """``expiries * strikes * 2`` contracts (5,000 by default) around ``SPOT``."""
    rng = np.random.default_rng(seed)
    days = np.linspace(0.25, 60.0, expiries)
    k = SPOT + 5.0 * (np.arange(strikes) - strikes // 2)
    t = np.repeat(days / 365.0, 2 * strikes)
    strike = np.tile(np.concatenate((k, k)), expiries)
    is_call = np.tile(np.repeat([True, False], strikes), expiries)
    carry = np.exp((RATE - DIVIDEND) * t)
    vol = smile(strike, SPOT * carry, t, 0.16)
    oi = np.floor(4000.0 * np.exp(-np.abs(np.log(strike / SPOT)) / 0.02) * rng.lognormal(0.0, 0.5, t.size))
    return GammaChain(
        spot=SPOT,
        strike=strike,
        is_call=is_call,
        t=t,
        vol=vol,
        carry=carry,
        discount=np.exp(-RATE * t),
        open_interest=oi,
        volume=np.floor(oi * rng.uniform(0.0, 2.0, t.size)),
        expires_today=t < 1.0 / 365.0,
    )


def run(*, grid: int = 200, repeats: int = 21) -> dict[str, Any]:
    """Time the profile and zero-gamma level; return the figures."""
    data = chain()
    gamma_levels(data, Variant.OI, points=grid)  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        levels = gamma_levels(data, Variant.OI, points=grid)
        times.append(time.perf_counter() - started)
    return {
        "name": "gex",
        "contracts": len(data),
        "grid": grid,
        "ms": round(statistics.median(times) * 1000.0, 3),
        "min_ms": round(min(times) * 1000.0, 3),
        "zero_gamma": None if math.isnan(levels.zero_gamma) else round(levels.zero_gamma, 2),
    }
