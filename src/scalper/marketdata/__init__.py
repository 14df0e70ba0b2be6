"""Pure market-data helpers shared by the live feed, the flat-file backfill and the synthetic market.

* :mod:`~scalper.marketdata.tickers` -- option ticker format/parse (``O:SPXW241220P05000000``).
* :mod:`~scalper.marketdata.conditions` -- which trade conditions update price and volume.
* :mod:`~scalper.marketdata.aggregate` -- exact one-second (or any window) bars from trades/values.
"""

from scalper.marketdata.aggregate import (
    MINUTE_NS,
    SECOND_NS,
    TradeBars,
    ValueBars,
    trades_to_bars,
    trades_to_seconds,
    values_to_bars,
    values_to_seconds,
)
from scalper.marketdata.conditions import (
    HIGH_LOW,
    OPEN_CLOSE,
    PAD,
    STOCK_TRADE_CONDITIONS,
    VOLUME,
    condition_matrix,
    conditions_from_strings,
    eligibility_flags,
    high_low_eligible,
    open_close_eligible,
    price_eligible,
    volume_eligible,
)
from scalper.marketdata.tickers import (
    OptionTicker,
    OptionTickerError,
    format_option_ticker,
    parse_option_ticker,
)

__all__ = [
    "HIGH_LOW",
    "MINUTE_NS",
    "OPEN_CLOSE",
    "PAD",
    "SECOND_NS",
    "STOCK_TRADE_CONDITIONS",
    "VOLUME",
    "OptionTicker",
    "OptionTickerError",
    "TradeBars",
    "ValueBars",
    "condition_matrix",
    "conditions_from_strings",
    "eligibility_flags",
    "format_option_ticker",
    "high_low_eligible",
    "open_close_eligible",
    "parse_option_ticker",
    "price_eligible",
    "trades_to_bars",
    "trades_to_seconds",
    "values_to_bars",
    "values_to_seconds",
    "volume_eligible",
]
