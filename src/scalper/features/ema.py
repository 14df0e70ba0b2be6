"""Exponential moving average and its slope per bar.

Convention: α = 2/(n+1) (DOMAIN.md). DOMAIN.md does not fix the seed, so the first value is the
simple mean of the first n inputs (the TA-Lib / "SMA seed" convention); from then on
``EMA_t = EMA_{t−1} + α·(x_t − EMA_{t−1})``. Before the n-th input the EMA is *not ready* and reads
``nan``. This equals pandas' ``ewm(alpha=2/(n+1), adjust=False).mean()`` applied to the series
``[mean(x_1..x_n), x_{n+1}, x_{n+2}, ...]``.

Slope: ``(EMA_t − EMA_{t−k}) / k`` in price units per bar, ready once k further EMA values exist
(after n + k inputs). DOMAIN.md's normalised slope divides this by ATR: :func:`normalised_slope`.
"""

from __future__ import annotations

import math

from scalper.features._checks import require_finite, require_period

_NAN = math.nan


class Ema:
    """EMA(n) with α = 2/(n+1), seeded with the SMA of the first n inputs."""

    __slots__ = ("_alpha", "_count", "_n", "_name", "_sum", "_value")

    def __init__(self, n: int, *, alpha: float | None = None, name: str = "ema") -> None:
        require_period(f"{name} period", n)
        self._name = name
        self._n = n
        self._alpha = 2.0 / (n + 1) if alpha is None else alpha
        self._count = 0
        self._sum = 0.0
        self._value = _NAN

    @property
    def period(self) -> int:
        """n."""
        return self._n

    @property
    def ready(self) -> bool:
        """True once n inputs have been seen."""
        return self._count >= self._n

    @property
    def value(self) -> float:
        """The current EMA, or ``nan`` before the n-th input."""
        return self._value

    def update(self, x: float) -> float:
        """Add one input (finite) and return the EMA (``nan`` while warming up)."""
        if not math.isfinite(x):
            require_finite(f"{self._name} input", x)
        if self._count >= self._n:
            self._value += self._alpha * (x - self._value)
            return self._value
        self._count += 1
        self._sum += x
        if self._count == self._n:
            self._value = self._sum / self._n
        return self._value


class EmaSlope:
    """EMA(n) and its slope ``(EMA_t − EMA_{t−k}) / k`` per bar, from a ring of the last k EMA values."""

    __slots__ = ("_ema", "_k", "_pos", "_ring", "_seen", "_slope")

    def __init__(self, n: int, k: int) -> None:
        require_period("ema slope lag", k)
        self._ema = Ema(n)
        self._k = k
        self._ring = [0.0] * k  # EMA_{t-k} .. EMA_{t-1}, oldest at _pos
        self._pos = 0
        self._seen = 0  # EMA values written into the ring
        self._slope = _NAN

    @property
    def ema(self) -> Ema:
        """The underlying EMA (read it, do not update it directly)."""
        return self._ema

    @property
    def ready(self) -> bool:
        """True once the slope has a value (after n + k inputs)."""
        return self._seen > self._k

    @property
    def slope(self) -> float:
        """(EMA_t − EMA_{t−k}) / k, or ``nan`` while warming up."""
        return self._slope

    def update(self, x: float) -> float:
        """Add one input and return the slope (``nan`` while warming up)."""
        value = self._ema.update(x)
        if not self._ema.ready:
            return _NAN
        ring, pos = self._ring, self._pos
        if self._seen >= self._k:
            self._slope = (value - ring[pos]) / self._k
        self._seen += 1
        ring[pos] = value
        self._pos = pos + 1 if pos + 1 < self._k else 0
        return self._slope


def normalised_slope(slope: float, atr: float) -> float:
    """DOMAIN.md's slope = (EMA_t − EMA_{t−k}) / (k·ATR): a per-bar slope divided by ATR; ``nan`` if ATR <= 0."""
    return slope / atr if atr > 0.0 else _NAN
