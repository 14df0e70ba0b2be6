"""Statistics of trades by segment: per play, per regime of the day, per time of day (pure).

:func:`excursion` measures a trade's maximum adverse and favourable excursions (MAE, MFE) from
the traded symbol's one-second bars between its entry and its exit: in dollars for the whole
position, MAE ≤ 0 ≤ MFE. :func:`by_segment` groups round trips by a key and computes, for each
group: trades, win rate, expectancy with its day-block bootstrap interval (when the group spans
enough trades), total PnL, PnL quantiles, median holding time, mean slippage against the
decision price, mean MAE/MFE, and the group's largest drawdown in trade order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from scalper.backtest.stats import ExpectancyCI, expectancy_ci, max_drawdown
from scalper.backtest.trades import RoundTrip
from scalper.core.errors import DataError
from scalper.core.timeutil import NEW_YORK, ns_to_datetime

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: fewer trades than this: no bootstrap interval (it would mean little)
MIN_TRADES_FOR_CI = 5


@dataclass(frozen=True, kw_only=True, slots=True)
class Excursion:
    """Worst and best open PnL of a trade while it was open (dollars, whole position)."""

    mae: float
    mfe: float


def excursion(trip: RoundTrip, ts: NDArray[np.int64], high: NDArray[np.float64], low: NDArray[np.float64]) -> Excursion:
    """MAE/MFE of ``trip`` from bars (window starts ``ts``, sorted) of its symbol: the bars that
    started from the entry's second to before the exit, at the volume-weighted entry price."""
    i, j = np.searchsorted(ts, [trip.entry_ts - trip.entry_ts % 1_000_000_000, trip.exit_ts])
    if j <= i:
        return Excursion(mae=min(0.0, trip.gross), mfe=max(0.0, trip.gross))
    d, shares = trip.direction, trip.shares
    best = float(high[i:j].max()) if d > 0 else float(low[i:j].min())
    worst = float(low[i:j].min()) if d > 0 else float(high[i:j].max())
    mae = min(0.0, d * (worst - trip.entry_price) * shares)
    mfe = max(0.0, d * (best - trip.entry_price) * shares)
    return Excursion(mae=mae, mfe=mfe)


@dataclass(frozen=True, kw_only=True, slots=True)
class Segment:
    key: str
    trades: int
    win_rate: float
    expectancy: float
    ci: ExpectancyCI | None
    total: float
    quantiles: tuple[float, ...]
    holding_median_s: float
    slippage_mean: float | None
    mae_mean: float | None
    mfe_mean: float | None
    max_drawdown: float


def time_of_day(trip: RoundTrip, minutes: int = 30) -> str:
    """The New York time bucket of the entry, e.g. ``10:00-10:30``."""
    t = ns_to_datetime(trip.entry_ts).astimezone(NEW_YORK)
    start = (t.hour * 60 + t.minute) // minutes * minutes
    end = start + minutes
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def regime_of(labels: Mapping[dt.date, str]) -> Callable[[RoundTrip], str]:
    """A key giving the day's regime label of a trade (``unlabelled`` when the day has none)."""
    return lambda trip: labels.get(trip.day, "unlabelled")


def by_segment(
    trips: Sequence[RoundTrip],
    key: Callable[[RoundTrip], str],
    *,
    excursions: Mapping[str, Excursion] | None = None,
    seed: int = 0,
) -> list[Segment]:
    """One :class:`Segment` per key value, in key order."""
    groups: dict[str, list[RoundTrip]] = {}
    for trip in trips:
        groups.setdefault(key(trip), []).append(trip)
    return [_segment(k, groups[k], excursions or {}, seed) for k in sorted(groups)]


def _segment(name: str, trips: list[RoundTrip], excursions: Mapping[str, Excursion], seed: int) -> Segment:
    if not trips:
        raise DataError(f"segment {name}: no trade")
    trips = sorted(trips, key=lambda t: (t.exit_ts, t.signal_id))
    pnl = np.array([t.pnl for t in trips])
    slips = [t.slippage for t in trips if t.slippage is not None]
    marks = [excursions[t.signal_id] for t in trips if t.signal_id in excursions]
    ci = expectancy_ci(trips, seed=seed) if len(trips) >= MIN_TRADES_FOR_CI else None
    return Segment(
        key=name,
        trades=len(trips),
        win_rate=float(np.mean(pnl > 0)),
        expectancy=float(pnl.mean()),
        ci=ci,
        total=float(pnl.sum()),
        quantiles=tuple(float(q) for q in np.quantile(pnl, QUANTILES)),
        holding_median_s=float(np.median([t.holding_s for t in trips])),
        slippage_mean=float(np.mean(slips)) if slips else None,
        mae_mean=float(np.mean([m.mae for m in marks])) if marks else None,
        mfe_mean=float(np.mean([m.mfe for m in marks])) if marks else None,
        max_drawdown=max_drawdown(np.concatenate(([0.0], np.cumsum(pnl)))).depth,
    )
