"""Kaufman efficiency ratio over n bars.

``ER_t = |C_t − C_{t−n}| / Σ_{i=t−n+1..t} |C_i − C_{i−1}|`` — 1 for a straight move, near 0 for
chop. Needs n + 1 closes; before that it reads ``nan``. A flat window (zero path length) reads 0:
no movement, no efficiency.

State: a ring of the last n + 1 closes (the window's changes are recomputed from it, never stored)
and a running path sum. Adding and removing terms lets rounding drift creep into the running sum,
so it is rebuilt from the ring once every n updates: one extra addition per update on average,
and the sum never drifts further than n updates' worth of rounding.
"""

from __future__ import annotations

import math

from scalper.features._checks import require_period, require_price

_NAN = math.nan


class EfficiencyRatio:
    """Kaufman ER(n) with an O(1) (amortised) ring buffer."""

    __slots__ = ("_count", "_n", "_path", "_pos", "_ring", "_since_rebuild", "_value")

    def __init__(self, n: int) -> None:
        require_period("efficiency ratio period", n)
        self._n = n
        self._ring = [0.0] * (n + 1)  # the last n + 1 closes; the oldest sits at _pos once full
        self._pos = 0
        self._count = 0
        self._path = 0.0
        self._since_rebuild = 0
        self._value = _NAN

    @property
    def ready(self) -> bool:
        """True once n + 1 closes have been seen."""
        return self._count > self._n

    @property
    def value(self) -> float:
        """ER in [0, 1], or ``nan`` while warming up."""
        return self._value

    def update(self, close: float) -> float:
        """Add one close (finite, > 0) and return ER (``nan`` while warming up)."""
        if not (0.0 < close < math.inf):
            require_price("efficiency ratio close", close)
        ring, pos, size = self._ring, self._pos, self._n + 1
        newest = ring[pos - 1]  # pos - 1 == -1 wraps to the end: the previous close
        if self._count > 0:
            self._path += abs(close - newest)
        if self._count > self._n:  # drop the change that leaves the window: ring[pos] -> ring[pos+1]
            oldest, second = ring[pos], ring[pos + 1 if pos + 1 < size else 0]
            self._path -= abs(second - oldest)
        ring[pos] = close
        self._pos = pos + 1 if pos + 1 < size else 0
        self._count += 1
        if self._count <= self._n:
            return _NAN
        self._since_rebuild += 1
        if self._since_rebuild >= self._n:
            self._rebuild_path()
        first = ring[self._pos]  # C_{t−n}: the oldest close in the full ring
        # |C_t − C_{t−n}| <= path by the triangle inequality; min() keeps rounding from crossing 1.
        self._value = min(1.0, abs(close - first) / self._path) if self._path > 0.0 else 0.0
        return self._value

    def _rebuild_path(self) -> None:
        ring, size, start = self._ring, self._n + 1, self._pos
        total = 0.0
        prev = ring[start]
        for i in range(1, size):
            cur = ring[(start + i) % size]
            total += abs(cur - prev)
            prev = cur
        self._path = total
        self._since_rebuild = 0
