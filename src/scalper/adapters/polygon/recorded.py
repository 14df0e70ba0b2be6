"""Recorded sessions from the database, served by the replay server over the Polygon/Massive protocol.

Websocket (:func:`recorded_sources`): one frame source per market over one or more recorded New
York dates; each connection (or the live timeline) reads the store afresh, one time window at a
time, so memory stays bounded by the window (``window_s`` of send time), never by the session.
What each market serves, and from which table:

* ``indices`` (symbols ``I:...``): ``A`` from ``agg_1s``, ``AM`` from ``bars`` (``1m``), and ``V``
  *derived* from ``agg_1s``: raw index values are not stored, so each recorded second gives one
  ``V`` whose ``val`` is the second's close and whose ``t`` is the second's last millisecond
  (``start + 999``), the earliest time by which that close is certainly known (no look-ahead).
* ``stocks`` (every other symbol except ``O:...``): ``T`` from ``trades`` (timestamps truncated to
  the millisecond, as the protocol sends them), ``Q`` from ``quotes_1s``: **one NBBO per second**
  (the last of the second, as stored), with ``t`` the second's last millisecond; ``A`` from
  ``agg_1s`` and ``AM`` from ``bars`` (``1m``).

Events carry exactly what the store holds: fields it does not record are left out rather than
made up (``op``, ``av``, ``a`` on aggregates; ``bx``, ``ax``, ``c``, ``i``, ``q``, ``z`` on quotes;
``trfi``/``trft`` on trades), and so are NULL columns. ``z`` on stock aggregates is
volume / trades (rounded), when both are stored. A consumer storing the stream back therefore
gets the same seconds, bars and trades, and the same one-second NBBO (with an update count of 1).

Frames follow the synthetic renderer's send-time rule (:mod:`scalper.synthetic.polygon_events`):
the frame sent at whole second S carries the trades/quotes/values with S-1s < t <= S (ms) and the
bars whose end is 2 s before S; within a frame, events are ordered by that time, then V/T before
Q before A before AM, then store order; a second with more than ``MAX_FRAME_EVENTS`` events is
split into several frames with the same send time. Rows belong to the date whose New York day
holds their ``ts`` (window start), and dates are served in calendar order.

REST (:class:`RecordedDays`, a :class:`~.replay_rest.RestData`): ``/v2/aggs`` answers ``second``
from ``agg_1s``, ``minute`` from ``bars`` ``1m``, ``day`` from ``bars`` ``1d``, and any other width
by grouping recorded bars on Unix-epoch multiples: the ``1m`` bars when the width is whole minutes
(so a 5-minute volume is the sum of the served minute volumes), else the seconds. VWAP of a group
is the volume-weighted mean of its bars' VWAPs. Only rows within the served dates are served. The
chain snapshot answers from the latest recorded ``option_snapshots`` of the served dates (empty
when there is none); see :meth:`RecordedDays.chain_results` for the field mapping.

Both read through ``connect`` (a callable returning a new connection): each call of a frame source
opens one (per websocket connection in replay mode, once per market in live mode) and closes it
when the stream ends; :class:`RecordedDays` opens one per request (requests run in threads).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import math
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import psycopg
from psycopg import sql

from scalper.adapters.polygon.replay_rest import Body
from scalper.adapters.polygon.timeline import FrameSource
from scalper.core.timeutil import NEW_YORK, NS_PER_MS, NS_PER_S, datetime_to_ns, ns_to_datetime
from scalper.synthetic.polygon_events import AGG_DELAY_MS, MAX_FRAME_EVENTS, Frame

Connect = Callable[[], psycopg.Connection[Any]]
Row = tuple[Any, ...]

RECORDED_MARKETS: Final = ("indices", "stocks")
WINDOW_S: Final = 300  # send time read from the store per query batch
SECOND_MS: Final = 1_000
MINUTE_MS: Final = 60_000
LAST_MS_OF_SECOND: Final = 999  # V and Q stand for the whole second: stamped at its last millisecond

_US = "(EXTRACT(EPOCH FROM ts) * 1000000)::int8"
# The symbols of each table, one primary-key probe per symbol (a loose index scan): window queries
# then read ``symbol = ANY(...)`` ranges on the (symbol, ts) primary key, whatever the row order on disk.
_DISTINCT_SYMBOLS = (
    "WITH RECURSIVE s AS (SELECT min(symbol) AS symbol FROM {t} UNION ALL "
    "SELECT (SELECT min(symbol) FROM {t} WHERE symbol > s.symbol) FROM s WHERE s.symbol IS NOT NULL) "
    "SELECT symbol FROM s WHERE symbol IS NOT NULL"
)
_encode = msgspec.json.Encoder().encode


# --- websocket frame sources -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Stream:
    """One event kind read from one table: its query, timing and rendering.

    ``offset_ms`` maps a row's ``ts`` (ms) to the event's ordering time: the event's own ``t`` for
    V/T/Q, the bar's end plus the 2 s publication delay for A/AM.
    """

    ev: str
    table: str
    columns: str  # after ``symbol, <ts in µs>``
    extra_filter: str  # ANDed to the symbol and time filters
    order: str
    offset_ms: int
    rank: int
    render: Callable[[Row], dict[str, Any]]


def _number(value: float) -> int | float:
    """Whole float values as ints (sizes, volumes), as the feed sends them."""
    return int(value) if math.isfinite(value) and value.is_integer() else value


def _value(row: Row) -> dict[str, Any]:
    symbol, us, close = row
    return {"ev": "V", "val": close, "T": symbol, "t": us // 1000 + LAST_MS_OF_SECOND}


def _aggregate(ev: str, width_ms: int) -> Callable[[Row], dict[str, Any]]:
    def render(row: Row) -> dict[str, Any]:
        symbol, us, open_, high, low, close, volume, vwap, trades = row
        start = us // 1000
        event: dict[str, Any] = {"ev": ev, "sym": symbol}
        if volume is not None:
            event["v"] = _number(volume)
        if vwap is not None:
            event["vw"] = vwap
        event |= {"o": open_, "c": close, "h": high, "l": low}
        if volume is not None and trades:
            event["z"] = round(volume / trades)
        event |= {"s": start, "e": start + width_ms}
        return event

    return render


def _trade(row: Row) -> dict[str, Any]:
    symbol, us, sequence, price, size, exchange, trade_id, conditions, tape = row
    event: dict[str, Any] = {"ev": "T", "sym": symbol}
    for key, value in (("x", exchange), ("i", trade_id), ("z", tape)):
        if value is not None:
            event[key] = value
    event |= {"p": price, "s": _number(size)}
    if conditions is not None:
        event["c"] = [int(code) for code in conditions.split(",") if code.strip()]
    event |= {"t": us // 1000, "q": sequence}
    return event


def _quote(row: Row) -> dict[str, Any]:
    symbol, us, bid, bid_size, ask, ask_size = row
    event: dict[str, Any] = {"ev": "Q", "sym": symbol}
    for key, value in (("bp", bid), ("bs", bid_size), ("ap", ask), ("as", ask_size)):
        if value is not None:
            event[key] = _number(value) if key.endswith("s") else value
    event["t"] = us // 1000 + LAST_MS_OF_SECOND
    return event


_AGG_COLUMNS = "open, high, low, close, volume, vwap, trades"
_SECOND_BAR = _Stream(
    "A", "agg_1s", _AGG_COLUMNS, "TRUE", "ts, symbol", SECOND_MS + AGG_DELAY_MS, 2, _aggregate("A", SECOND_MS)
)
_MINUTE_BAR = _Stream(
    "AM",
    "bars",
    _AGG_COLUMNS,
    "timeframe = '1m'",
    "ts, symbol",
    MINUTE_MS + AGG_DELAY_MS,
    3,
    _aggregate("AM", MINUTE_MS),
)
STREAMS: Final[dict[str, tuple[_Stream, ...]]] = {
    "indices": (
        _Stream("V", "agg_1s", "close", "TRUE", "ts, symbol", LAST_MS_OF_SECOND, 0, _value),
        _SECOND_BAR,
        _MINUTE_BAR,
    ),
    "stocks": (
        _Stream(
            "T",
            "trades",
            "sequence, price, size, exchange, trade_id, conditions, tape",
            "TRUE",
            "ts, symbol, sequence",
            0,
            0,
            _trade,
        ),
        _Stream("Q", "quotes_1s", "bid, bid_size, ask, ask_size", "TRUE", "ts, symbol", LAST_MS_OF_SECOND, 1, _quote),
        _SECOND_BAR,
        _MINUTE_BAR,
    ),
}


def day_bounds_ns(day: dt.date) -> tuple[int, int]:
    """``[start, end)`` of the New York calendar day ``day``, in ns UTC."""
    start = datetime_to_ns(dt.datetime.combine(day, dt.time(), NEW_YORK))
    end = datetime_to_ns(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), NEW_YORK))
    return start, end


class _MarketReader:
    """Reads one market's recorded events over one connection, a send-time window at a time."""

    def __init__(self, conn: psycopg.Connection[Any], market: str, symbols: Collection[str] | None) -> None:
        self.conn, self.market, self.streams = conn, market, STREAMS[market]
        self._wanted = set(symbols) if symbols is not None else None
        self._symbols: dict[str, list[str]] = {}

    def symbols(self, table: str) -> list[str]:
        """The market's symbols present in ``table`` (restricted to the wanted ones, if any)."""
        if table not in self._symbols:
            query = sql.SQL(_DISTINCT_SYMBOLS).format(t=sql.Identifier(table))
            found = [str(row[0]) for row in self.conn.execute(query)]
            self._symbols[table] = [
                s for s in found if market_of(s) == self.market and (self._wanted is None or s in self._wanted)
            ]
        return self._symbols[table]

    @staticmethod
    def _where(stream: _Stream) -> sql.Composable:
        return sql.SQL("symbol = ANY(%(symbols)s) AND {} AND ts >= %(lo)s AND ts < %(hi)s").format(
            sql.SQL(stream.extra_filter)
        )

    def _params(self, stream: _Stream, lo_ns: int, hi_ns: int) -> dict[str, Any]:
        return {"lo": ns_to_datetime(lo_ns), "hi": ns_to_datetime(hi_ns), "symbols": self.symbols(stream.table)}

    def send_range_ms(self, day: dt.date) -> tuple[int, int] | None:
        """Earliest and latest ordering time (ms) of the day's events, or None when nothing is recorded."""
        lo_ns, hi_ns = day_bounds_ns(day)
        keys: list[int] = []
        for stream in self.streams:
            query = sql.SQL("SELECT min(ts), max(ts) FROM {t} WHERE {w}").format(
                t=sql.Identifier(stream.table), w=self._where(stream)
            )
            first, last = self.conn.execute(query, self._params(stream, lo_ns, hi_ns)).fetchone() or (None, None)
            if first is not None and last is not None:
                keys += [_ms_of(first) + stream.offset_ms, _ms_of(last) + stream.offset_ms]
        return (min(keys), max(keys)) if keys else None

    def frames(self, day: dt.date, after_ms: int, until_ms: int) -> list[Frame]:
        """Frames of the events of ``day`` whose ordering time is in ``(after_ms, until_ms]`` (whole seconds)."""
        day_lo, day_hi = day_bounds_ns(day)
        events: list[tuple[int, int, int, dict[str, Any]]] = []
        serial = itertools.count()
        for stream in self.streams:
            # ordering time t + offset in (after, until]  <=>  ts in [after + 1 - offset, until + 1 - offset) ms
            lo_ns = max(day_lo, (after_ms + 1 - stream.offset_ms) * NS_PER_MS)
            hi_ns = min(day_hi, (until_ms + 1 - stream.offset_ms) * NS_PER_MS)
            if lo_ns >= hi_ns:
                continue
            query = sql.SQL("SELECT symbol, {us}, {c} FROM {t} WHERE {w} ORDER BY {o}").format(
                us=sql.SQL(_US),
                c=sql.SQL(stream.columns),
                t=sql.Identifier(stream.table),
                w=self._where(stream),
                o=sql.SQL(stream.order),
            )
            for row in self.conn.execute(query, self._params(stream, lo_ns, hi_ns)):
                events.append((row[1] // 1000 + stream.offset_ms, stream.rank, next(serial), stream.render(row)))
        return frames_of(events)


def market_of(symbol: str) -> str:
    """The websocket market a stored symbol is served on: ``I:`` indices, ``O:`` options, else stocks."""
    return {"I:": "indices", "O:": "options"}.get(symbol[:2], "stocks")


def _ms_of(ts: dt.datetime) -> int:
    return datetime_to_ns(ts) // NS_PER_MS


def frames_of(events: list[tuple[int, int, int, dict[str, Any]]]) -> list[Frame]:
    """Group ``(ordering ms, rank, serial, event)`` into frames by the send-time rule (see the module doc)."""
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    frames: list[Frame] = []
    for send_s, group in itertools.groupby(events, key=lambda e: -(-e[0] // SECOND_MS)):
        batch = [e[3] for e in group]
        for start in range(0, len(batch), MAX_FRAME_EVENTS):
            part = batch[start : start + MAX_FRAME_EVENTS]
            frames.append(Frame(send_ns=send_s * NS_PER_S, data=_encode(part), events=len(part)))
    return frames


def recorded_sources(
    connect: Connect,
    dates: Iterable[dt.date],
    *,
    symbols: Collection[str] | None = None,
    window_s: int = WINDOW_S,
) -> dict[str, FrameSource]:
    """Frame sources for ``indices`` and ``stocks`` over the recorded ``dates`` (``symbols``: all when None).

    Each call of a source opens its own connection with ``connect`` and streams the dates in order.
    """
    days = sorted(set(dates))
    if window_s < 1:
        raise ValueError(f"window_s: expected >= 1, was {window_s!r}")

    def source_of(market: str) -> FrameSource:
        def source() -> AsyncIterator[Frame]:
            return _recorded_frames(connect, market, days, symbols, window_s * SECOND_MS)

        return source

    return {market: source_of(market) for market in RECORDED_MARKETS}


async def _recorded_frames(
    connect: Connect, market: str, days: Sequence[dt.date], symbols: Collection[str] | None, window_ms: int
) -> AsyncIterator[Frame]:
    """Read window after window on worker threads, so other connections keep streaming meanwhile."""
    conn = await asyncio.to_thread(connect)
    try:
        reader = _MarketReader(conn, market, symbols)
        for day in days:
            span = await asyncio.to_thread(reader.send_range_ms, day)
            if span is None:
                continue
            after = (span[0] - 1) // SECOND_MS * SECOND_MS  # whole seconds: a frame never straddles windows
            while after < span[1]:
                until = after + window_ms
                for frame in await asyncio.to_thread(reader.frames, day, after, until):
                    yield frame
                after = until
    finally:
        conn.close()


# --- REST ------------------------------------------------------------------------------------
_TIMEFRAMES: Final = {NS_PER_S: ("agg_1s", None), 60 * NS_PER_S: ("bars", "1m"), None: ("bars", "1d")}
_AGG_SELECT = f"{_US}, open, high, low, close, volume, vwap, trades"
_BUCKETED = (
    "SELECT (EXTRACT(EPOCH FROM b) * 1000000)::int8, o, h, l, c, v, CASE WHEN v > 0 THEN pv / v END, n FROM ("
    " SELECT date_bin(%(width)s, ts, 'epoch'::timestamptz) AS b,"
    " (array_agg(open ORDER BY ts))[1] AS o, max(high) AS h, min(low) AS l,"
    " (array_agg(close ORDER BY ts DESC))[1] AS c, sum(volume) AS v, sum(vwap * volume) AS pv, sum(trades) AS n"
    " FROM {table} WHERE symbol = %(symbol)s {frame}AND ts >= %(day_lo)s AND ts < %(day_hi)s GROUP BY b) AS w"
    " WHERE b >= %(lo)s AND b <= %(hi)s"
)


class RecordedDays:
    """REST data (:class:`~.replay_rest.RestData`) read from the store for the recorded ``dates``."""

    def __init__(self, connect: Connect, dates: Iterable[dt.date]) -> None:
        self.connect = connect
        self.dates = sorted(set(dates))
        if not self.dates:
            raise ValueError("RecordedDays: expected at least one date")

    def agg_rows(
        self, ticker: str, width_ns: int | None, lo_ns: int, hi_ns: int, *, descending: bool, limit: int
    ) -> list[Body]:
        """Recorded aggregates of ``ticker`` starting in ``[lo_ns, hi_ns]`` within the served dates."""
        rows: list[Body] = []
        days = reversed(self.dates) if descending else iter(self.dates)
        with self.connect() as conn:
            for day in days:
                day_lo, day_hi = day_bounds_ns(day)
                if day_hi <= lo_ns or day_lo > hi_ns or len(rows) >= limit:
                    continue
                found = conn.execute(
                    self._agg_query(width_ns, descending),
                    {
                        "symbol": ticker,
                        "lo": ns_to_datetime(max(lo_ns, day_lo)),
                        "hi": ns_to_datetime(min(hi_ns, day_hi - 1)),
                        "day_lo": ns_to_datetime(day_lo),
                        "day_hi": ns_to_datetime(day_hi),
                        "width": dt.timedelta(microseconds=(width_ns or 0) // 1000),
                        "limit": limit - len(rows),
                    },
                ).fetchall()
                rows += [_agg_result(ticker, row) for row in found]
        return rows

    @staticmethod
    def _agg_query(width_ns: int | None, descending: bool) -> sql.Composed:
        order = sql.SQL("DESC" if descending else "ASC")
        if width_ns in _TIMEFRAMES:
            table, timeframe = _TIMEFRAMES[width_ns]
            frame = sql.SQL("AND timeframe = {} ").format(sql.Literal(timeframe)) if timeframe else sql.SQL("")
            return sql.SQL(
                "SELECT {s} FROM {t} WHERE symbol = %(symbol)s {f}AND ts >= %(lo)s AND ts <= %(hi)s "
                "ORDER BY ts {o} LIMIT %(limit)s"
            ).format(s=sql.SQL(_AGG_SELECT), t=sql.Identifier(table), f=frame, o=order)
        assert width_ns is not None
        table, timeframe = _TIMEFRAMES[60 * NS_PER_S if width_ns % (60 * NS_PER_S) == 0 else NS_PER_S]
        frame = sql.SQL("AND timeframe = {} ").format(sql.Literal(timeframe)) if timeframe else sql.SQL("")
        grouped = sql.SQL(_BUCKETED).format(table=sql.Identifier(table), frame=frame)
        return sql.SQL("{q} ORDER BY b {o} LIMIT %(limit)s").format(q=grouped, o=order)

    def chain_results(self, underlying: str) -> list[Body]:
        """The latest recorded chain snapshot of ``underlying`` (``SPX`` also finds ``I:SPX``).

        Mapping (only what ``option_snapshots`` holds): ``details`` from ticker/contract_type/expiry/
        strike; ``implied_volatility``, ``open_interest``; ``greeks`` when all four are stored;
        ``last_quote`` {bid, ask, midpoint, last_updated = snapshot ns} when bid and ask are;
        ``day`` {close = last_price, volume}; ``underlying_asset`` {ticker, value (indices) or
        price, last_updated}. NULL columns are left out.
        """
        names = [underlying] if underlying.startswith("I:") else [underlying, f"I:{underlying}"]
        lo_ns, hi_ns = day_bounds_ns(self.dates[0])[0], day_bounds_ns(self.dates[-1])[1]
        params = {"names": names, "lo": ns_to_datetime(lo_ns), "hi": ns_to_datetime(hi_ns)}
        with self.connect() as conn:
            found = conn.execute(
                "SELECT underlying, ts FROM option_snapshots WHERE underlying = ANY(%(names)s) "
                "AND ts >= %(lo)s AND ts < %(hi)s ORDER BY ts DESC LIMIT 1",
                params,
            ).fetchone()
            if found is None:
                return []
            rows = conn.execute(
                "SELECT ticker, contract_type, expiry, strike, bid, ask, last_price, iv, delta, gamma, theta, vega, "
                "open_interest, volume, underlying_price FROM option_snapshots "
                "WHERE underlying = %s AND ts = %s ORDER BY expiry, strike, contract_type, ticker",
                found,
            ).fetchall()
        return [_chain_result(found[0], datetime_to_ns(found[1]), row) for row in rows]


def _agg_result(ticker: str, row: Row) -> Body:
    """An aggregate result; index tickers (``I:``) carry only ``o,h,l,c,t``; NULL columns are left out."""
    us, open_, high, low, close, volume, vwap, trades = row
    ohlc = {"o": open_, "h": high, "l": low, "c": close}
    if ticker.startswith("I:"):
        return {**ohlc, "t": us // 1000}
    body: Body = {}
    if volume is not None:
        body["v"] = _number(volume)
    if vwap is not None:
        body["vw"] = vwap
    body |= {**ohlc, "t": us // 1000}
    if trades is not None:
        body["n"] = int(trades)
    return body


def _chain_result(underlying: str, ts_ns: int, row: Row) -> Body:
    ticker, kind, expiry, strike, bid, ask, last, iv, delta, gamma, theta, vega, oi, volume, spot = row
    result: Body = {
        "details": {
            "contract_type": kind,
            "expiration_date": expiry.isoformat(),
            "strike_price": strike,
            "ticker": ticker,
        }
    }
    if None not in (delta, gamma, theta, vega):
        result["greeks"] = {"delta": delta, "gamma": gamma, "theta": theta, "vega": vega}
    if iv is not None:
        result["implied_volatility"] = iv
    if oi is not None:
        result["open_interest"] = int(oi)
    if bid is not None and ask is not None:
        result["last_quote"] = {"bid": bid, "ask": ask, "midpoint": round(0.5 * (bid + ask), 4), "last_updated": ts_ns}
    result["day"] = {k: v for k, v in (("close", last), ("volume", volume)) if v is not None}
    if spot is not None:
        key = "value" if underlying.startswith("I:") else "price"
        result["underlying_asset"] = {"ticker": underlying, key: spot, "last_updated": ts_ns}
    return result
