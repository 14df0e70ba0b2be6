"""Exact, vectorised bars from trades and from index values (pure numpy, no I/O).

Both the live path and the flat-file backfill build their one-second bars with these functions,
so the two can never disagree. Rules (all times integer nanoseconds UTC):

* A window is ``[origin + k*window_ns, origin + (k+1)*window_ns)``; one-second bars use
  ``origin = 0``, so windows start on whole UTC seconds. ``start_ns`` is the window start.
* Within a (symbol, window), trades are ordered by timestamp, ties by input position.
* Trade conditions follow :mod:`scalper.marketdata.conditions` (consolidated rules):
  high/low over trades that update high/low; open/close are the first/last trade that updates
  open/close, falling back to the first/last high/low trade when the window has none (late
  reports alone); volume, VWAP over trades that update volume; ``transactions`` counts the
  trades that update price or volume. A bar exists only if the window holds at least one
  price-eligible (high/low) trade: no bar for a window of volume-only trades (odd lots) -- as
  the feed sends none. Their volume still counts in any longer window that has a bar.
* Sums run sequentially in that order (``np.bincount``), so results are bit-for-bit
  reproducible by a plain loop; ``vwap`` is NaN when the bar has no volume.
* Index values: a bar for each (symbol, window) with at least one value; open/close are the
  first/last value, high/low the extremes.

Outputs are sorted by (symbol, start_ns).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scalper.marketdata.conditions import HIGH_LOW, OPEN_CLOSE, VOLUME, eligibility_flags

SECOND_NS: Final = 1_000_000_000
MINUTE_NS: Final = 60 * SECOND_NS

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


@dataclass(frozen=True, kw_only=True, slots=True)
class ValueBars:
    """OHLC bars from index values, one row per (symbol, window), sorted by (symbol, start_ns)."""

    symbol: I64
    start_ns: I64
    window_ns: int
    open: F64
    high: F64
    low: F64
    close: F64

    def __len__(self) -> int:
        return int(self.start_ns.size)

    @property
    def end_ns(self) -> I64:
        """Exclusive window ends."""
        return self.start_ns + self.window_ns


@dataclass(frozen=True, kw_only=True, slots=True)
class TradeBars(ValueBars):
    """OHLCV + VWAP + trade count bars from trades, sorted by (symbol, start_ns)."""

    volume: F64
    vwap: F64
    transactions: I64


@dataclass(frozen=True, kw_only=True, slots=True)
class _Groups:
    """Rows in (symbol, window, ts, input) order and where each (symbol, window) group starts."""

    order: I64
    starts: I64
    gid: I64
    window: I64


def _check_inputs(n: int, window_ns: int, **arrays: NDArray[np.generic]) -> None:
    """Fail fast on shapes, the window, and non-finite numbers (corrupt data is worse than none)."""
    if window_ns <= 0:
        raise ValueError(f"window_ns: expected > 0, was {window_ns}")
    for name, array in arrays.items():
        if array.ndim != 1 or array.shape[0] != n:
            raise ValueError(f"{name}: expected a 1-D array of length {n}, was shape {array.shape}")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ValueError(f"{name}: expected finite numbers, found NaN or infinity")


def _group(symbol: I64, ts_ns: I64, window_ns: int, origin_ns: int, keep: NDArray[np.bool_]) -> _Groups:
    window = (ts_ns - origin_ns) // window_ns
    order = np.lexsort((np.arange(ts_ns.size), ts_ns, window, symbol))
    order = order[keep[order]]
    sym, win = symbol[order], window[order]
    boundary = np.ones(order.size, dtype=np.bool_)
    boundary[1:] = (sym[1:] != sym[:-1]) | (win[1:] != win[:-1])
    starts = np.flatnonzero(boundary)
    gid = np.cumsum(boundary) - 1
    return _Groups(order=order, starts=starts, gid=gid, window=win[starts] if starts.size else win[:0])


def values_to_bars(
    symbol: ArrayLike, ts_ns: ArrayLike, value: ArrayLike, *, window_ns: int, origin_ns: int = 0
) -> ValueBars:
    """OHLC per (symbol, window) from value ticks (e.g. ``I:SPX`` values)."""
    sym = np.asarray(symbol, dtype=np.int64)
    ts = np.asarray(ts_ns, dtype=np.int64)
    val = np.asarray(value, dtype=np.float64)
    _check_inputs(sym.size, window_ns, symbol=sym, ts_ns=ts, value=val)
    groups = _group(sym, ts, window_ns, origin_ns, np.ones(sym.size, dtype=np.bool_))
    sorted_val = val[groups.order]
    if groups.starts.size == 0:
        f, i = np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.int64)
        return ValueBars(symbol=i, start_ns=i, window_ns=window_ns, open=f, high=f, low=f, close=f)
    ends = np.append(groups.starts[1:], groups.order.size) - 1
    return ValueBars(
        symbol=sym[groups.order][groups.starts],
        start_ns=origin_ns + groups.window * window_ns,
        window_ns=window_ns,
        open=sorted_val[groups.starts],
        high=np.maximum.reduceat(sorted_val, groups.starts),
        low=np.minimum.reduceat(sorted_val, groups.starts),
        close=sorted_val[ends],
    )


def values_to_seconds(symbol: ArrayLike, ts_ns: ArrayLike, value: ArrayLike) -> ValueBars:
    """One-second OHLC per (symbol, second) from index value ticks; windows [s, s+1s)."""
    return values_to_bars(symbol, ts_ns, value, window_ns=SECOND_NS)


def _first_last(flag: NDArray[np.bool_], starts: I64) -> tuple[I64, I64]:
    """Per group, the position of the first and the last flagged row (-1 / size when none)."""
    pos = np.arange(flag.size, dtype=np.int64)
    first = np.minimum.reduceat(np.where(flag, pos, flag.size), starts)
    last = np.maximum.reduceat(np.where(flag, pos, -1), starts)
    return first, last


def trades_to_bars(
    symbol: ArrayLike,
    ts_ns: ArrayLike,
    price: ArrayLike,
    size: ArrayLike,
    conditions: ArrayLike,
    *,
    window_ns: int,
    origin_ns: int = 0,
) -> TradeBars:
    """OHLCV, VWAP and trade count per (symbol, window) from trades with conditions applied.

    ``conditions`` is the ``(n, k)`` matrix of condition ids padded with -1 (``k`` may be 0).
    """
    sym = np.asarray(symbol, dtype=np.int64)
    ts = np.asarray(ts_ns, dtype=np.int64)
    px = np.asarray(price, dtype=np.float64)
    qty = np.asarray(size, dtype=np.float64)
    _check_inputs(sym.size, window_ns, symbol=sym, ts_ns=ts, price=px, size=qty)
    flags = eligibility_flags(conditions)
    if flags.size != sym.size:
        raise ValueError(f"conditions: expected {sym.size} rows, was {flags.size}")
    hl, oc, vol = (flags & HIGH_LOW) != 0, (flags & OPEN_CLOSE) != 0, (flags & VOLUME) != 0
    groups = _group(sym, ts, window_ns, origin_ns, hl | vol)
    o = groups.order
    return _trade_bars(groups, sym[o], px[o], qty[o], hl[o], oc[o] & hl[o], vol[o], window_ns, origin_ns)


def _trade_bars(
    groups: _Groups,
    sym: I64,
    px: F64,
    qty: F64,
    hl: NDArray[np.bool_],
    oc: NDArray[np.bool_],
    vol: NDArray[np.bool_],
    window_ns: int,
    origin_ns: int,
) -> TradeBars:
    starts, gid = groups.starts, groups.gid
    if starts.size == 0:
        f, i = np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.int64)
        return TradeBars(
            symbol=i, start_ns=i, window_ns=window_ns, open=f, high=f, low=f, close=f, volume=f, vwap=f, transactions=i
        )
    count = starts.size
    first_oc, last_oc = _first_last(oc, starts)
    first_hl, last_hl = _first_last(hl, starts)
    has_price = last_hl >= 0
    open_at = np.where(last_oc >= 0, first_oc, first_hl)[has_price]
    close_at = np.where(last_oc >= 0, last_oc, last_hl)[has_price]
    volume: F64 = np.bincount(gid, weights=np.where(vol, qty, 0.0), minlength=count).astype(np.float64)
    notional: F64 = np.bincount(gid, weights=np.where(vol, px * qty, 0.0), minlength=count).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        vwap = np.where(volume > 0, notional / volume, np.nan)
    return TradeBars(
        symbol=sym[starts][has_price],
        start_ns=(origin_ns + groups.window * window_ns)[has_price],
        window_ns=window_ns,
        open=px[open_at],
        high=np.maximum.reduceat(np.where(hl, px, -np.inf), starts)[has_price],
        low=np.minimum.reduceat(np.where(hl, px, np.inf), starts)[has_price],
        close=px[close_at],
        volume=volume[has_price],
        vwap=vwap[has_price],
        transactions=np.bincount(gid, minlength=count).astype(np.int64)[has_price],
    )


def trades_to_seconds(
    symbol: ArrayLike, ts_ns: ArrayLike, price: ArrayLike, size: ArrayLike, conditions: ArrayLike
) -> TradeBars:
    """One-second OHLCV + VWAP + trade count per (symbol, second); windows [s, s+1s)."""
    return trades_to_bars(symbol, ts_ns, price, size, conditions, window_ns=SECOND_NS)


def quotes_to_seconds(
    symbol: NDArray[np.int64], ts_ns: NDArray[np.int64], values: Mapping[str, NDArray[Any]]
) -> dict[str, NDArray[Any]]:
    """The last NBBO of each (symbol code, second) and how many updates the second had.

    Quotes are ordered by symbol, second, time and then arrival, so the last of a second is the
    latest (the last to arrive among equal times). Returns the columns ``symbol`` (codes), ``ts``
    (the second's start, ns), each of ``values`` at the last quote, and ``quotes`` (the count).
    Live capture and the flat-file backfill both reduce quotes with this function.
    """
    second = ts_ns - ts_ns % SECOND_NS
    order = np.lexsort((np.arange(ts_ns.size), ts_ns, second, symbol))
    s_sym, s_sec = symbol[order], second[order]
    last = np.ones(order.size, dtype=np.bool_)
    last[:-1] = (s_sym[1:] != s_sym[:-1]) | (s_sec[1:] != s_sec[:-1])
    ends = np.flatnonzero(last)
    counts = np.diff(np.concatenate(([-1], ends)))
    rows = order[ends]
    out: dict[str, NDArray[Any]] = {"symbol": symbol[rows], "ts": second[rows]}
    out.update({k: v[rows] for k, v in values.items()})
    out["quotes"] = counts.astype(np.int32)
    return out
