"""Per-dataset loaders: blocks of flat-file columns in, store batches (table, columns) out.

Every loader is fed the kept rows of one file block by block and returns what to write; what
it must see whole (a second cut by a block boundary, a day's 0DTE volume per minute) it keeps
until ``finish``. Seconds from trades and index values are built by
:mod:`scalper.marketdata.aggregate`, the functions the live path uses, so history and live
agree. Each loader also names the rows a file owns (``owned``), which are deleted when a
republished file replaces its day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from scalper.adapters.flatfiles.holdback import Columns, WindowHoldback
from scalper.adapters.flatfiles.options import option_columns, zero_dte_minutes
from scalper.adapters.flatfiles.reader import TickerFilter, option_roots_in, tickers_in
from scalper.adapters.store.tables import AGG_1S, BARS, OPTION_BARS, OPTION_VOLUME_0DTE, QUOTES_1S, TRADES, TableSpec
from scalper.marketdata.aggregate import (
    SECOND_NS,
    TradeBars,
    ValueBars,
    quotes_to_seconds,
    trades_to_seconds,
    values_to_seconds,
)
from scalper.marketdata.conditions import conditions_from_strings

SOURCE: Final = "flatfile"
HOLD_NS: Final = 2 * SECOND_NS
CONDITION_WIDTH: Final = 8
_TIMEFRAMES: Final = {"minute_aggs_v1": "1m", "day_aggs_v1": "1d"}

Write = tuple[TableSpec, Columns]
Block = Mapping[str, pa.Array]


@dataclass(frozen=True, slots=True)
class Owned:
    """Rows of ``table`` a file owns: ``column`` in ``values`` (and ``timeframe`` when set), ts in its day."""

    table: str
    column: str
    values: tuple[str, ...]
    timeframe: str | None = None


class Loader:
    """What the backfill drives for one file: the CSV columns it reads, its row filter, its rows."""

    columns: tuple[str, ...] = ()
    keep: TickerFilter | None = None
    owned: tuple[Owned, ...] = ()

    def feed(self, block: Block) -> list[Write]:
        """Store batches for one block of kept rows."""
        raise NotImplementedError

    def finish(self) -> list[Write]:
        """Store batches for what was held until the end of the file."""
        return []


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadOptions:
    """What to keep from the files."""

    index_tickers: tuple[str, ...] = ("I:SPX", "I:NDX")
    stock_tickers: tuple[str, ...] = ("SPY", "QQQ")
    option_roots: tuple[str, ...] = ("SPX", "SPXW", "SPY", "NDX", "QQQ")
    store_trades: bool = False


def make_loader(dataset: str, *, key: str, day: dt.date, options: LoadOptions) -> Loader:
    """The loader of one dataset's file."""
    kind = dataset.rsplit("/", 1)[1]
    if dataset == "us_indices/values_v1":
        return IndexValuesLoader(key, options.index_tickers)
    if dataset == "us_stocks_sip/trades_v1":
        return StockTradesLoader(key, options.stock_tickers, store_trades=options.store_trades)
    if dataset == "us_stocks_sip/quotes_v1":
        return QuotesLoader(key, options.stock_tickers)
    if dataset.startswith("us_indices/") and kind in _TIMEFRAMES:
        return AggsLoader(options.index_tickers, _TIMEFRAMES[kind], has_volume=False)
    if dataset.startswith("us_stocks_sip/") and kind in _TIMEFRAMES:
        return AggsLoader(options.stock_tickers, _TIMEFRAMES[kind], has_volume=True)
    if dataset.startswith("us_options_opra/") and kind in _TIMEFRAMES:
        return OptionAggsLoader(key, options.option_roots, _TIMEFRAMES[kind], day)
    raise ValueError(f"no loader for dataset {dataset!r}")


def _np(array: pa.Array | pa.ChunkedArray) -> NDArray[Any]:
    return np.asarray(array.to_numpy(zero_copy_only=False))


def _codes(tickers: pa.Array, names: tuple[str, ...]) -> NDArray[np.int64]:
    codes = pc.index_in(tickers, value_set=pa.array(names, type=pa.string()))
    return _np(pc.fill_null(codes, -1)).astype(np.int64)


def _repeated_text(array: pa.Array) -> NDArray[np.object_]:
    """A text column with few distinct values as an object array sharing one str per value."""
    encoded = pc.dictionary_encode(array)
    values = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    return values[_np(encoded.indices).astype(np.int64)] if len(values) else np.full(len(array), "", dtype=object)


def _const(value: str, n: int) -> NDArray[np.object_]:
    return np.full(n, value, dtype=object)


def _names(codes: NDArray[np.int64], names: tuple[str, ...]) -> NDArray[np.object_]:
    return np.asarray(names, dtype=object)[codes]


def seconds_batch(bars: ValueBars | TradeBars, names: tuple[str, ...], source: str = SOURCE) -> Columns:
    """``agg_1s`` columns from bars (indices: no volume, VWAP or trade count)."""
    n = len(bars)
    nan = np.full(n, np.nan)
    return {
        "symbol": _names(bars.symbol, names),
        "ts": bars.start_ns,
        "open": bars.open,
        "high": bars.high,
        "low": bars.low,
        "close": bars.close,
        "volume": bars.volume if isinstance(bars, TradeBars) else nan,
        "vwap": bars.vwap if isinstance(bars, TradeBars) else nan,
        "trades": bars.transactions.astype(np.float64) if isinstance(bars, TradeBars) else nan,
        "source": _const(source, n),
    }


class _SecondsLoader(Loader):
    """A loader that reduces rows to one row per (symbol, second). A block may end inside a second,
    so each symbol's last seconds are held back until the next block (or the end of the file)."""

    def __init__(self, key: str, tickers: tuple[str, ...]) -> None:
        self.names = tuple(sorted(tickers))
        self.keep = tickers_in(self.names)
        self._hold = WindowHoldback(key=key, names=self.names, window_ns=SECOND_NS, hold_ns=HOLD_NS)

    def _push(self, cols: Columns) -> list[Write]:
        return self._reduce_some(self._hold.push(cols))

    def finish(self) -> list[Write]:
        held = self._hold.flush()
        return [] if held is None else self._reduce_some(held)

    def _reduce_some(self, cols: Columns) -> list[Write]:
        return self._reduce(cols) if cols["ts"].size else []

    def _reduce(self, cols: Columns) -> list[Write]:
        """Store batches for rows whose seconds are complete (never empty)."""
        raise NotImplementedError


class IndexValuesLoader(_SecondsLoader):
    """``us_indices/values_v1`` → one-second OHLC in ``agg_1s``."""

    columns = ("ticker", "value", "timestamp")

    def __init__(self, key: str, tickers: tuple[str, ...]) -> None:
        super().__init__(key, tickers)
        self.owned = (Owned("agg_1s", "symbol", self.names),)

    def feed(self, block: Block) -> list[Write]:
        cols = {
            "symbol": _codes(block["ticker"], self.names),
            "ts": _np(block["timestamp"]),
            "value": _np(block["value"]),
        }
        return self._push(cols)

    def _reduce(self, cols: Columns) -> list[Write]:
        return [(AGG_1S, seconds_batch(values_to_seconds(cols["symbol"], cols["ts"], cols["value"]), self.names))]


class StockTradesLoader(_SecondsLoader):
    """``us_stocks_sip/trades_v1`` → one-second OHLCV + VWAP + count in ``agg_1s``, and optionally ``trades``.

    Condition eligibility (which trades set price, which count in volume) is the consolidated
    rule set of :mod:`scalper.marketdata.conditions`, applied inside ``trades_to_seconds``.
    """

    def __init__(self, key: str, tickers: tuple[str, ...], *, store_trades: bool) -> None:
        super().__init__(key, tickers)
        self.store_trades = store_trades
        base = ("ticker", "conditions", "price", "sip_timestamp", "size")
        extra = ("exchange", "id", "sequence_number", "tape") if store_trades else ()
        self.columns = base + extra
        self.owned = (Owned("agg_1s", "symbol", self.names),) + (
            (Owned("trades", "symbol", self.names),) if store_trades else ()
        )
        self._key = key

    def feed(self, block: Block) -> list[Write]:
        symbol = _codes(block["ticker"], self.names)
        ts = _np(block["sip_timestamp"])
        price, size = _np(block["price"]), _np(block["size"])
        try:
            conditions = conditions_from_strings(block["conditions"], width=CONDITION_WIDTH)
        except ValueError as exc:
            from scalper.adapters.flatfiles.errors import FlatFileError

            raise FlatFileError(self._key, f"column conditions: {exc}") from None
        writes = self._push({"symbol": symbol, "ts": ts, "price": price, "size": size, "conditions": conditions})
        if self.store_trades:
            writes.append((TRADES, self._trades(block, symbol, ts, price, size)))
        return writes

    def _reduce(self, c: Columns) -> list[Write]:
        bars = trades_to_seconds(c["symbol"], c["ts"], c["price"], c["size"], c["conditions"])
        return [(AGG_1S, seconds_batch(bars, self.names))]

    def _trades(
        self, block: Block, symbol: NDArray[np.int64], ts: NDArray[np.int64], price: NDArray[Any], size: NDArray[Any]
    ) -> Columns:
        return {
            "symbol": _names(symbol, self.names),
            "ts": ts,
            "sequence": _np(block["sequence_number"]),
            "price": price,
            "size": size,
            "exchange": _np(block["exchange"]),
            "trade_id": _np(block["id"]),
            "conditions": _repeated_text(block["conditions"]),
            "tape": _np(block["tape"]),
        }


class QuotesLoader(_SecondsLoader):
    """``us_stocks_sip/quotes_v1`` → one-second NBBO in ``quotes_1s``."""

    columns = ("ticker", "ask_price", "ask_size", "bid_price", "bid_size", "sip_timestamp")

    def __init__(self, key: str, tickers: tuple[str, ...]) -> None:
        super().__init__(key, tickers)
        self.owned = (Owned("quotes_1s", "symbol", self.names),)

    def feed(self, block: Block) -> list[Write]:
        cols = {
            "symbol": _codes(block["ticker"], self.names),
            "ts": _np(block["sip_timestamp"]),
            "bid": _np(block["bid_price"]),
            "bid_size": _np(block["bid_size"]),
            "ask": _np(block["ask_price"]),
            "ask_size": _np(block["ask_size"]),
        }
        return self._push(cols)

    def _reduce(self, c: Columns) -> list[Write]:
        values = {k: c[k] for k in ("bid", "bid_size", "ask", "ask_size")}
        out = quotes_to_seconds(c["symbol"], c["ts"], values)
        out["symbol"] = _names(out["symbol"], self.names)
        return [(QUOTES_1S, out)]


class AggsLoader(Loader):
    """Minute or day aggregates of indices or stocks → ``bars`` (flat files carry no VWAP)."""

    def __init__(self, tickers: tuple[str, ...], timeframe: str, *, has_volume: bool) -> None:
        self.names = tuple(sorted(tickers))
        self.keep = tickers_in(self.names)
        self.timeframe = timeframe
        self.has_volume = has_volume
        base = ("ticker", "open", "close", "high", "low", "window_start")
        self.columns = base + (("volume", "transactions") if has_volume else ())
        self.owned = (Owned("bars", "symbol", self.names, timeframe),)

    def feed(self, block: Block) -> list[Write]:
        ts = _np(block["window_start"])
        n = ts.size
        nan = np.full(n, np.nan)
        return [
            (
                BARS,
                {
                    "symbol": _np(block["ticker"]).astype(object),
                    "timeframe": _const(self.timeframe, n),
                    "ts": ts,
                    "open": _np(block["open"]),
                    "high": _np(block["high"]),
                    "low": _np(block["low"]),
                    "close": _np(block["close"]),
                    "volume": _np(block["volume"]) if self.has_volume else nan,
                    "vwap": nan,
                    "trades": _np(block["transactions"]).astype(np.float64) if self.has_volume else nan,
                    "source": _const(SOURCE, n),
                },
            )
        ]

    def finish(self) -> list[Write]:
        return []


class OptionAggsLoader(Loader):
    """Option minute/day aggregates of the wanted roots → ``option_bars``; minutes also → ``option_volume_0dte``."""

    columns = ("ticker", "volume", "open", "close", "high", "low", "window_start", "transactions")

    def __init__(self, key: str, roots: tuple[str, ...], timeframe: str, day: dt.date) -> None:
        self.roots = tuple(sorted(roots))
        self.keep = option_roots_in(self.roots)
        self.timeframe = timeframe
        self.day = day
        self._key = key
        self._zero_dte: dict[tuple[int, int], NDArray[np.int64]] = {}
        self.owned = (Owned("option_bars", "root", self.roots, timeframe),) + (
            (Owned("option_volume_0dte", "root", self.roots),) if timeframe == "1m" else ()
        )

    def feed(self, block: Block) -> list[Write]:
        contract = option_columns(block["ticker"], key=self._key)
        ts = _np(block["window_start"])
        volume = np.rint(_np(block["volume"])).astype(np.int64)
        trades = _np(block["transactions"]).astype(np.int64)
        n = ts.size
        batch: Columns = {
            **contract,
            "timeframe": _const(self.timeframe, n),
            "ts": ts,
            "open": _np(block["open"]),
            "high": _np(block["high"]),
            "low": _np(block["low"]),
            "close": _np(block["close"]),
            "volume": volume,
            "trades": trades.astype(np.int32),
            "source": _const(SOURCE, n),
        }
        if self.timeframe == "1m":
            zero_dte_minutes(self._zero_dte, contract, ts, volume, trades, self.roots, self.day)
        return [(OPTION_BARS, batch)]

    def finish(self) -> list[Write]:
        if not self._zero_dte:
            return []
        keys = sorted(self._zero_dte)
        sums = np.array([self._zero_dte[k] for k in keys], dtype=np.int64).reshape(len(keys), 3)
        n = len(keys)
        return [
            (
                OPTION_VOLUME_0DTE,
                {
                    "root": np.asarray([self.roots[r] for r, _ in keys], dtype=object),
                    "ts": np.asarray([m for _, m in keys], dtype=np.int64),
                    "call_volume": sums[:, 0],
                    "put_volume": sums[:, 1],
                    "trades": sums[:, 2].astype(np.int32),
                    "source": _const(SOURCE, n),
                },
            )
        ]
