"""Hand-built sessions for the regime tests."""

from __future__ import annotations

import datetime as dt

import numpy as np

from scalper.regime.daily import MINUTE_NS, DailyStats, SessionBars, summarise
from scalper.regime.store import session_bounds

DAYS = [d for d, _, _ in session_bounds(dt.date(2025, 1, 2), dt.date(2025, 3, 31))]


def session(
    day: dt.date, closes: list[float] | np.ndarray, *, wick: float = 0.0, volume: float | None = None
) -> SessionBars:
    """Minute bars following ``closes`` (one per minute from the open); each bar opens at the previous close."""
    bounds = {d: (o, c) for d, o, c in session_bounds(day, day)}
    open_ns, close_ns = bounds[day]
    c = np.asarray(closes, dtype=np.float64)
    n = c.size
    o = np.concatenate(([c[0]], c[:-1]))
    return SessionBars(
        symbol="I:SPX",
        day=day,
        open_ns=open_ns,
        close_ns=close_ns,
        ts_ns=open_ns + np.arange(n, dtype=np.int64) * MINUTE_NS,
        open=o,
        high=np.maximum(o, c) + wick,
        low=np.minimum(o, c) - wick,
        close=c,
        volume=np.full(n, np.nan if volume is None else volume),
    )


def path(points: list[tuple[int, float]], minutes: int = 390) -> np.ndarray:
    """A piecewise-linear close path through (minute, level) points."""
    xs, ys = zip(*points, strict=True)
    return np.interp(np.arange(minutes), xs, ys)


def quiet_history(count: int = 25, width: float = 10.0) -> list[DailyStats]:
    """``count`` balanced sessions whose range is ``width`` (a sine around 100)."""
    out = []
    for day in DAYS[:count]:
        closes = 100.0 + 0.5 * width * np.sin(np.linspace(0.0, 6 * np.pi, 390))
        out.append(summarise(session(day, closes)))
    return out
