"""One session's minute bars and the per-session summary the regime code builds on (pure numpy).

Conventions: times are integer nanoseconds UTC; a minute bar stamped ``ts`` covers
``[ts, ts + 1 min)`` and is *complete* at ``ts + 1 min``. A session is the XNYS regular session
``[open_ns, close_ns)`` from the calendar (early closes included); the "minute offset" of a bar
is ``(ts - open_ns) // 1 min``. Volume is NaN where the symbol has none (the indices).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from scalper.core.errors import DataError

MINUTE_NS = 60_000_000_000
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionBars:
    """The one-minute bars of one symbol in one regular session, in time order."""

    symbol: str
    day: dt.date
    open_ns: int
    close_ns: int
    ts_ns: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64

    def __post_init__(self) -> None:
        n = self.ts_ns.size
        for name in ("open", "high", "low", "close", "volume"):
            if getattr(self, name).shape != (n,):
                raise DataError(
                    f"{self.symbol} {self.day}: column {name} has shape {getattr(self, name).shape}, ts {n}"
                )
        if n and (self.ts_ns[0] < self.open_ns or self.ts_ns[-1] >= self.close_ns):
            raise DataError(f"{self.symbol} {self.day}: bars outside the session [open, close)")
        if n > 1 and not bool(np.all(np.diff(self.ts_ns) > 0)):
            raise DataError(f"{self.symbol} {self.day}: bar timestamps are not strictly increasing")

    @property
    def minutes(self) -> int:
        """Length of the session in minutes (390, or 210 on an early close)."""
        return (self.close_ns - self.open_ns) // MINUTE_NS

    def complete_by(self, ts_ns: int) -> SessionBars:
        """The bars complete at ``ts_ns`` (``ts + 1 min <= ts_ns``): what is known at that time."""
        keep = int(np.searchsorted(self.ts_ns, ts_ns - MINUTE_NS, side="right"))
        return SessionBars(
            symbol=self.symbol,
            day=self.day,
            open_ns=self.open_ns,
            close_ns=self.close_ns,
            ts_ns=self.ts_ns[:keep],
            open=self.open[:keep],
            high=self.high[:keep],
            low=self.low[:keep],
            close=self.close[:keep],
            volume=self.volume[:keep],
        )

    def offsets(self) -> I64:
        """Minute offset of each bar from the open."""
        result: I64 = (self.ts_ns - self.open_ns) // MINUTE_NS
        return result


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionRules:
    """What a finished session must look like before it is summarised.

    ``min_coverage``: share of the session's minutes that must have a bar; ``max_edge_minutes``:
    the first bar must start within this many minutes of the open and the last end within this
    many minutes of the close (otherwise the session's open or close would be wrong).
    """

    min_coverage: float = 0.9
    max_edge_minutes: int = 5


@dataclass(frozen=True, kw_only=True, slots=True)
class DailyStats:
    """Summary of a finished session: OHLC and per-minute-offset running extremes and volume.

    ``run_high[k]``/``run_low[k]`` are the extremes of the bars with offset <= k (so the range of
    the first m minutes is ``run_high[m-1] - run_low[m-1]``); ``cum_volume[k]`` the volume of
    those bars (NaN when the symbol has no volume).
    """

    symbol: str
    day: dt.date
    open: float
    high: float
    low: float
    close: float
    bars: int
    run_high: F64
    run_low: F64
    cum_volume: F64

    @property
    def range(self) -> float:
        return self.high - self.low

    def opening_range(self, minutes: int) -> float:
        """Width of the range of the first ``minutes`` minutes."""
        return float(self.run_high[minutes - 1] - self.run_low[minutes - 1])


def running_extremes(bars: SessionBars) -> tuple[F64, F64, F64]:
    """(run_high, run_low, cum_volume) by minute offset over the whole session length.

    Offsets without a bar carry the previous values; before the first bar they are NaN.
    """
    n = bars.minutes
    off = bars.offsets()
    hi = np.full(n, -np.inf)
    lo = np.full(n, np.inf)
    vol = np.zeros(n)
    hi[off], lo[off] = bars.high, bars.low
    vol[off] = np.nan_to_num(bars.volume, nan=0.0)
    run_high = np.maximum.accumulate(hi)
    run_low = np.minimum.accumulate(lo)
    started = np.isfinite(run_high)
    run_high = np.where(started, run_high, np.nan)
    run_low = np.where(started, run_low, np.nan)
    has_volume = bars.volume.size > 0 and bool(np.all(np.isfinite(bars.volume)))
    cum = np.cumsum(vol) if has_volume else np.full(n, np.nan)
    return run_high, run_low, cum


def summarise(bars: SessionBars, rules: SessionRules | None = None) -> DailyStats:
    """Summarise a finished session; raises DataError naming the symbol, day and the defect."""
    r = rules or SessionRules()
    where = f"{bars.symbol} {bars.day}"
    n = bars.ts_ns.size
    if n == 0:
        raise DataError(f"{where}: no minute bars stored for the session")
    if n < r.min_coverage * bars.minutes:
        raise DataError(
            f"{where}: incomplete session: {n} of {bars.minutes} minute bars (expected >= {r.min_coverage:.0%})"
        )
    off = bars.offsets()
    if off[0] > r.max_edge_minutes or off[-1] < bars.minutes - 1 - r.max_edge_minutes:
        raise DataError(
            f"{where}: bars start {off[0]} min after the open / end {bars.minutes - 1 - off[-1]} min before the close"
        )
    high, low = float(bars.high.max()), float(bars.low.min())
    if not high - low > 0:
        raise DataError(f"{where}: non-positive day range (high {high}, low {low})")
    run_high, run_low, cum = running_extremes(bars)
    return DailyStats(
        symbol=bars.symbol,
        day=bars.day,
        open=float(bars.open[0]),
        high=high,
        low=low,
        close=float(bars.close[-1]),
        bars=n,
        run_high=run_high,
        run_low=run_low,
        cum_volume=cum,
    )


def true_ranges(prior: Sequence[DailyStats]) -> F64:
    """True range of each session after the first: max(H, C_prev) - min(L, C_prev)."""
    high = np.array([s.high for s in prior[1:]])
    low = np.array([s.low for s in prior[1:]])
    prev = np.array([s.close for s in prior[:-1]])
    tr: F64 = np.maximum(high, prev) - np.minimum(low, prev)
    return tr


def atr(prior: Sequence[DailyStats], period: int = 14) -> float | None:
    """Simple mean of the last ``period`` daily true ranges (needs ``period + 1`` sessions), else None."""
    if len(prior) < period + 1:
        return None
    return float(np.mean(true_ranges(prior[-(period + 1) :])))
