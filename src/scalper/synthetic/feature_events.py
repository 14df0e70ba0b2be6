"""Synthetic sessions as feature-engine events (seconds, and optionally trades, quotes, AM bars)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from scalper.features.engine import EventArrays
from scalper.features.kernel import MINUTE
from scalper.synthetic import columns
from scalper.synthetic.market import STOCK_TICKERS, MarketDay


def _codes(names: np.ndarray, symbols: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    lookup = {s: i for i, s in enumerate(symbols)}
    codes = np.array([lookup.get(str(n), -1) for n in names], dtype=np.int64)
    keep = codes >= 0
    return codes[keep], keep


def market_events(
    days: Iterable[MarketDay],
    symbols: Sequence[str],
    *,
    trades: bool = False,
    quotes: bool = False,
    minutes: bool = False,
    ticks_until_s: int | None = None,
) -> EventArrays:
    """The events of ``symbols`` over ``days`` in the order they become known.

    ``trades``/``quotes`` add the proxies' trades and NBBO quotes (only the first ``ticks_until_s``
    seconds of each session when given, to bound the count); ``minutes`` adds the feed's ``AM`` bars.
    """
    parts: list[EventArrays] = []
    for day in days:
        sec = columns.seconds(day)
        code, keep = _codes(sec["symbol"], symbols)
        parts.append(
            EventArrays.seconds(
                code,
                sec["ts"][keep],
                sec["open"][keep],
                sec["high"][keep],
                sec["low"][keep],
                sec["close"][keep],
                sec["volume"][keep],
                sec["vwap"][keep],
            )
        )
        limit = day.window.open_ns + ticks_until_s * 1_000_000_000 if ticks_until_s is not None else None
        stock_names = np.asarray(STOCK_TICKERS, dtype=object)
        if trades:
            t = day.trades
            rows = t.sip_ns < limit if limit is not None else np.ones(t.sip_ns.size, dtype=bool)
            code, keep = _codes(stock_names[t.symbol[rows]], symbols)
            parts.append(
                EventArrays.trades(code, t.sip_ns[rows][keep], t.price[rows][keep], t.size[rows][keep].astype(float))
            )
        if quotes:
            q = day.quotes
            rows = q.sip_ns < limit if limit is not None else np.ones(q.sip_ns.size, dtype=bool)
            code, keep = _codes(stock_names[q.symbol[rows]], symbols)
            parts.append(EventArrays.quotes(code, q.sip_ns[rows][keep], q.bid[rows][keep], q.ask[rows][keep]))
        if minutes:
            bars = columns.bars(day)
            one = bars["timeframe"] == "1m"
            code, keep = _codes(bars["symbol"][one], symbols)
            n = int(keep.sum())
            nan = np.full(n, np.nan)
            parts.append(
                EventArrays(
                    code,
                    np.full(n, MINUTE, dtype=np.int64),
                    bars["ts"][one][keep].astype(np.int64),
                    bars["open"][one][keep].astype(float),
                    bars["high"][one][keep].astype(float),
                    bars["low"][one][keep].astype(float),
                    bars["close"][one][keep].astype(float),
                    bars["volume"][one][keep].astype(float),
                    nan,
                )
            )
    return EventArrays.merge(*parts)
