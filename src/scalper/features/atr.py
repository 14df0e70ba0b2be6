"""Wilder's average true range (ATR), and the Wilder smoothing shared with :mod:`.adx`.

Conventions (Wilder 1978, as in TA-Lib's ATR):

* The first bar only supplies the previous close: true range starts at the second bar,
  ``TR = max(H − L, |H − C_prev|, |L − C_prev|)``.
* Wilder smoothing with period n: seed = simple mean of the first n values, then
  ``A_t = A_{t−1} + (x_t − A_{t−1}) / n`` (an EMA with α = 1/n). ATR is ready after n + 1 bars.

Before it is ready a value reads ``nan``.
"""

from __future__ import annotations

import math

from scalper.core.errors import InvariantError
from scalper.features._checks import require_price
from scalper.features.ema import Ema

_NAN = math.nan


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


class Atr:
    """Wilder ATR(n) over (high, low, close) bars."""

    __slots__ = ("_prev_close", "_smooth")

    def __init__(self, n: int) -> None:
        self._smooth = Wilder(n)
        self._prev_close = _NAN

    @property
    def ready(self) -> bool:
        """True after n + 1 bars."""
        return self._smooth.ready

    @property
    def value(self) -> float:
        """The ATR, or ``nan`` while warming up."""
        return self._smooth.value

    def update(self, high: float, low: float, close: float) -> float:
        """Add one bar and return the ATR (``nan`` while warming up)."""
        if not valid_bar(high, low, close):
            check_bar(high, low, close)
        prev = self._prev_close
        self._prev_close = close
        if prev != prev:  # first bar: nan previous close, no true range yet
            return _NAN
        tr = max(high - low, abs(high - prev), abs(low - prev))
        return self._smooth.update(tr)
