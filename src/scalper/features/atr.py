"""Wilder's average true range (ATR), and the Wilder smoothing shared with :mod:`.adx`.

Conventions (Wilder 1978, as in TA-Lib's ATR):

* The first bar only supplies the previous close: true range starts at the second bar,
  ``TR = max(H − L, |H − C_prev|, |L − C_prev|)``.
* Wilder smoothing with period n: seed = simple mean of the first n values, then
  ``A_t = A_{t−1} + (x_t − A_{t−1}) / n`` (the EMA kernel with α = 1/n). ATR is ready after n + 1 bars.

Before it is ready a value reads ``nan``. State (:data:`ATR_SIZE` slots): previous close, then the
Wilder EMA.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from scalper.core.errors import InvariantError
from scalper.features._checks import require_period, require_price
from scalper.features._jit import kernel
from scalper.features.ema import EMA_SIZE, Ema, ema_add, ema_reset

_NAN = math.nan
ATR_SIZE = 1 + EMA_SIZE


class Wilder(Ema):
    """Wilder smoothing: mean of the first n inputs, then ``A += (x − A) / n`` (the EMA kernel, α = 1/n)."""

    __slots__ = ()

    def __init__(self, n: int) -> None:
        super().__init__(n, alpha=1.0 / n if n >= 1 else 0.0, name="wilder")


def check_bar(high: float, low: float, close: float) -> None:
    """Raise :class:`InvariantError` naming the bad value unless ``0 < low <= close <= high`` (all finite)."""
    require_price("bar high", high)
    require_price("bar low", low)
    require_price("bar close", close)
    if not low <= close <= high:
        raise InvariantError(f"bar: expected low <= close <= high, was h={high} l={low} c={close}")


def valid_bar(high: float, low: float, close: float) -> bool:
    """The fast check: True when ``0 < low <= close <= high < inf`` (False for any nan)."""
    return 0.0 < low <= close <= high < math.inf


@kernel
def true_range(high: float, low: float, prev_close: float) -> float:
    """``max(H − L, |H − C_prev|, |L − C_prev|)``."""
    return max(high - low, abs(high - prev_close), abs(low - prev_close))


@kernel
def atr_reset(st: NDArray[np.float64], o: int) -> None:
    """Forget everything."""
    st[o] = _NAN
    ema_reset(st, o + 1)


@kernel
def atr_add(st: NDArray[np.float64], o: int, high: float, low: float, close: float, n: int) -> float:
    """Add one bar to the ATR(n) at ``o``; returns the ATR (``nan`` while warming up)."""
    prev = st[o]
    st[o] = close
    if prev != prev:  # first bar: no previous close, no true range yet
        return _NAN
    return ema_add(st, o + 1, true_range(high, low, prev), n, 1.0 / n)


@kernel
def atr_value(st: NDArray[np.float64], o: int) -> float:
    """The ATR at ``o`` (``nan`` while warming up)."""
    return st[o + 3]


class Atr:
    """Wilder ATR(n) over (high, low, close) bars (a checked wrapper of :func:`atr_add`)."""

    __slots__ = ("_n", "_st")

    def __init__(self, n: int) -> None:
        require_period("atr period", n)
        self._n = n
        self._st = np.empty(ATR_SIZE)
        atr_reset(self._st, 0)

    @property
    def ready(self) -> bool:
        """True after n + 1 bars."""
        return bool(self._st[1] >= self._n)

    @property
    def value(self) -> float:
        """The ATR, or ``nan`` while warming up."""
        return float(self._st[3])

    def update(self, high: float, low: float, close: float) -> float:
        """Add one bar and return the ATR (``nan`` while warming up)."""
        if not valid_bar(high, low, close):
            check_bar(high, low, close)
        return float(atr_add(self._st, 0, high, low, close, self._n))
