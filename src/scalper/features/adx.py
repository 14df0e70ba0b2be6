"""Wilder's directional movement: +DI, −DI and ADX.

Conventions (TA-Lib's PLUS_DI/MINUS_DI/ADX, the project's reference library for indicators):

* The first bar only supplies previous high/low/close; from the second bar on
  ``TR = max(H − L, |H − C_prev|, |L − C_prev|)``, ``up = H − H_prev``, ``down = L_prev − L``,
  ``+DM = up`` if ``up > down and up > 0`` else 0, ``−DM = down`` if ``down > up and down > 0`` else 0.
* TR, +DM and −DM are kept as Wilder running sums (:class:`WilderSum`): the plain sum of the first
  n − 1 values, then ``S = S − S/n + x`` from the n-th value on. (Wilder's book seeds with the plain
  sum of the first n; TA-Lib's seed differs early on and the difference decays as (1 − 1/n)^t.)
  ``+DI = 100·+DM~/TR~``, ``−DI = 100·−DM~/TR~``, ready after n + 1 bars; both 0 when TR~ = 0.
* ``DX = 100·|+DI − −DI| / (+DI + −DI)``, 0 when both DIs are 0; ADX = Wilder smoothing of DX
  seeded with the mean of the first n DX values, so the first ADX comes after 2n bars.

Before it is ready a value reads ``nan``.
"""

from __future__ import annotations

import math

from scalper.features._checks import require_period
from scalper.features.atr import Wilder, check_bar, valid_bar

_NAN = math.nan


class WilderSum:
    """Wilder's running sum as TA-Lib keeps it: sum of the first n − 1 inputs, then ``S = S − S/n + x``."""

    __slots__ = ("_count", "_n", "_sum")

    def __init__(self, n: int) -> None:
        require_period("wilder period", n)
        self._n = n
        self._count = 0
        self._sum = 0.0

    @property
    def ready(self) -> bool:
        """True once n inputs have been seen."""
        return self._count >= self._n

    def update(self, x: float) -> float:
        """Add one input (finite: derived from checked bars) and return the running sum (``nan`` before the n-th)."""
        if self._count < self._n - 1:
            self._count += 1
            self._sum += x
            return _NAN
        if self._count < self._n:
            self._count += 1
        self._sum += x - self._sum / self._n
        return self._sum


class Adx:
    """Wilder +DI(n), −DI(n) and ADX(n) over (high, low, close) bars."""

    __slots__ = ("_adx", "_mdm", "_minus_di", "_pdm", "_plus_di", "_prev_close", "_prev_high", "_prev_low", "_tr")

    def __init__(self, n: int) -> None:
        self._tr = WilderSum(n)
        self._pdm = WilderSum(n)
        self._mdm = WilderSum(n)
        self._adx = Wilder(n)
        self._prev_high = _NAN
        self._prev_low = _NAN
        self._prev_close = _NAN
        self._plus_di = _NAN
        self._minus_di = _NAN

    @property
    def ready(self) -> bool:
        """True once ADX has a value (after 2n bars)."""
        return self._adx.ready

    @property
    def di_ready(self) -> bool:
        """True once +DI and −DI have values (after n + 1 bars)."""
        return self._tr.ready

    @property
    def plus_di(self) -> float:
        """+DI, or ``nan`` while warming up."""
        return self._plus_di

    @property
    def minus_di(self) -> float:
        """−DI, or ``nan`` while warming up."""
        return self._minus_di

    @property
    def value(self) -> float:
        """ADX, or ``nan`` while warming up."""
        return self._adx.value

    def update(self, high: float, low: float, close: float) -> float:
        """Add one bar and return the ADX (``nan`` while warming up)."""
        if not valid_bar(high, low, close):
            check_bar(high, low, close)
        ph, pl, pc = self._prev_high, self._prev_low, self._prev_close
        self._prev_high, self._prev_low, self._prev_close = high, low, close
        if pc != pc:  # first bar: nothing to compare with yet
            return _NAN
        up, down = high - ph, pl - low
        tr = self._tr.update(max(high - low, abs(high - pc), abs(low - pc)))
        pdm = self._pdm.update(up if up > down and up > 0.0 else 0.0)
        mdm = self._mdm.update(down if down > up and down > 0.0 else 0.0)
        if tr != tr:
            return _NAN
        plus_di = 100.0 * pdm / tr if tr > 0.0 else 0.0
        minus_di = 100.0 * mdm / tr if tr > 0.0 else 0.0
        self._plus_di, self._minus_di = plus_di, minus_di
        total = plus_di + minus_di
        dx = 100.0 * abs(plus_di - minus_di) / total if total > 0.0 else 0.0
        return self._adx.update(dx)
