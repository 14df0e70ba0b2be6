"""Feed events → bulk-writer batches: O(1) appends on the read loop, column building off it.

``EventSink.add`` only appends each event to the list of its type, so the websocket read loop
pays one dictionary lookup per event. ``take`` hands those lists out as a :class:`PendingRows`
whose ``build`` turns them into column batches (vectorised, on the writer's thread):

- second aggregates → ``agg_1s``, minute aggregates → ``bars`` (1m), trades → ``trades``;
- quotes are reduced to the last NBBO of each second with the number of updates
  (``quotes_1s``). A symbol's latest second may still receive quotes, so its quotes are held
  back (``PendingRows.held``) and go into the next batch, unless the capture is closing.

Index values are not stored (index seconds arrive as ``A`` aggregates) and option events are the
options capture's business; both are ignored here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import numpy as np
import pandas as pd

from scalper.core.events import MarketEvent, MinuteAgg, Quote, SecondAgg, Trade
from scalper.marketdata.aggregate import quotes_to_seconds

SOURCE = "ws"
_S = 1_000_000_000
Batch = dict[str, np.ndarray[Any, Any]]

_AGG_FLOATS = ("open", "high", "low", "close")
_conditions_text: dict[tuple[int, ...], str] = {}


@dataclass(slots=True)
class PendingRows:
    """Events taken from the sink, by kind, in arrival order."""

    seconds: list[SecondAgg] = field(default_factory=list)
    minutes: list[MinuteAgg] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)
    close_quotes: bool = False

    def build(self) -> tuple[dict[str, Batch], list[Quote]]:
        """Column batches by table name, and the quotes held back for the next batch."""
        out: dict[str, Batch] = {}
        if self.seconds:
            out["agg_1s"] = _aggs(self.seconds)
        if self.minutes:
            out["bars"] = _aggs(self.minutes) | {"timeframe": np.full(len(self.minutes), "1m", dtype=object)}
        if self.trades:
            out["trades"] = _trades(self.trades)
        held: list[Quote] = []
        if self.quotes:
            batch, held = _quote_seconds(self.quotes, close=self.close_quotes)
            if batch is not None:
                out["quotes_1s"] = batch
        return out, held


class EventSink:
    """Accumulates events; ``take()`` hands them out and starts empty again."""

    def __init__(self) -> None:
        self._pending = PendingRows()
        self._lists: dict[type, list[Any]] = {}
        self._bind()

    def _bind(self) -> None:
        p = self._pending
        self._lists = {SecondAgg: p.seconds, MinuteAgg: p.minutes, Trade: p.trades, Quote: p.quotes}

    def add(self, events: Iterable[MarketEvent]) -> None:
        """Buffer the storable events (exact types: option events and index values are skipped)."""
        lists = self._lists
        for event in events:
            target = lists.get(type(event))
            if target is not None:
                target.append(event)

    def pending_rows(self) -> int:
        p = self._pending
        return len(p.seconds) + len(p.minutes) + len(p.trades) + len(p.quotes)

    def take(self, *, close_quotes: bool = False) -> PendingRows:
        """Everything buffered so far; build it with ``PendingRows.build`` and give back what it holds."""
        taken, self._pending = self._pending, PendingRows()
        taken.close_quotes = close_quotes
        self._bind()
        return taken

    def give_back(self, held: Sequence[Quote]) -> None:
        """Quotes of still-open seconds: they precede anything that arrived since ``take``."""
        self._pending.quotes[:0] = held


def _floats(events: Sequence[Any], name: str) -> np.ndarray[Any, Any]:
    return np.fromiter(map(attrgetter(name), events), dtype=np.float64, count=len(events))


def _optional_floats(events: Sequence[Any], name: str) -> np.ndarray[Any, Any]:
    values = map(attrgetter(name), events)
    return np.fromiter((math.nan if v is None else v for v in values), dtype=np.float64, count=len(events))


def _ints(events: Sequence[Any], name: str) -> np.ndarray[Any, Any]:
    return np.fromiter(map(attrgetter(name), events), dtype=np.int64, count=len(events))


def _objects(events: Sequence[Any], name: str) -> np.ndarray[Any, Any]:
    out = np.empty(len(events), dtype=object)
    out[:] = list(map(attrgetter(name), events))
    return out


def _aggs(bars: Sequence[SecondAgg | MinuteAgg]) -> Batch:
    batch: Batch = {"symbol": _objects(bars, "symbol"), "ts": _ints(bars, "ts_event")}
    for name in _AGG_FLOATS:
        batch[name] = _floats(bars, name)
    batch["volume"] = _optional_floats(bars, "volume")
    batch["vwap"] = _optional_floats(bars, "vwap")
    batch["trades"] = np.full(len(bars), np.nan)
    batch["source"] = np.full(len(bars), SOURCE, dtype=object)
    return batch


def conditions_text(conditions: tuple[int, ...]) -> str:
    """``(12, 37)`` → ``"12,37"`` (memoised: a feed uses few distinct combinations)."""
    text = _conditions_text.get(conditions)
    if text is None:
        if len(_conditions_text) > 4096:
            _conditions_text.clear()
        text = _conditions_text[conditions] = ",".join(map(str, conditions))
    return text


def _trades(trades: Sequence[Trade]) -> Batch:
    conditions = np.empty(len(trades), dtype=object)
    conditions[:] = [conditions_text(c) for c in map(attrgetter("conditions"), trades)]
    return {
        "symbol": _objects(trades, "symbol"),
        "ts": _ints(trades, "ts_event"),
        "sequence": _ints(trades, "sequence"),
        "price": _floats(trades, "price"),
        "size": _floats(trades, "size"),
        "exchange": _ints(trades, "exchange"),
        "trade_id": _objects(trades, "trade_id"),
        "conditions": conditions,
        "tape": _ints(trades, "tape"),
    }


def _quote_seconds(quotes: Sequence[Quote], *, close: bool) -> tuple[Batch | None, list[Quote]]:
    """Last NBBO and update count per (symbol, second) (:func:`quotes_to_seconds`); each symbol's latest
    second may still get quotes, so its quotes are held back for the next batch unless ``close``."""
    codes, symbols = pd.factorize(_objects(quotes, "symbol"))
    ts = _ints(quotes, "ts_event")
    second = ts - ts % _S
    held: list[Quote] = []
    if not close:
        latest = np.full(len(symbols), np.iinfo(np.int64).min)
        np.maximum.at(latest, codes, second)
        open_second = second == latest[codes]
        held = [quotes[i] for i in np.flatnonzero(open_second).tolist()]  # in arrival order
        keep = np.flatnonzero(~open_second)
        if keep.size == 0:
            return None, held
        codes, ts = codes[keep], ts[keep]
        quotes = [quotes[i] for i in keep.tolist()]
    values = {name: _floats(quotes, name) for name in ("bid", "bid_size", "ask", "ask_size")}
    batch = quotes_to_seconds(codes.astype(np.int64), ts, values)
    batch["symbol"] = np.asarray(symbols, dtype=object)[batch["symbol"]]
    batch["quotes"] = batch["quotes"].astype(np.int64)
    return batch, held
