"""Kaufman efficiency ratio over n bars.

``ER_t = |C_t − C_{t−n}| / Σ_{i=t−n+1..t} |C_i − C_{i−1}|`` — 1 for a straight move, near 0 for
chop. Needs n + 1 closes; before that it reads ``nan``. A flat window (zero path length) reads 0:
no movement, no efficiency.

State (``er_size(n)`` slots): count, ring position, running path sum, updates since the last
rebuild, value, then a ring of the last n + 1 closes (the window's changes are recomputed from it,
never stored). Adding and removing terms lets rounding drift creep into the running sum, so it is
rebuilt from the ring once every n updates: one extra addition per update on average, and the sum
never drifts further than n updates' worth of rounding.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from scalper.features._checks import require_period, require_price
from scalper.features._jit import kernel

_NAN = math.nan
_HEAD = 5


def er_size(n: int) -> int:
    """Slots taken by an ER(n)."""
    return _HEAD + n + 1


@kernel
def er_reset(st: NDArray[np.float64], o: int) -> None:
    """Forget everything."""
    for i in range(4):
        st[o + i] = 0.0
    st[o + 4] = _NAN


@kernel
def er_add(st: NDArray[np.float64], o: int, close: float, n: int) -> float:
    """Add one close to the ER(n) at ``o``; returns ER in [0, 1] (``nan`` while warming up)."""
    ring, size = o + _HEAD, n + 1
    count, pos = st[o], int(st[o + 1])
    if count > 0:
        st[o + 2] += abs(close - st[ring + (pos - 1 if pos > 0 else size - 1)])
    if count > n:  # drop the change that leaves the window: ring[pos] -> ring[pos+1]
        st[o + 2] -= abs(st[ring + (pos + 1 if pos + 1 < size else 0)] - st[ring + pos])
    st[ring + pos] = close
    pos = pos + 1 if pos + 1 < size else 0
    st[o + 1] = pos
    count += 1.0
    st[o] = count
    if count <= n:
        return _NAN
    st[o + 3] += 1.0
    if st[o + 3] >= n:  # rebuild the path sum from the ring, oldest first
        total = 0.0
        prev = st[ring + pos]
        for i in range(1, size):
            cur = st[ring + (pos + i) % size]
            total += abs(cur - prev)
            prev = cur
        st[o + 2] = total
        st[o + 3] = 0.0
    path = st[o + 2]
    # |C_t − C_{t−n}| <= path by the triangle inequality; min() keeps rounding from crossing 1.
    value = min(1.0, abs(close - st[ring + pos]) / path) if path > 0.0 else 0.0
    st[o + 4] = value
    return value


class EfficiencyRatio:
    """Kaufman ER(n) with an O(1) (amortised) ring buffer (a checked wrapper of :func:`er_add`)."""

    __slots__ = ("_n", "_st")

    def __init__(self, n: int) -> None:
        require_period("efficiency ratio period", n)
        self._n = n
        self._st = np.empty(er_size(n))
        er_reset(self._st, 0)

    @property
    def ready(self) -> bool:
        """True once n + 1 closes have been seen."""
        return bool(self._st[0] > self._n)

    @property
    def value(self) -> float:
        """ER in [0, 1], or ``nan`` while warming up."""
        return float(self._st[4])

    def update(self, close: float) -> float:
        """Add one close (finite, > 0) and return ER (``nan`` while warming up)."""
        if not (0.0 < close < math.inf):
            require_price("efficiency ratio close", close)
        return float(er_add(self._st, 0, close, self._n))
