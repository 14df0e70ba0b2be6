"""Polygon/Massive flat files (gzip CSV) for synthetic sessions, byte-for-byte deterministic.

Layout: ``{root}/{dataset}/{YYYY}/{MM}/{YYYY-MM-DD}.csv.gz`` with the exact headers of POLYGON.md.
Rows are sorted by ticker, then by time (``sip_timestamp``, ``timestamp`` or ``window_start``).
Formatting: numbers in shortest round-trip decimal (``578.12``, ``578``); timestamps in
nanoseconds; trade ``conditions`` as ``12`` / ``"12,37"`` (quoted only when it holds a comma)
or empty; off-TRF trades carry ``trf_id`` and ``trf_timestamp`` 0; quotes carry empty
``conditions``/``indicators`` and ``trf_timestamp`` 0. Day aggregates start at 00:00 New York.
Gzip at level 1 with mtime 0 (fast, reproducible). CSV text is built column-wise with pyarrow
string kernels, never row by row in Python.
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from scalper.marketdata.aggregate import TradeBars, ValueBars
from scalper.synthetic.market import INDEX_TICKERS, STOCK_TICKERS, MarketDay
from scalper.synthetic.options import OptionDay

AGG_HEADER: Final = "ticker,volume,open,close,high,low,window_start,transactions"
INDEX_AGG_HEADER: Final = "ticker,open,close,high,low,window_start"
DATASETS: Final[dict[str, str]] = {
    "us_indices/values_v1": "ticker,value,timestamp",
    "us_indices/minute_aggs_v1": INDEX_AGG_HEADER,
    "us_indices/day_aggs_v1": INDEX_AGG_HEADER,
    "us_stocks_sip/trades_v1": (
        "ticker,conditions,correction,exchange,id,participant_timestamp,price,sequence_number,"
        "sip_timestamp,size,tape,trf_id,trf_timestamp"
    ),
    "us_stocks_sip/quotes_v1": (
        "ticker,ask_exchange,ask_price,ask_size,bid_exchange,bid_price,bid_size,conditions,indicators,"
        "participant_timestamp,sequence_number,sip_timestamp,tape,trf_timestamp"
    ),
    "us_stocks_sip/minute_aggs_v1": AGG_HEADER,
    "us_stocks_sip/day_aggs_v1": AGG_HEADER,
    "us_options_opra/minute_aggs_v1": AGG_HEADER,
    "us_options_opra/day_aggs_v1": AGG_HEADER,
}
OPTION_DATASETS: Final = ("us_options_opra/minute_aggs_v1", "us_options_opra/day_aggs_v1")


# --- vectorised text helpers (shared with polygon_events) -------------------------------------
def as_text(values: NDArray[Any]) -> Any:
    """Numbers to their shortest round-trip decimal strings (a pyarrow string array)."""
    return pa.array(values).cast(pa.string())


def int_text(values: NDArray[Any]) -> Any:
    """Whole numbers (possibly held as floats) to decimal strings."""
    return as_text(np.asarray(values).astype(np.int64))


def join_text(*parts: Any) -> Any:
    """Element-wise concatenation of string arrays and literal strings."""
    return pc.binary_join_element_wise(*parts, "")


def names_text(codes: NDArray[np.int64], names: tuple[str, ...] | list[str]) -> Any:
    """Integer codes to their names (tickers), as a pyarrow string array."""
    dictionary = pa.DictionaryArray.from_arrays(pa.array(codes, type=pa.int32()), pa.array(list(names)))
    return dictionary.cast(pa.string())


def conditions_text(matrix: NDArray[np.int16], *, multi: str = "{}", wrap: str = "{}") -> Any:
    """Rows of a padded condition matrix to ``12,37``-style strings (empty when none).

    ``multi`` formats rows holding several codes (``'"{}"'`` quotes them for CSV); ``wrap``
    then formats every row. Rows are formatted once per distinct combination (one ``np.unique``).
    """
    if matrix.shape[1] == 0:
        return names_text(np.zeros(matrix.shape[0], dtype=np.int64), [wrap.format("")])
    rows = np.ascontiguousarray(matrix).view(np.dtype((np.void, matrix.dtype.itemsize * matrix.shape[1])))
    _, first, inverse = np.unique(rows.ravel(), return_index=True, return_inverse=True)
    texts = []
    for row in matrix[first]:
        codes = [str(int(c)) for c in row if c >= 0]
        texts.append(wrap.format(multi.format(",".join(codes)) if len(codes) > 1 else "".join(codes)))
    return names_text(inverse.astype(np.int64), texts)


def concat_text(lines: Any) -> bytes:
    """All strings of an array back to back (their shared data buffer, no Python loop)."""
    array = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    if len(array) == 0:
        return b""
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + len(array) + 1]
    data: bytes = array.buffers()[2].to_pybytes()[int(offsets[0]) : int(offsets[-1])]
    return data


def _csv(header: str, *columns: Any) -> tuple[bytes, int]:
    rows = len(columns[0])
    if rows == 0:
        return header.encode() + b"\n", 0
    cells = [*columns[:-1], join_text(columns[-1], "\n")]
    return header.encode() + b"\n" + concat_text(pc.binary_join_element_wise(*cells, ",")), rows


# --- datasets ----------------------------------------------------------------------------------
def _value_aggs(bars: ValueBars) -> tuple[bytes, int]:
    return _csv(
        INDEX_AGG_HEADER,
        names_text(bars.symbol, INDEX_TICKERS),
        as_text(bars.open),
        as_text(bars.close),
        as_text(bars.high),
        as_text(bars.low),
        as_text(bars.start_ns),
    )


def _trade_aggs(bars: TradeBars, names: tuple[str, ...]) -> tuple[bytes, int]:
    return _csv(
        AGG_HEADER,
        names_text(bars.symbol, names),
        int_text(bars.volume),
        as_text(bars.open),
        as_text(bars.close),
        as_text(bars.high),
        as_text(bars.low),
        as_text(bars.start_ns),
        as_text(bars.transactions),
    )


def _trades(day: MarketDay) -> tuple[bytes, int]:
    t = day.trades
    cond = conditions_text(t.conditions, multi='"{}"')
    return _csv(
        DATASETS["us_stocks_sip/trades_v1"],
        names_text(t.symbol, STOCK_TICKERS),
        cond,
        as_text(t.correction),
        as_text(t.exchange),
        as_text(t.trade_id),
        as_text(t.participant_ns),
        as_text(t.price),
        as_text(t.sequence),
        as_text(t.sip_ns),
        as_text(t.size),
        as_text(t.tape),
        as_text(t.trf_id),
        as_text(t.trf_ns),
    )


def _quotes(day: MarketDay) -> tuple[bytes, int]:
    q = day.quotes
    empty = pa.array([""] * len(q.sip_ns), type=pa.string())
    return _csv(
        DATASETS["us_stocks_sip/quotes_v1"],
        names_text(q.symbol, STOCK_TICKERS),
        as_text(q.ask_exchange),
        as_text(q.ask),
        as_text(q.ask_size),
        as_text(q.bid_exchange),
        as_text(q.bid),
        as_text(q.bid_size),
        empty,
        empty,
        as_text(q.participant_ns),
        as_text(q.sequence),
        as_text(q.sip_ns),
        as_text(q.tape),
        as_text(np.zeros(len(q.sip_ns), dtype=np.int64)),
    )


def render_dataset(dataset: str, market: MarketDay, options: OptionDay | None = None) -> tuple[bytes, int]:
    """The uncompressed CSV text (header included) of one dataset for one session, and its rows."""
    ticks = market.index_ticks
    builders = {
        "us_indices/values_v1": lambda: _csv(
            DATASETS["us_indices/values_v1"],
            names_text(ticks.symbol, INDEX_TICKERS),
            as_text(ticks.value),
            as_text(ticks.ts_ns),
        ),
        "us_indices/minute_aggs_v1": lambda: _value_aggs(market.index_minutes),
        "us_indices/day_aggs_v1": lambda: _value_aggs(market.index_days),
        "us_stocks_sip/trades_v1": lambda: _trades(market),
        "us_stocks_sip/quotes_v1": lambda: _quotes(market),
        "us_stocks_sip/minute_aggs_v1": lambda: _trade_aggs(market.stock_minutes, STOCK_TICKERS),
        "us_stocks_sip/day_aggs_v1": lambda: _trade_aggs(market.stock_days, STOCK_TICKERS),
    }
    if dataset in OPTION_DATASETS:
        if options is None:
            raise ValueError(f"dataset {dataset!r} needs the session's OptionDay")
        bars = options.minutes if dataset.endswith("minute_aggs_v1") else options.days
        return _trade_aggs(bars, options.chain.ticker)
    if dataset not in builders:
        raise ValueError(f"unknown flat-file dataset {dataset!r}; expected one of {sorted(DATASETS)}")
    return builders[dataset]()


def flatfile_path(root: Path, dataset: str, day: dt.date) -> Path:
    """``{root}/{dataset}/{YYYY}/{MM}/{YYYY-MM-DD}.csv.gz`` (the S3 key layout)."""
    return root / dataset / f"{day:%Y}" / f"{day:%m}" / f"{day:%Y-%m-%d}.csv.gz"


def gzip_bytes(data: bytes) -> bytes:
    """Gzip at level 1 with a zero mtime, so equal input gives equal bytes."""
    return gzip.compress(data, compresslevel=1, mtime=0)


def write_dataset(root: Path, dataset: str, market: MarketDay, options: OptionDay | None = None) -> tuple[Path, int]:
    """Render, compress and write one dataset file; returns its path and row count."""
    text, rows = render_dataset(dataset, market, options)
    path = flatfile_path(root, dataset, market.window.day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip_bytes(text))
    return path, rows
