"""Exponential moving average and its slope per bar.

Convention: α = 2/(n+1) (DOMAIN.md). DOMAIN.md does not fix the seed, so the first value is the
simple mean of the first n inputs (the TA-Lib / "SMA seed" convention); from then on
``EMA_t = EMA_{t−1} + α·(x_t − EMA_{t−1})``. Before the n-th input the EMA is *not ready* and reads
``nan``. This equals pandas' ``ewm(alpha=2/(n+1), adjust=False).mean()`` applied to the series
``[mean(x_1..x_n), x_{n+1}, x_{n+2}, ...]``.

Slope: ``(EMA_t − EMA_{t−k}) / k`` in price units per bar, ready once k further EMA values exist
(after n + k inputs). DOMAIN.md's normalised slope divides this by ATR: :func:`normalised_slope`.

State layouts (slots from offset ``o`` of a float64 state array):

* EMA, :data:`EMA_SIZE` slots: count, sum of the first n inputs, value.
* slope, ``slope_size(k)`` slots: the EMA, then ring position, EMA values seen, slope, and a ring
  of the last k EMA values.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from scalper.features._checks import require_finite, require_period
from scalper.features._jit import kernel

_NAN = math.nan
EMA_SIZE = 3
SLOPE_HEAD = EMA_SIZE + 3


def slope_size(k: int) -> int:
    """Slots taken by an EMA slope with lag ``k``."""
    return SLOPE_HEAD + k


@kernel
def ema_reset(st: NDArray[np.float64], o: int) -> None:
    """Forget everything: the EMA warms up again."""
    st[o] = 0.0
    st[o + 1] = 0.0
    st[o + 2] = _NAN


@kernel
def ema_add(st: NDArray[np.float64], o: int, x: float, n: int, alpha: float) -> float:
    """Add one input to the EMA at ``o``; returns the EMA (``nan`` while warming up)."""
    if st[o] >= n:
        value = st[o + 2] + alpha * (x - st[o + 2])
        st[o + 2] = value
        return value
    st[o] += 1.0
    st[o + 1] += x
    if st[o] == n:
        st[o + 2] = st[o + 1] / n
    return st[o + 2]


@kernel
def slope_reset(st: NDArray[np.float64], o: int) -> None:
    """Forget everything (the ring's contents are dead until rewritten)."""
    ema_reset(st, o)
    st[o + 3] = 0.0
    st[o + 4] = 0.0
    st[o + 5] = _NAN


@kernel
def slope_add(st: NDArray[np.float64], o: int, x: float, n: int, alpha: float, k: int) -> float:
    """Add one input to the EMA slope at ``o``; returns ``(EMA_t − EMA_{t−k}) / k`` (``nan`` while warming up)."""
    value = ema_add(st, o, x, n, alpha)
    if st[o] < n:
        return _NAN
    pos = int(st[o + 3])
    ring = o + SLOPE_HEAD
    if st[o + 4] >= k:
        st[o + 5] = (value - st[ring + pos]) / k
    st[o + 4] += 1.0
    st[ring + pos] = value
    st[o + 3] = pos + 1 if pos + 1 < k else 0
    return st[o + 5]


def normalised_slope(slope: float, atr: float) -> float:
    """DOMAIN.md's slope = (EMA_t − EMA_{t−k}) / (k·ATR): a per-bar slope divided by ATR; ``nan`` if ATR <= 0."""
    return slope / atr if atr > 0.0 else _NAN


class Ema:
    """EMA(n) with α = 2/(n+1), seeded with the SMA of the first n inputs (a checked wrapper of :func:`ema_add`)."""

    __slots__ = ("_alpha", "_n", "_name", "_st")

    def __init__(self, n: int, *, alpha: float | None = None, name: str = "ema") -> None:
        require_period(f"{name} period", n)
        self._name = name
        self._n = n
        self._alpha = 2.0 / (n + 1) if alpha is None else alpha
        self._st = np.empty(EMA_SIZE)
        ema_reset(self._st, 0)

    @property
    def period(self) -> int:
        """n."""
        return self._n

    @property
    def ready(self) -> bool:
        """True once n inputs have been seen."""
        return bool(self._st[0] >= self._n)

    @property
    def value(self) -> float:
        """The current EMA, or ``nan`` before the n-th input."""
        return float(self._st[2])

    def update(self, x: float) -> float:
        """Add one input (finite) and return the EMA (``nan`` while warming up)."""
        if not math.isfinite(x):
            require_finite(f"{self._name} input", x)
        return float(ema_add(self._st, 0, x, self._n, self._alpha))


class EmaSlope:
    """EMA(n) and its slope ``(EMA_t − EMA_{t−k}) / k`` per bar (a checked wrapper of :func:`slope_add`)."""

    __slots__ = ("_k", "_n", "_st")

    def __init__(self, n: int, k: int) -> None:
        require_period("ema period", n)
        require_period("ema slope lag", k)
        self._n = n
        self._k = k
        self._st = np.empty(slope_size(k))
        slope_reset(self._st, 0)

    @property
    def ema_value(self) -> float:
        """The underlying EMA (``nan`` while warming up)."""
        return float(self._st[2])

    @property
    def ready(self) -> bool:
        """True once the slope has a value (after n + k inputs)."""
        return bool(self._st[4] > self._k)

    @property
    def slope(self) -> float:
        """(EMA_t − EMA_{t−k}) / k, or ``nan`` while warming up."""
        return float(self._st[5])

    def update(self, x: float) -> float:
        """Add one input (finite) and return the slope (``nan`` while warming up)."""
        if not math.isfinite(x):
            require_finite("ema slope input", x)
        return float(slope_add(self._st, 0, x, self._n, 2.0 / (self._n + 1), self._k))
