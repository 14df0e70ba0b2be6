"""Synthetic sessions as column batches named like the store's tables (no store import here).

Each function returns ``{column: array}`` ready for the bulk writer; timestamps are integer
nanoseconds UTC, prices float64. Used by the demo and by tests that need realistic stored data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from scalper.marketdata.aggregate import TradeBars, ValueBars
from scalper.synthetic.flatfiles import conditions_text
from scalper.synthetic.market import INDEX_TICKERS, STOCK_TICKERS, MarketDay
from scalper.synthetic.options import ROOTS, UNDERLYINGS, OptionDay

Batch = dict[str, npt.NDArray[Any]]
SOURCE = "synthetic"
_TIMEFRAMES = {60_000_000_000: "1m", 86_400_000_000_000: "1d"}


def _names(codes: npt.NDArray[np.int64], tickers: tuple[str, ...]) -> npt.NDArray[np.object_]:
    return np.asarray(tickers, dtype=object)[codes]


def _const(value: str, n: int) -> npt.NDArray[np.object_]:
    return np.full(n, value, dtype=object)


def _index_bars(bars: ValueBars) -> Batch:
    n = int(bars.start_ns.size)
    nan = np.full(n, np.nan)
    return {
        "symbol": _names(bars.symbol, INDEX_TICKERS),
        "ts": bars.start_ns,
        "open": bars.open,
        "high": bars.high,
        "low": bars.low,
        "close": bars.close,
        "volume": nan,
        "vwap": nan,
        "trades": np.zeros(n, dtype=np.int32),
        "source": _const(SOURCE, n),
    }


def _stock_bars(bars: TradeBars, tickers: tuple[str, ...] = STOCK_TICKERS) -> Batch:
    n = len(bars)
    return {
        "symbol": _names(bars.symbol, tickers),
        "ts": bars.start_ns,
        "open": bars.open,
        "high": bars.high,
        "low": bars.low,
        "close": bars.close,
        "volume": bars.volume,
        "vwap": bars.vwap,
        "trades": bars.transactions.astype(np.int32),
        "source": _const(SOURCE, n),
    }


def _concat(parts: list[Batch]) -> Batch:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def seconds(day: MarketDay) -> Batch:
    """``agg_1s``: index seconds (no volume) and SPY/QQQ seconds."""
    return _concat([_index_bars(day.index_seconds), _stock_bars(day.stock_seconds)])


def bars(day: MarketDay) -> Batch:
    """``bars``: one-minute and daily bars of the four symbols."""
    parts = []
    for index_bars, stock_bars in ((day.index_minutes, day.stock_minutes), (day.index_days, day.stock_days)):
        batch = _concat([_index_bars(index_bars), _stock_bars(stock_bars)])
        batch["timeframe"] = _const(_TIMEFRAMES[stock_bars.window_ns], len(batch["ts"]))
        parts.append(batch)
    return _concat(parts)


def trades(day: MarketDay) -> Batch:
    """``trades``: every SPY/QQQ trade."""
    t = day.trades
    return {
        "symbol": _names(t.symbol, STOCK_TICKERS),
        "ts": t.sip_ns,
        "sequence": t.sequence,
        "price": t.price,
        "size": t.size.astype(np.float64),
        "exchange": t.exchange.astype(np.int16),
        "trade_id": t.trade_id.astype(str).astype(object),
        "conditions": conditions_text(t.conditions).to_numpy(zero_copy_only=False),
        "tape": t.tape.astype(np.int16),
    }


def quotes_1s(day: MarketDay) -> Batch:
    """``quotes_1s``: the last NBBO of each second and how many updates the second had."""
    q = day.quotes
    second = q.sip_ns // 1_000_000_000
    key = q.symbol * (1 << 40) + second  # quotes are sorted by (symbol, time): key is non-decreasing
    last = np.flatnonzero(np.diff(key, append=key[-1] + 1))
    counts = np.diff(np.concatenate(([-1], last)))
    return {
        "symbol": _names(q.symbol[last], STOCK_TICKERS),
        "ts": second[last] * 1_000_000_000,
        "bid": q.bid[last],
        "bid_size": q.bid_size[last].astype(np.float64),
        "ask": q.ask[last],
        "ask_size": q.ask_size[last].astype(np.float64),
        "quotes": counts.astype(np.int32),
    }


def _contract_columns(options: OptionDay, rows: npt.NDArray[np.int64]) -> Batch:
    chain = options.chain
    return {
        "ticker": np.asarray(chain.ticker, dtype=object)[rows],
        "root": _names(chain.root[rows], ROOTS),
        "expiry": chain.expiry[rows],
        "contract_type": np.where(chain.is_call[rows], "call", "put").astype(object),
        "strike": chain.strike[rows],
    }


def option_bars(options: OptionDay) -> Batch:
    """``option_bars``: one-minute and daily bars of contracts that traded."""
    parts = []
    for b in (options.minutes, options.days):
        n = len(b)
        parts.append(
            {
                **_contract_columns(options, b.symbol),
                "timeframe": _const(_TIMEFRAMES[b.window_ns], n),
                "ts": b.start_ns,
                "open": b.open,
                "high": b.high,
                "low": b.low,
                "close": b.close,
                "volume": b.volume.astype(np.int64),
                "trades": b.transactions.astype(np.int32),
                "source": _const(SOURCE, n),
            }
        )
    return _concat(parts)


def option_snapshots(options: OptionDay) -> Batch:
    """``option_snapshots``: the end-of-day chain snapshot."""
    chain, snap = options.chain, options.snapshot
    n = len(chain)
    volume = np.bincount(options.days.symbol, weights=options.days.volume, minlength=n).astype(np.int64)
    last = np.full(n, np.nan)
    last[options.days.symbol] = options.days.close
    return {
        **_contract_columns(options, np.arange(n)),
        "underlying": _names(chain.underlying, UNDERLYINGS),
        "ts": np.full(n, snap.ts_ns, dtype=np.int64),
        "bid": snap.bid,
        "ask": snap.ask,
        "last_price": last,
        "iv": chain.iv,
        "delta": snap.delta,
        "gamma": snap.gamma,
        "theta": snap.theta,
        "vega": snap.vega,
        "open_interest": chain.open_interest,
        "volume": volume,
        "underlying_price": snap.underlying_price,
        "source": _const(SOURCE, n),
    }
