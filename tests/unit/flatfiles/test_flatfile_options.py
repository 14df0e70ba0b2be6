import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from scalper.adapters.flatfiles import FlatFileError
from scalper.adapters.flatfiles.options import option_columns, zero_dte_minutes
from scalper.marketdata.tickers import parse_option_ticker

TICKERS = ["O:SPXW251125C06700000", "O:SPY251219P00450500", "O:SPX261218C05000000", "O:QQQ251125P00600000"]


def test_tickers_parse_column_wise_as_one_by_one() -> None:
    cols = option_columns(pa.array(TICKERS), key="k")
    for i, ticker in enumerate(TICKERS):
        one = parse_option_ticker(ticker)
        assert cols["root"][i] == one.root
        assert cols["expiry"][i] == np.datetime64(one.expiry, "D")
        assert cols["contract_type"][i] == ("call" if one.is_call else "put")
        assert cols["strike"][i] == one.strike


@pytest.mark.parametrize("bad", ["SPY251219P00450500", "O:SPY2512P00450500", "O:SPY251219X00450500"])
def test_a_malformed_ticker_fails_naming_the_file_and_ticker(bad: str) -> None:
    with pytest.raises(FlatFileError, match=rf"^the/key: .*{bad}"):
        option_columns(pa.array([TICKERS[0], bad]), key="the/key")


def test_zero_dte_volume_sums_contracts_expiring_that_day_per_minute_and_side() -> None:
    minute = 1_764_081_000 * 10**9  # 2025-11-25 14:30 UTC
    tickers = pa.array([TICKERS[0], "O:SPXW251125P06600000", "O:SPXW251126C06700000", TICKERS[3], TICKERS[0]])
    cols = option_columns(tickers, key="k")
    ts = np.array([minute, minute + 5, minute, minute, minute + 60 * 10**9], dtype=np.int64)
    volume = np.array([10, 7, 1000, 3, 2], dtype=np.int64)
    trades = np.array([2, 1, 50, 1, 1], dtype=np.int64)
    totals: dict[tuple[int, int], np.ndarray] = {}
    roots = ("QQQ", "SPX", "SPXW", "SPY")

    zero_dte_minutes(totals, cols, ts, volume, trades, roots, dt.date(2025, 11, 25))
    zero_dte_minutes(totals, cols, ts, volume, trades, roots, dt.date(2025, 11, 25))  # a second block adds up

    assert {k: v.tolist() for k, v in totals.items()} == {
        (2, minute): [20, 14, 6],
        (2, minute + 60 * 10**9): [4, 0, 2],
        (0, minute): [0, 6, 2],
    }
