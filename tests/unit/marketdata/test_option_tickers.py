"""Option tickers: O: + root + YYMMDD + C/P + strike x 1000 in 8 digits."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalper.marketdata.tickers import (
    OptionTicker,
    OptionTickerError,
    format_option_ticker,
    parse_option_ticker,
)

roots = st.from_regex(r"[A-Z][A-Z0-9]{0,5}", fullmatch=True)
expiries = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))
rights = st.sampled_from(["C", "P"])
strike_milli = st.integers(min_value=1, max_value=99_999_999)


def test_parses_the_documented_spxw_example() -> None:
    parsed = parse_option_ticker("O:SPXW241220P05000000")
    assert (parsed.root, parsed.expiry, parsed.right, parsed.strike) == (
        "SPXW",
        dt.date(2024, 12, 20),
        "P",
        5000.0,
    )


def test_parses_a_fractional_spy_strike() -> None:
    parsed = parse_option_ticker("O:SPY241220C00452500")
    assert parsed.strike == 452.5
    assert parsed.is_call


@given(roots, expiries, rights, strike_milli)
def test_format_then_parse_round_trips(root: str, expiry: dt.date, right: str, milli: int) -> None:
    ticker = format_option_ticker(root, expiry, "C" if right == "C" else "P", milli / 1000)
    parsed = parse_option_ticker(ticker)
    assert parsed == OptionTicker(root=root, expiry=expiry, right="C" if right == "C" else "P", strike_milli=milli)
    assert parsed.ticker == ticker
    assert len(ticker) == 2 + len(root) + 15


@pytest.mark.parametrize(
    "bad",
    [
        "SPXW241220P05000000",  # no O: prefix
        "O:SPXW241320P05000000",  # month 13
        "O:SPXW240230P05000000",  # 30 February
        "O:SPXW241220X05000000",  # right is neither C nor P
        "O:SPXW241220P5000000",  # 7 strike digits
        "O:spxw241220P05000000",  # lower-case root
        "O:241220P05000000",  # no root
        "O:SPXWEEKLY241220P05000000",  # root longer than 6
        "O:SPY241220P00000000",  # zero strike
        "",
    ],
)
def test_bad_tickers_raise_a_value_error_naming_the_input(bad: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_option_ticker(bad)
    assert repr(bad) in str(caught.value)
    assert isinstance(caught.value, OptionTickerError)


def test_refuses_strikes_finer_than_a_thousandth() -> None:
    with pytest.raises(ValueError, match=r"0\.001"):
        format_option_ticker("SPY", dt.date(2025, 1, 17), "C", 450.0005)
