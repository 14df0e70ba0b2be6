"""IV rank and IV percentile over a daily implied-volatility series.

The series is one value per session, oldest first, the last value being today's (the intended
series is the daily 30-day at-the-money implied volatility; any positive daily vol series works).
Missing days are NaN. With a window of ``n`` sessions (default 252) ending today, today included:

* IV rank       = 100 · (IV_today − min_window) / (max_window − min_window), in [0, 100];
* IV percentile = 100 · #{the other n − 1 values strictly below IV_today} / (number of those
  values that are present), in [0, 100].

Not ready (``None`` with the reason) while the window holds fewer than ``min_valid`` present
values (default: all ``n``), when today's value is missing, or (rank only) when the window is flat.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalper.core.errors import DataError

WINDOW = 252


@dataclass(frozen=True, kw_only=True, slots=True)
class IvStanding:
    """Today's IV rank and percentile (both 0–100), or ``None`` each with ``reason`` when not ready."""

    rank: float | None
    percentile: float | None
    present: int
    reason: str | None = None


def _array(values: Sequence[float] | np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise DataError(f"IV series: expected a one-dimensional series, was shape {x.shape}")
    bad = np.isinf(x) | (x < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"IV series: value {x[i]!r} at index {i} is invalid: expected a finite IV ≥ 0 or NaN")
    return x


def iv_standing(
    values: Sequence[float] | np.ndarray[Any, Any], *, window: int = WINDOW, min_valid: int | None = None
) -> IvStanding:
    """Rank and percentile of the last value of ``values`` within its trailing ``window``."""
    if window < 2:
        raise DataError(f"IV window: value {window} is invalid: expected at least 2 sessions")
    need = window if min_valid is None else min_valid
    if not 2 <= need <= window:
        raise DataError(f"IV min_valid: value {need} is invalid: expected 2 ≤ min_valid ≤ window ({window})")
    x = _array(values)[-window:]
    present = int(np.count_nonzero(~np.isnan(x)))
    if x.size == 0 or math.isnan(x[-1]):
        return IvStanding(rank=None, percentile=None, present=present, reason="today's IV is missing")
    if present < need:
        return IvStanding(
            rank=None, percentile=None, present=present, reason=f"warming up: {present} of {need} sessions present"
        )
    today = float(x[-1])
    prior = x[:-1][~np.isnan(x[:-1])]
    percentile = 100.0 * float(np.count_nonzero(prior < today)) / prior.size
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    if hi == lo:
        return IvStanding(rank=None, percentile=percentile, present=present, reason="flat window: max equals min")
    rank = min(100.0, max(0.0, 100.0 * (today - lo) / (hi - lo)))
    return IvStanding(rank=rank, percentile=percentile, present=present)


def iv_standing_series(
    values: Sequence[float] | np.ndarray[Any, Any], *, window: int = WINDOW, min_valid: int | None = None
) -> tuple[np.ndarray[Any, np.dtype[np.float64]], np.ndarray[Any, np.dtype[np.float64]]]:
    """(rank, percentile) for every day of ``values`` as if each were today; NaN where not ready."""
    x = _array(values)
    rank = np.full(x.size, np.nan)
    pct = np.full(x.size, np.nan)
    for i in range(x.size):
        s = iv_standing(x[: i + 1], window=window, min_valid=min_valid)
        rank[i] = np.nan if s.rank is None else s.rank
        pct[i] = np.nan if s.percentile is None else s.percentile
    return rank, pct
