"""Column buffers that turn feed events into bulk-writer batches, O(1) per event.

Second aggregates go to ``agg_1s``, minute aggregates to ``bars`` (1m), trades to ``trades``,
and quotes are reduced to the last NBBO of each second (``quotes_1s``, with the update count).
Index values are not stored (the index seconds arrive as ``A`` aggregates); they feed the cache.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scalper.core.events import IndexValue, MarketEvent, MinuteAgg, OptionQuote, OptionTrade, Quote, SecondAgg, Trade

SOURCE = "ws"
_S = 1_000_000_000
Batch = dict[str, np.ndarray[Any, Any]]


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


class EventSink:
    """Accumulates events; ``take()`` hands out the batches and starts empty again."""

    def __init__(self) -> None:
        self._seconds: list[tuple[Any, ...]] = []
        self._minutes: list[tuple[Any, ...]] = []
        self._trades: list[tuple[Any, ...]] = []
        self._quotes: list[tuple[Any, ...]] = []
        self._open_quote: dict[str, list[Any]] = {}  # symbol -> [second_ns, bid, bs, ask, as, count]

    def add(self, event: MarketEvent) -> None:
        """Buffer one event (option events and index values are not stored here)."""
        if isinstance(event, SecondAgg | MinuteAgg):
            row = (
                event.symbol,
                event.ts_event,
                event.open,
                event.high,
                event.low,
                event.close,
                _nan(event.volume),
                _nan(event.vwap),
            )
            (self._seconds if isinstance(event, SecondAgg) else self._minutes).append(row)
        elif isinstance(event, OptionTrade | OptionQuote | IndexValue):
            return
        elif isinstance(event, Trade):
            self._trades.append(
                (
                    event.symbol,
                    event.ts_event,
                    event.sequence,
                    event.price,
                    event.size,
                    event.exchange,
                    event.trade_id,
                    ",".join(map(str, event.conditions)),
                    event.tape,
                )
            )
        elif isinstance(event, Quote):
            self._add_quote(event)

    def _add_quote(self, q: Quote) -> None:
        second = q.ts_event - q.ts_event % _S
        cur = self._open_quote.get(q.symbol)
        if cur is not None and cur[0] != second:
            self._quotes.append((q.symbol, *cur))
            cur = None
        if cur is None:
            self._open_quote[q.symbol] = [second, q.bid, q.bid_size, q.ask, q.ask_size, 1]
        else:
            cur[1:5] = [q.bid, q.bid_size, q.ask, q.ask_size]
            cur[5] += 1

    def pending_rows(self) -> int:
        return len(self._seconds) + len(self._minutes) + len(self._trades) + len(self._quotes)

    def take(self, *, close_quotes: bool = False) -> dict[str, Batch]:
        """Batches by table name. Open quote seconds stay buffered unless ``close_quotes``."""
        if close_quotes:
            self._quotes += [(sym, *cur) for sym, cur in self._open_quote.items()]
            self._open_quote.clear()
        out: dict[str, Batch] = {}
        if self._seconds:
            out["agg_1s"] = _aggs(self._seconds)
        if self._minutes:
            out["bars"] = _aggs(self._minutes) | {"timeframe": np.full(len(self._minutes), "1m", dtype=object)}
        if self._trades:
            out["trades"] = _columns(
                self._trades,
                ("symbol", "ts", "sequence", "price", "size", "exchange", "trade_id", "conditions", "tape"),
            )
        if self._quotes:
            out["quotes_1s"] = _columns(self._quotes, ("symbol", "ts", "bid", "bid_size", "ask", "ask_size", "quotes"))
        self._seconds, self._minutes, self._trades, self._quotes = [], [], [], []
        return out


def _columns(rows: list[tuple[Any, ...]], names: tuple[str, ...]) -> Batch:
    cols = list(zip(*rows, strict=True))
    out: Batch = {}
    for name, values in zip(names, cols, strict=True):
        out[name] = np.array(values, dtype=object if isinstance(values[0], str) else None)
    return out


def _aggs(rows: list[tuple[Any, ...]]) -> Batch:
    batch = _columns(rows, ("symbol", "ts", "open", "high", "low", "close", "volume", "vwap"))
    n = len(rows)
    batch["trades"] = np.full(n, np.nan)
    batch["source"] = np.full(n, SOURCE, dtype=object)
    return batch
