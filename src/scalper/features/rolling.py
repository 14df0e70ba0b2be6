"""Rolling-window mean, population σ and sum over the last n inputs, O(1) per update.

Bollinger bands use the mean and the *population* standard deviation of the last n closes (TA-Lib's
``BBANDS`` with ``matype=0``: SMA middle, ``STDDEV`` population). The window statistics are kept by
the sliding Welford update (add the new value, remove the one leaving the window)::

    μ' = μ + (x_new − x_old)/n;   M2 += (x_new − x_old)·(x_new − μ' + x_old − μ)

and rebuilt exactly from the ring (two passes) once every n updates, so rounding drift is bounded.
Before n inputs both read ``nan``. The rolling sum (realised variance over a window) follows the
same ring-and-rebuild pattern.

State layouts: window stats ``window_size(n)`` slots (count, position, μ, M2, updates since the
rebuild, ring of n); rolling sum ``window_size(n)`` slots (count, position, sum, unused, updates
since the rebuild, ring of n).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from scalper.features._jit import kernel

_NAN = math.nan
_HEAD = 5


def window_size(n: int) -> int:
    """Slots taken by a window of n values."""
    return _HEAD + n


@kernel
def window_reset(st: NDArray[np.float64], o: int) -> None:
    """Forget everything."""
    for i in range(_HEAD):
        st[o + i] = 0.0


@kernel
def _rebuild_stats(st: NDArray[np.float64], o: int, n: int) -> None:
    ring = o + _HEAD
    total = 0.0
    for i in range(n):
        total += st[ring + i]
    mean = total / n
    m2 = 0.0
    for i in range(n):
        d = st[ring + i] - mean
        m2 += d * d
    st[o + 2] = mean
    st[o + 3] = m2
    st[o + 4] = 0.0


@kernel
def stats_add(st: NDArray[np.float64], o: int, x: float, n: int) -> None:
    """Add one value to the window statistics at ``o`` (window n)."""
    ring, pos = o + _HEAD, int(st[o + 1])
    st[o + 1] = pos + 1 if pos + 1 < n else 0
    if st[o] < n:
        count = st[o] + 1.0
        st[o] = count
        st[ring + pos] = x
        delta = x - st[o + 2]
        st[o + 2] += delta / count
        st[o + 3] += delta * (x - st[o + 2])
        return
    old = st[ring + pos]
    st[ring + pos] = x
    mean = st[o + 2]
    new_mean = mean + (x - old) / n
    st[o + 2] = new_mean
    st[o + 3] += (x - old) * (x - new_mean + old - mean)
    st[o + 4] += 1.0
    if st[o + 4] >= n:
        _rebuild_stats(st, o, n)


@kernel
def stats_mean(st: NDArray[np.float64], o: int, n: int) -> float:
    """The window mean, ``nan`` before n values."""
    return st[o + 2] if st[o] >= n else _NAN


@kernel
def stats_std(st: NDArray[np.float64], o: int, n: int) -> float:
    """The window's population σ, ``nan`` before n values."""
    return math.sqrt(max(st[o + 3], 0.0) / n) if st[o] >= n else _NAN


@kernel
def sum_add(st: NDArray[np.float64], o: int, x: float, n: int) -> float:
    """Add one value to the rolling sum at ``o`` (window n); returns the sum (``nan`` before n values)."""
    ring, pos = o + _HEAD, int(st[o + 1])
    st[o + 1] = pos + 1 if pos + 1 < n else 0
    if st[o] < n:
        st[o] += 1.0
        st[ring + pos] = x
        st[o + 2] += x
        return st[o + 2] if st[o] >= n else _NAN
    st[o + 2] += x - st[ring + pos]
    st[ring + pos] = x
    st[o + 4] += 1.0
    if st[o + 4] >= n:
        total = 0.0
        for i in range(n):
            total += st[ring + i]
        st[o + 2] = total
        st[o + 4] = 0.0
    return st[o + 2]


@kernel
def sum_value(st: NDArray[np.float64], o: int, n: int) -> float:
    """The rolling sum, ``nan`` before n values."""
    return st[o + 2] if st[o] >= n else _NAN
