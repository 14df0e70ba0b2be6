"""Wilder's directional movement: +DI, −DI and ADX.

Conventions (TA-Lib's PLUS_DI/MINUS_DI/ADX, the project's reference library for indicators):

* The first bar only supplies previous high/low/close; from the second bar on
  ``TR = max(H − L, |H − C_prev|, |L − C_prev|)``, ``up = H − H_prev``, ``down = L_prev − L``,
  ``+DM = up`` if ``up > down and up > 0`` else 0, ``−DM = down`` if ``down > up and down > 0`` else 0.
* TR, +DM and −DM are kept as Wilder running sums: the plain sum of the first n − 1 values, then
  ``S = S − S/n + x`` from the n-th value on. (Wilder's book seeds with the plain sum of the first
  n; TA-Lib's seed differs early on and the difference decays as (1 − 1/n)^t.)
  ``+DI = 100·+DM~/TR~``, ``−DI = 100·−DM~/TR~``, ready after n + 1 bars; both 0 when TR~ = 0.
* ``DX = 100·|+DI − −DI| / (+DI + −DI)``, 0 when both DIs are 0; ADX = Wilder smoothing of DX
  seeded with the mean of the first n DX values, so the first ADX comes after 2n bars.

Before it is ready a value reads ``nan``. State (:data:`ADX_SIZE` slots): previous high, low,
close, +DI, −DI, then three Wilder sums (count, sum) for TR, +DM, −DM, then the ADX Wilder EMA.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from scalper.features._checks import require_period
from scalper.features._jit import kernel
from scalper.features.atr import check_bar, true_range, valid_bar
from scalper.features.ema import EMA_SIZE, ema_add, ema_reset

_NAN = math.nan
_SUMS = 5  # offset of the three Wilder sums
_ADX = _SUMS + 6  # offset of the ADX smoothing
ADX_SIZE = _ADX + EMA_SIZE


@kernel
def wilder_sum_add(st: NDArray[np.float64], o: int, x: float, n: int) -> float:
    """TA-Lib's Wilder running sum at ``o`` (count, sum): plain sum of n − 1 inputs, then ``S − S/n + x``."""
    if st[o] < n - 1:
        st[o] += 1.0
        st[o + 1] += x
        return _NAN
    if st[o] < n:
        st[o] += 1.0
    total = st[o + 1] + (x - st[o + 1] / n)
    st[o + 1] = total
    return total


@kernel
def adx_reset(st: NDArray[np.float64], o: int) -> None:
    """Forget everything."""
    for i in range(5):
        st[o + i] = _NAN
    for i in range(6):
        st[o + _SUMS + i] = 0.0
    ema_reset(st, o + _ADX)


@kernel
def adx_add(st: NDArray[np.float64], o: int, high: float, low: float, close: float, n: int) -> float:
    """Add one bar to the ADX(n) at ``o``; returns ADX (``nan`` while warming up)."""
    ph, pl, pc = st[o], st[o + 1], st[o + 2]
    st[o], st[o + 1], st[o + 2] = high, low, close
    if pc != pc:  # first bar: nothing to compare with yet
        return _NAN
    up, down = high - ph, pl - low
    tr = wilder_sum_add(st, o + _SUMS, true_range(high, low, pc), n)
    pdm = wilder_sum_add(st, o + _SUMS + 2, up if up > down and up > 0.0 else 0.0, n)
    mdm = wilder_sum_add(st, o + _SUMS + 4, down if down > up and down > 0.0 else 0.0, n)
    if tr != tr:
        return _NAN
    plus_di = 100.0 * pdm / tr if tr > 0.0 else 0.0
    minus_di = 100.0 * mdm / tr if tr > 0.0 else 0.0
    st[o + 3], st[o + 4] = plus_di, minus_di
    total = plus_di + minus_di
    dx = 100.0 * abs(plus_di - minus_di) / total if total > 0.0 else 0.0
    return ema_add(st, o + _ADX, dx, n, 1.0 / n)


@kernel
def adx_values(st: NDArray[np.float64], o: int) -> tuple[float, float, float]:
    """(+DI, −DI, ADX) at ``o``, each ``nan`` while warming up."""
    return st[o + 3], st[o + 4], st[o + _ADX + 2]


class Adx:
    """Wilder +DI(n), −DI(n) and ADX(n) over (high, low, close) bars (a checked wrapper of :func:`adx_add`)."""

    __slots__ = ("_n", "_st")

    def __init__(self, n: int) -> None:
        require_period("adx period", n)
        self._n = n
        self._st = np.empty(ADX_SIZE)
        adx_reset(self._st, 0)

    @property
    def ready(self) -> bool:
        """True once ADX has a value (after 2n bars)."""
        return bool(self._st[_ADX] >= self._n)

    @property
    def di_ready(self) -> bool:
        """True once +DI and −DI have values (after n + 1 bars)."""
        return bool(self._st[_SUMS] >= self._n)

    @property
    def plus_di(self) -> float:
        """+DI, or ``nan`` while warming up."""
        return float(self._st[3])

    @property
    def minus_di(self) -> float:
        """−DI, or ``nan`` while warming up."""
        return float(self._st[4])

    @property
    def value(self) -> float:
        """ADX, or ``nan`` while warming up."""
        return float(self._st[_ADX + 2])

    def update(self, high: float, low: float, close: float) -> float:
        """Add one bar and return the ADX (``nan`` while warming up)."""
        if not valid_bar(high, low, close):
            check_bar(high, low, close)
        return float(adx_add(self._st, 0, high, low, close, self._n))
