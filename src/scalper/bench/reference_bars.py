"""The reference replay workload's bars: deterministic one-second OHLCV bars of one index-like symbol.

Regular sessions (09:30–16:00 at a fixed UTC−5 offset: the workload ignores daylight saving on
purpose), 23,400 bars a day, weekdays from 2024-01-02. ``days=43`` gives the 1,006,200 bars of the
benchmark; the same ``days`` and ``seed`` always give byte-identical arrays (the published
workload's generator, reproduced here so the benchmark needs nothing outside the project).

Per session: a log-normal daily volatility, a small drift (trend or balanced day), Student-t(5)
returns scaled by a U-shaped intraday profile, wicks from half-normal draws, gamma volumes with the
same profile; prices rounded to cents with OHLC kept consistent; an overnight gap between sessions.

The reference strategy on these bars (:func:`ema_cross_reference`): EMA(30) and EMA(120) of the
close, ``alpha = 2 / (span + 1)``, seeded with the first close; from bar 120 on, at each bar's
close, go long when fast > slow and short when fast < slow (always in the market after the first
signal), one market order for the difference, filled at the **next** bar's open, no costs; PnL =
realised + the open position at the last close. Known answer for 43 days: 10,427 fills, PnL 123.59.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from numpy.typing import NDArray

SESSION_SECONDS = 23_400
UTC_OFFSET_HOURS = 5  # 09:30 New York as 14:30 UTC on every day (fixed offset)
FIRST_DAY = dt.date(2024, 1, 2)
COLUMNS = ("ts_ns", "open", "high", "low", "close", "volume")


def session_opens(days: int) -> list[int]:
    """UTC ns of 09:30 of the first ``days`` weekdays from :data:`FIRST_DAY`."""
    opens: list[int] = []
    day = FIRST_DAY
    while len(opens) < days:
        if day.weekday() < 5:
            at = dt.datetime.combine(day, dt.time(9 + UTC_OFFSET_HOURS, 30), dt.UTC)
            opens.append(int(at.timestamp()) * 1_000_000_000)
        day += dt.timedelta(days=1)
    return opens


def make_bars(days: int = 43, seed: int = 7, start_price: float = 4750.0) -> dict[str, NDArray[np.generic]]:
    """Column arrays (:data:`COLUMNS`) of ``days`` sessions of one-second bars."""
    rng = np.random.default_rng(seed)
    t = np.arange(SESSION_SECONDS, dtype=np.float64)
    profile = 1.0 + 1.5 * np.exp(-t / 1800.0) + 0.7 * np.exp(-(SESSION_SECONDS - t) / 1800.0)
    parts: dict[str, list[NDArray[np.generic]]] = {name: [] for name in COLUMNS}
    price = start_price
    for open_ns in session_opens(days):
        # the order of the draws is part of the definition: it fixes every value
        vol = 0.00003 * rng.lognormal(0.0, 0.3)
        drift = rng.normal(0.0, 1.0) * vol * 0.008
        returns = drift + vol * profile * rng.standard_t(5, SESSION_SECONDS) / np.sqrt(5 / 3)
        close = price * np.exp(np.cumsum(returns))
        open_ = np.concatenate(([price], close[:-1]))
        wicks = np.abs(rng.normal(0.0, 1.0, (2, SESSION_SECONDS))) * vol * profile * close * 0.5
        high = np.maximum(open_, close) + wicks[0]
        low = np.minimum(open_, close) - wicks[1]
        volume = np.round(rng.gamma(2.0, 400.0 * profile)).astype(np.int64) + 1
        parts["ts_ns"].append(open_ns + t.astype(np.int64) * 1_000_000_000)
        parts["open"].append(np.round(open_, 2))
        parts["high"].append(np.round(high, 2))
        parts["low"].append(np.round(low, 2))
        parts["close"].append(np.round(close, 2))
        parts["volume"].append(volume)
        price = float(close[-1]) * np.exp(rng.normal(0.0, 0.004))
    bars = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    bars["high"] = np.maximum.reduce([bars["high"], bars["open"], bars["close"]])
    bars["low"] = np.minimum.reduce([bars["low"], bars["open"], bars["close"]])
    return bars


def ema_cross_reference(opens: NDArray[np.float64], closes: NDArray[np.float64]) -> tuple[int, int, int, float]:
    """The reference strategy by a plain loop: (fills, units traded, final position, PnL).

    An independent statement of the known answer, not the engine: the benchmark runs the strategy
    through scalper's order management and simulated broker and must agree with this.
    """
    a_fast, a_slow = 2.0 / 31.0, 2.0 / 121.0
    fast = slow = float(closes[0])
    position = 0
    cash = 0.0
    fills = units = 0
    pending = 0  # order to fill at the next bar's open
    n = len(closes)
    for i in range(n):
        if pending:
            cash -= pending * float(opens[i])
            position += pending
            fills += 1
            units += abs(pending)
            pending = 0
        c = float(closes[i])
        if i > 0:
            fast = a_fast * c + (1.0 - a_fast) * fast
            slow = a_slow * c + (1.0 - a_slow) * slow
        if i >= 120 and i < n - 1:
            target = 1 if fast > slow else -1 if fast < slow else position
            if target != position:
                pending = target - position
    pnl = cash + position * float(closes[-1])
    return fills, units, position, pnl
