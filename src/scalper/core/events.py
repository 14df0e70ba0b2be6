"""Normalised market events: frozen, keyword-only, integer-nanosecond timestamps.

Every event carries ``ts_event`` (when it happened, UTC ns; for aggregates the window start)
and ``ts_recv`` (when scalper received it, UTC ns, or ``None`` for recorded data that never
went through a socket). Constructors check the invariants so that corrupt data fails at the
edge instead of deep inside the engine ("expected X, was Y").
"""

from __future__ import annotations

import math

import msgspec

from scalper.core.errors import InvariantError

SECOND_NS = 1_000_000_000
MINUTE_NS = 60 * SECOND_NS
_INF = math.inf


def _require_finite_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0.0):
        raise InvariantError(f"{name}: expected a finite positive number, was {value!r}")


def _require_non_negative(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0.0):
        raise InvariantError(f"{name}: expected a finite number >= 0, was {value!r}")


class _Aggregate(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """OHLC over the window [ts_event, ts_end); volume fields are None for indices."""

    symbol: str
    ts_event: int
    ts_end: int
    open: float
    high: float
    low: float
    close: float
    volume: float | None = None
    vwap: float | None = None
    day_volume: float | None = None
    day_vwap: float | None = None
    official_open: float | None = None
    avg_trade_size: float | None = None
    trades: int | None = None
    ts_recv: int | None = None

    def __post_init__(self) -> None:
        o, h, lo, c = self.open, self.high, self.low, self.close
        v = self.volume
        if (
            0.0 < lo <= o <= h < _INF
            and lo <= c <= h
            and self.ts_end > self.ts_event
            and (v is None or 0.0 <= v < _INF)
        ):
            return  # the common case, checked in one expression; the messages come below
        for name in ("open", "high", "low", "close"):
            _require_finite_positive(f"{self.symbol} {name}", getattr(self, name))
        if not (self.low <= min(self.open, self.close) and max(self.open, self.close) <= self.high):
            raise InvariantError(
                f"{self.symbol} bar at {self.ts_event}: expected low <= open,close <= high, "
                f"was o={self.open} h={self.high} l={self.low} c={self.close}"
            )
        if self.ts_end <= self.ts_event:
            raise InvariantError(f"{self.symbol} bar: expected ts_end > ts_event, was {self.ts_end} <= {self.ts_event}")
        if self.volume is not None:
            _require_non_negative(f"{self.symbol} volume", self.volume)


class SecondAgg(_Aggregate, frozen=True, kw_only=True):
    """A one-second aggregate (websocket ``A``)."""


class MinuteAgg(_Aggregate, frozen=True, kw_only=True):
    """A one-minute aggregate (websocket ``AM``)."""


class IndexValue(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An index value print (websocket ``V``)."""

    symbol: str
    ts_event: int
    value: float
    ts_recv: int | None = None

    def __post_init__(self) -> None:
        _require_finite_positive(f"{self.symbol} value", self.value)


class Trade(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A stock or option trade (websocket ``T``)."""

    symbol: str
    ts_event: int
    price: float
    size: float
    exchange: int = 0
    trade_id: str = ""
    conditions: tuple[int, ...] = ()
    sequence: int = 0
    tape: int = 0
    ts_recv: int | None = None

    def __post_init__(self) -> None:
        if 0.0 < self.price < _INF and 0.0 < self.size < _INF:
            return
        _require_finite_positive(f"{self.symbol} trade price", self.price)
        _require_finite_positive(f"{self.symbol} trade size", self.size)


class Quote(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A top-of-book quote (websocket ``Q``). A zero price means no bid/ask on that side."""

    symbol: str
    ts_event: int
    bid: float
    bid_size: float
    ask: float
    ask_size: float
    bid_exchange: int = 0
    ask_exchange: int = 0
    conditions: tuple[int, ...] = ()
    sequence: int = 0
    tape: int = 0
    ts_recv: int | None = None

    def __post_init__(self) -> None:
        ok = 0.0 <= self.bid < _INF and 0.0 <= self.ask < _INF
        if ok and 0.0 <= self.bid_size < _INF and 0.0 <= self.ask_size < _INF:
            return
        for name in ("bid", "bid_size", "ask", "ask_size"):
            _require_non_negative(f"{self.symbol} {name}", getattr(self, name))

    @property
    def mid(self) -> float:
        """Midpoint; NaN when one side is missing."""
        if self.bid <= 0.0 or self.ask <= 0.0:
            return math.nan
        return 0.5 * (self.bid + self.ask)


class OptionQuote(Quote, frozen=True, kw_only=True):
    """A quote on an option contract; ``symbol`` is the ``O:`` ticker."""


class OptionTrade(Trade, frozen=True, kw_only=True):
    """A trade on an option contract; ``symbol`` is the ``O:`` ticker."""


MarketEvent = SecondAgg | MinuteAgg | IndexValue | Trade | Quote | OptionQuote | OptionTrade
