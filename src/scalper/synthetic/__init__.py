"""A deterministic synthetic market that speaks Polygon/Massive: data for demos, tests and replays.

* :mod:`~scalper.synthetic.market` -- SPX/NDX paths with ground-truth day types, SPY/QQQ trades
  and quotes, and every bar derived from them (:func:`generate_market_days`).
* :mod:`~scalper.synthetic.options` -- SPX/SPXW and SPY chains, trades, bars, EOD state.
* :mod:`~scalper.synthetic.polygon_events` -- websocket frames (JSON arrays, ms timestamps) and
  the REST chain snapshot.
* :mod:`~scalper.synthetic.flatfiles` -- flat files (gzip CSV, ns timestamps).
* :mod:`~scalper.synthetic.writer` -- :func:`write_synthetic`, everything to disk.

Same seed and dates give byte-identical outputs; nothing reads the wall clock.
"""

from scalper.synthetic.flatfiles import DATASETS, flatfile_path, render_dataset, write_dataset
from scalper.synthetic.market import (
    DAY_TYPES,
    INDEX_TICKERS,
    OHLC,
    STOCK_TICKERS,
    IndexTicks,
    MarketConfig,
    MarketDay,
    SessionTruth,
    SessionWindow,
    StockQuotes,
    StockTrades,
    generate_market_days,
    session_windows,
)
from scalper.synthetic.options import (
    ROOTS,
    UNDERLYINGS,
    OptionChain,
    OptionConfig,
    OptionDay,
    OptionSnapshot,
    OptionTrades,
    generate_option_day,
)
from scalper.synthetic.polygon_events import (
    MARKETS,
    Frame,
    RenderedFrames,
    frame_send_ms,
    iter_frames,
    render_frames,
    snapshot_response,
    snapshot_results,
)
from scalper.synthetic.writer import SynthSummary, write_synthetic

__all__ = [
    "DATASETS",
    "DAY_TYPES",
    "INDEX_TICKERS",
    "MARKETS",
    "OHLC",
    "ROOTS",
    "STOCK_TICKERS",
    "UNDERLYINGS",
    "Frame",
    "IndexTicks",
    "MarketConfig",
    "MarketDay",
    "OptionChain",
    "OptionConfig",
    "OptionDay",
    "OptionSnapshot",
    "OptionTrades",
    "RenderedFrames",
    "SessionTruth",
    "SessionWindow",
    "StockQuotes",
    "StockTrades",
    "SynthSummary",
    "flatfile_path",
    "frame_send_ms",
    "generate_market_days",
    "generate_option_day",
    "iter_frames",
    "render_dataset",
    "render_frames",
    "session_windows",
    "snapshot_response",
    "snapshot_results",
    "write_dataset",
    "write_synthetic",
]
