"""Polygon/Massive option tickers: ``O:`` + root + ``YYMMDD`` + ``C``/``P`` + strike×1000 (8 digits).

Example: ``O:SPXW241220P05000000`` is the SPXW put expiring 2024-12-20 with strike 5000.
The root is 1–6 upper-case letters or digits (``SPX`` monthlies, ``SPXW`` weeklies/dailies,
adjusted roots such as ``SPY1``); the tail after the root always has exactly 15 characters,
so the root is everything between ``O:`` and the last 15 characters.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from scalper.core.errors import DataError

Right = Literal["C", "P"]

_PREFIX = "O:"
_TAIL = re.compile(r"(\d{2})(\d{2})(\d{2})([CP])(\d{8})")
_ROOT = re.compile(r"[A-Z0-9]{1,6}")
_MAX_STRIKE_MILLI = 99_999_999


class OptionTickerError(DataError, ValueError):
    """An option ticker (or one of its parts) is malformed; the message quotes the input."""


@dataclass(frozen=True, kw_only=True, slots=True)
class OptionTicker:
    """A parsed option ticker; ``strike_milli`` is the strike in thousandths of a dollar."""

    root: str
    expiry: dt.date
    right: Right
    strike_milli: int

    def __post_init__(self) -> None:
        if not _ROOT.fullmatch(self.root):
            raise OptionTickerError(f"option root: expected 1-6 of A-Z/0-9, was {self.root!r}")
        if self.right not in ("C", "P"):
            raise OptionTickerError(f"option right: expected 'C' or 'P', was {self.right!r}")
        if not 2000 <= self.expiry.year <= 2099:
            raise OptionTickerError(f"option expiry: expected a year in 2000-2099, was {self.expiry}")
        if not 0 < self.strike_milli <= _MAX_STRIKE_MILLI:
            raise OptionTickerError(
                f"option strike: expected 0 < strike*1000 <= {_MAX_STRIKE_MILLI}, was {self.strike_milli}"
            )

    @property
    def strike(self) -> float:
        """The strike in dollars (index points for SPX)."""
        return self.strike_milli / 1000

    @property
    def is_call(self) -> bool:
        """True for a call, False for a put."""
        return self.right == "C"

    @property
    def ticker(self) -> str:
        """The canonical ``O:...`` string."""
        return f"{_PREFIX}{self.root}{self.expiry:%y%m%d}{self.right}{self.strike_milli:08d}"


def strike_to_milli(strike: float) -> int:
    """Dollars to thousandths of a dollar, refusing strikes that are not whole thousandths."""
    milli = round(strike * 1000)
    if abs(milli - strike * 1000) > 1e-6 * max(1.0, abs(strike)):
        raise OptionTickerError(f"option strike: expected a multiple of 0.001, was {strike!r}")
    return milli


def format_option_ticker(root: str, expiry: dt.date, right: Right, strike: float) -> str:
    """Build ``O:{root}{YYMMDD}{C|P}{strike*1000:08d}``; raises OptionTickerError on bad parts."""
    parsed = OptionTicker(root=root, expiry=expiry, right=right, strike_milli=strike_to_milli(strike))
    return parsed.ticker


def parse_option_ticker(ticker: str) -> OptionTicker:
    """Parse an ``O:`` option ticker; raises OptionTickerError (a ValueError) naming the input."""
    if not isinstance(ticker, str) or not ticker.startswith(_PREFIX) or len(ticker) < len(_PREFIX) + 16:
        raise OptionTickerError(f"not an option ticker (expected O:ROOTYYMMDD[C|P]STRIKE8): {ticker!r}")
    body = ticker[len(_PREFIX) :]
    root, tail = body[:-15], body[-15:]
    match = _TAIL.fullmatch(tail)
    if match is None or not _ROOT.fullmatch(root):
        raise OptionTickerError(f"not an option ticker (expected O:ROOTYYMMDD[C|P]STRIKE8): {ticker!r}")
    yy, mm, dd, right, strike = match.groups()
    try:
        expiry = dt.date(2000 + int(yy), int(mm), int(dd))
    except ValueError as exc:
        raise OptionTickerError(f"option ticker {ticker!r}: invalid expiry date {yy}{mm}{dd}") from exc
    try:
        return OptionTicker(root=root, expiry=expiry, right="C" if right == "C" else "P", strike_milli=int(strike))
    except OptionTickerError as exc:
        raise OptionTickerError(f"option ticker {ticker!r}: {exc}") from exc
