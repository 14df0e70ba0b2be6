"""The replay server's REST endpoints (POLYGON.md), answered from the sessions it replays.

* ``GET /v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}``: ``timespan``
  ``second``, ``minute``, ``hour`` (any multiplier; windows aligned on Unix-epoch multiples,
  computed exactly from the day's trades/values, not by merging bars) and ``day`` (multiplier 1
  only, else 400). ``from``/``to`` are ``YYYY-MM-DD`` (whole New York days, inclusive) or Unix ms
  (inclusive window starts). ``limit`` 1..50,000 results per page (default 5,000; larger values
  are capped, as the service does). Pages chain by ``next_url``, whose path carries the next
  window start and whose opaque ``cursor`` carries ``adjusted``/``sort``/``limit``.
* ``GET /v3/snapshot/options/{underlying}`` (``SPX``, ``I:SPX``, ``SPY``): the chain as of the
  close of the last served session, filtered by ``strike_price``/``expiration_date`` (exact or
  ``.gt/.gte/.lt/.lte``) and ``contract_type``; ``limit`` 1..250 (default 10); paginated by a
  ``cursor`` holding the filters and the offset.

Auth: ``Authorization: Bearer KEY`` or ``apiKey=KEY``; 401 when missing or not the configured
key. Faults: ``rest_rate_limit_after``/``rest_rate_limit_count`` (429) and ``rest_forbidden``
(403 on index aggregates). Error bodies: ``{"status":"ERROR","request_id":...,"error":...}``.
Handlers are synchronous (run in a worker thread by the server). The data behind the answers is
a :class:`RestData`: :class:`SyntheticDays` (generated sessions, cached; :func:`synthetic_sources`
renders the websocket frames from the same cache) or ``recorded.RecordedDays`` (the database).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import itertools
import json
import math
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import numpy as np

from scalper.adapters.polygon.faults import Faults, rate_limited
from scalper.adapters.polygon.timeline import FrameSource
from scalper.core.timeutil import NEW_YORK, NS_PER_MS, NS_PER_S, datetime_to_ns
from scalper.marketdata.aggregate import MINUTE_NS, TradeBars, ValueBars, trades_to_bars, values_to_bars
from scalper.synthetic.market import INDEX_TICKERS, STOCK_TICKERS, MarketDay, generate_market_days
from scalper.synthetic.options import OptionDay, generate_option_day
from scalper.synthetic.polygon_events import MARKETS, Frame, iter_frames, snapshot_results

AGGS_MAX_LIMIT: Final = 50_000
AGGS_DEFAULT_LIMIT: Final = 5_000
CHAIN_MAX_LIMIT: Final = 250
CHAIN_DEFAULT_LIMIT: Final = 10
UNITS_NS: Final = {"second": NS_PER_S, "minute": MINUTE_NS, "hour": 60 * MINUTE_NS}
CHAIN_UNDERLYINGS: Final = {"SPX": 0, "I:SPX": 0, "SPY": 1}
FORBIDDEN_MESSAGE: Final = "You are not entitled to this data. Please upgrade your plan at https://massive.com/pricing"

Body = dict[str, Any]


class RestData(Protocol):
    """What :class:`RestApi` needs from the sessions it serves: aggregate results and the chain.

    Implementations are called from worker threads and must be thread-safe.
    """

    def agg_rows(
        self, ticker: str, width_ns: int | None, lo_ns: int, hi_ns: int, *, descending: bool, limit: int
    ) -> list[Body]:
        """At most ``limit`` aggregate results of ``ticker`` for windows of ``width_ns`` (None: day
        bars) starting in ``[lo_ns, hi_ns]``, ordered by ``t`` (newest first when ``descending``).
        Index results carry only ``o,h,l,c,t``; stock results add ``v,vw,n``. An unknown ticker has none."""
        ...

    def chain_results(self, underlying: str) -> list[Body]:
        """The ``/v3/snapshot/options/{underlying}`` results (unfiltered), empty when there is no chain."""
        ...


def is_rest_path(path: str) -> bool:
    """Whether a request path belongs to the REST API (``/v2/...`` or ``/v3/...``)."""
    return urlsplit(path).path.startswith(("/v2/", "/v3/"))


class SyntheticDays:
    """The synthetic sessions the server replays, generated once on first use and cached."""

    def __init__(self, start: dt.date, sessions: int, seed: int) -> None:
        self.start, self.sessions, self.seed = start, sessions, seed
        self._lock = threading.Lock()
        self._pending: Iterator[MarketDay] | None = None
        self._days: list[MarketDay] = []
        self._options: dict[dt.date, OptionDay] = {}
        self._bars: dict[tuple[dt.date, str, int], ValueBars] = {}

    def days(self) -> list[MarketDay]:
        """Every served session, in date order."""
        while self.day(len(self._days)) is not None:
            pass
        return self._days

    def day(self, index: int) -> MarketDay | None:
        """The ``index``-th served session (generated up to it on first use), None past the last."""
        with self._lock:
            if self._pending is None:
                self._pending = generate_market_days(self.start, self.sessions, self.seed)
            while len(self._days) <= index and (day := next(self._pending, None)) is not None:
                self._days.append(day)
            return self._days[index] if index < len(self._days) else None

    def options(self, day: MarketDay) -> OptionDay:
        """The option market of ``day`` (its chain snapshot at the close)."""
        with self._lock:
            if day.window.day not in self._options:
                self._options[day.window.day] = generate_option_day(day, self.seed)
            return self._options[day.window.day]

    def bars(self, day: MarketDay, kind: str, width_ns: int | None) -> ValueBars:
        """``kind`` (index|stock) bars of ``width_ns`` (None: the day bar), exact from ticks/trades."""
        if width_ns is None:
            return day.index_days if kind == "index" else day.stock_days
        if width_ns in (NS_PER_S, MINUTE_NS):
            seconds = width_ns == NS_PER_S
            if kind == "index":
                return day.index_seconds if seconds else day.index_minutes
            return day.stock_seconds if seconds else day.stock_minutes
        with self._lock:
            key = (day.window.day, kind, width_ns)
            if key not in self._bars:
                self._bars[key] = _bars_of_width(day, kind, width_ns)
            return self._bars[key]

    def agg_rows(
        self, ticker: str, width_ns: int | None, lo_ns: int, hi_ns: int, *, descending: bool, limit: int
    ) -> list[Body]:
        """:meth:`RestData.agg_rows` over the generated sessions (bars exact from the ticks/trades)."""
        if ticker in INDEX_TICKERS:
            kind, code, render = "index", INDEX_TICKERS.index(ticker), _index_result
        elif ticker in STOCK_TICKERS:
            kind, code, render = "stock", STOCK_TICKERS.index(ticker), _stock_result
        else:
            return []  # the service answers an unknown ticker with no results, not an error
        rows: list[Body] = []
        for day in self.days():
            if day.window.midnight_ns + 86_400 * NS_PER_S <= lo_ns or day.window.midnight_ns > hi_ns:
                continue
            bars = self.bars(day, kind, width_ns)
            picked = (bars.symbol == code) & (bars.start_ns >= lo_ns) & (bars.start_ns <= hi_ns)
            rows += [render(bars, i) for i in np.flatnonzero(picked).tolist()]
        rows.sort(key=lambda r: int(r["t"]), reverse=descending)
        return rows[:limit]

    def chain_results(self, underlying: str) -> list[Body]:
        """The chain of the last served session at its close (SPX/I:SPX or SPY)."""
        if underlying not in CHAIN_UNDERLYINGS:
            return []
        day = self.days()[-1]
        return snapshot_results(self.options(day), day, CHAIN_UNDERLYINGS[underlying])


def synthetic_sources(
    start: dt.date, sessions: int, seed: int, data: SyntheticDays | None = None
) -> dict[str, FrameSource]:
    """Frame sources for every market over ``sessions`` synthetic days; ``data`` shares the REST cache."""
    shared = data or SyntheticDays(start, sessions, seed)
    return {market: _synthetic(market, shared) for market in MARKETS}


def _synthetic(market: str, data: SyntheticDays) -> FrameSource:
    def source() -> AsyncIterable[Frame]:
        return _synthetic_frames(market, data)

    return source


async def _synthetic_frames(market: str, data: SyntheticDays) -> AsyncIterator[Frame]:
    """Render one day at a time in a worker thread, so other connections keep streaming."""
    for index in itertools.count():
        day = await asyncio.to_thread(data.day, index)
        if day is None:
            return
        frames = await asyncio.to_thread(_day_frames, market, day, data)
        for frame in frames:
            yield frame


def _day_frames(market: str, day: MarketDay, data: SyntheticDays) -> list[Frame]:
    options = data.options(day) if market == "options" else None
    return list(iter_frames(market, day, options))


def _bars_of_width(day: MarketDay, kind: str, width_ns: int) -> ValueBars:
    if kind == "index":
        ticks = day.index_ticks
        return values_to_bars(ticks.symbol, ticks.ts_ns, ticks.value, window_ns=width_ns)
    t = day.trades
    return trades_to_bars(t.symbol, t.sip_ns, t.price, t.size, t.conditions, window_ns=width_ns)


class _HttpError(Exception):
    """An error answer: HTTP status and body (the request id is filled in by the dispatcher)."""

    def __init__(self, code: int, message: str, state: str = "ERROR", key: str = "error") -> None:
        super().__init__(message)
        self.code, self.message, self.state, self.key = code, message, state, key


def _bad(param: str, problem: str) -> _HttpError:
    return _HttpError(400, f"Could not parse the request parameter '{param}': {problem}")


@dataclass(frozen=True, slots=True)
class _Request:
    """One parsed REST request."""

    segments: list[str]
    query: dict[str, str]
    base_url: str
    request_id: str


class RestApi:
    """Answers REST requests; :meth:`handle` is thread-safe and returns (HTTP status, JSON text)."""

    def __init__(self, data: RestData, api_key: str | None = None) -> None:
        self.data = data
        self.api_key = api_key
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._authorised = 0
        self.log: list[tuple[str, int]] = []  # (path without query, status) of every request

    def handle(self, target: str, headers: Mapping[str, str], faults: Faults) -> tuple[int, str]:
        """Answer ``GET target``; ``headers`` have lower-case names."""
        parts = urlsplit(target)
        with self._lock:
            request_id = f"{next(self._ids):032x}"
        request = _Request(
            segments=[unquote(s) for s in parts.path.split("/") if s],
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            base_url=f"http://{headers.get('host', 'localhost')}",
            request_id=request_id,
        )
        try:
            code, body = 200, self._dispatch(request, headers, faults)
        except _HttpError as exc:
            code, body = exc.code, {"status": exc.state, "request_id": request_id, exc.key: exc.message}
        with self._lock:
            self.log.append((parts.path, code))
        return code, json.dumps(body, separators=(",", ":"))

    def _dispatch(self, request: _Request, headers: Mapping[str, str], faults: Faults) -> Body:
        self._authorise(request, headers, faults)
        s = request.segments
        if len(s) == 9 and s[:3] == ["v2", "aggs", "ticker"] and s[4] == "range":
            if faults.rest_forbidden and s[3].startswith("I:"):
                raise _HttpError(403, FORBIDDEN_MESSAGE, state="NOT_AUTHORIZED", key="message")
            return self._aggs(request)
        if len(s) == 4 and s[:3] == ["v3", "snapshot", "options"]:
            return self._chain(request)
        raise _HttpError(404, f"route not found: /{'/'.join(s)}")

    def _authorise(self, request: _Request, headers: Mapping[str, str], faults: Faults) -> None:
        auth = headers.get("authorization", "")
        key = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else request.query.pop("apiKey", "")
        request.query.pop("apiKey", None)
        if not key:
            raise _HttpError(401, "API Key was not provided")
        if self.api_key is not None and key != self.api_key:
            raise _HttpError(401, "Unknown API Key")
        with self._lock:
            self._authorised += 1
            number = self._authorised
        if rate_limited(faults, number):
            raise _HttpError(429, "You've exceeded the maximum requests per minute, please wait or upgrade.")

    # --- aggregates -----------------------------------------------------------------------------
    def _aggs(self, request: _Request) -> Body:
        ticker, multiplier, timespan, start, end = request.segments[3], *request.segments[5:9]
        query = _with_cursor(request.query)
        width = _width(_positive_int("multiplier", multiplier), timespan)
        lo, hi = _bound("from", start, first=True), _bound("to", end, first=False)
        sort = query.get("sort", "asc")
        if sort not in ("asc", "desc"):
            raise _bad("sort", f"expected asc or desc, was {sort!r}")
        limit = min(_positive_int("limit", query.get("limit", str(AGGS_DEFAULT_LIMIT))), AGGS_MAX_LIMIT)
        adjusted = query.get("adjusted", "true")
        if adjusted not in ("true", "false"):
            raise _bad("adjusted", f"expected true or false, was {adjusted!r}")
        rows = self.data.agg_rows(ticker, width, lo, hi, descending=sort == "desc", limit=limit + 1)
        page = rows[:limit]
        body: Body = {"ticker": ticker, "queryCount": len(page), "resultsCount": len(page)}
        body |= {"adjusted": adjusted == "true", "status": "OK", "request_id": request.request_id}
        if page:
            body["results"] = page  # the service leaves the key out when there are none
        if len(rows) > limit:
            nxt = int(rows[limit]["t"])
            lo_ms, hi_ms = (nxt, hi // NS_PER_MS) if sort == "asc" else (-(-lo // NS_PER_MS), nxt)
            cursor = _encode_cursor({"adjusted": adjusted, "sort": sort, "limit": str(limit)})
            path = f"/v2/aggs/ticker/{quote(ticker, safe=':')}/range/{multiplier}/{timespan}/{lo_ms}/{hi_ms}"
            body["next_url"] = f"{request.base_url}{path}?cursor={cursor}"
        return body

    # --- options chain snapshot -----------------------------------------------------------------
    def _chain(self, request: _Request) -> Body:
        underlying = request.segments[3]
        query = _with_cursor(request.query)
        offset = int(query.pop("offset", "0"))
        limit = _positive_int("limit", query.get("limit", str(CHAIN_DEFAULT_LIMIT)))
        if limit > CHAIN_MAX_LIMIT:
            raise _bad("limit", f"expected at most {CHAIN_MAX_LIMIT}, was {limit}")
        keep = _chain_filter(query)
        results = [r for r in self.data.chain_results(underlying) if keep(r["details"])]
        body: Body = {"status": "OK", "request_id": request.request_id, "results": results[offset : offset + limit]}
        if offset + limit < len(results):
            cursor = _encode_cursor({**query, "offset": str(offset + limit)})
            body["next_url"] = f"{request.base_url}/v3/snapshot/options/{quote(underlying, safe=':')}?cursor={cursor}"
        return body


# --- parameter parsing -------------------------------------------------------------------------
def _with_cursor(query: dict[str, str]) -> dict[str, str]:
    """The query with an opaque ``cursor`` expanded into the parameters it carries."""
    cursor = query.pop("cursor", None)
    if cursor is None:
        return query
    try:
        carried = dict(parse_qsl(base64.urlsafe_b64decode(cursor.encode()).decode(), keep_blank_values=True))
    except ValueError as exc:
        raise _bad("cursor", "not a cursor from a next_url") from exc
    return {**query, **carried}


def _encode_cursor(params: Mapping[str, str]) -> str:
    return base64.urlsafe_b64encode(urlencode(params).encode()).decode()


def _positive_int(name: str, text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise _bad(name, f"expected a positive integer, was {text!r}")
    return int(text)


def _width(multiplier: int, timespan: str) -> int | None:
    """Window width in ns for ``multiplier`` x ``timespan``; None for the (single) day bar."""
    if timespan == "day":
        if multiplier != 1:
            raise _bad("multiplier", f"the replay server serves day bars with multiplier 1 only, was {multiplier}")
        return None
    if timespan not in UNITS_NS:
        raise _bad("timespan", f"expected second, minute, hour or day, was {timespan!r}")
    return multiplier * UNITS_NS[timespan]


def _bound(name: str, text: str, *, first: bool) -> int:
    """``from``/``to`` as an inclusive ns bound: Unix ms, or the start/end of a New York day."""
    if text.isdigit():
        return int(text) * NS_PER_MS
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise _bad(name, f"expected YYYY-MM-DD or Unix milliseconds, was {text!r}") from exc
    midnight = datetime_to_ns(dt.datetime.combine(day if first else day + dt.timedelta(days=1), dt.time(), NEW_YORK))
    return midnight if first else midnight - 1


def _chain_filter(query: Mapping[str, str]) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate over a result's ``details`` for the strike/expiry/type filters of ``query``."""
    tests: list[Callable[[Mapping[str, Any]], bool]] = []
    for name, value in query.items():
        field, _, op = name.partition(".")
        if field == "strike_price":
            tests.append(_compare(field, op, _float(name, value)))
        elif field == "expiration_date":
            tests.append(_compare(field, op, _date(name, value)))
        elif name == "contract_type":
            if value not in ("call", "put"):
                raise _bad(name, f"expected call or put, was {value!r}")
            tests.append(_compare(name, "", value))
        elif name not in ("limit", "order", "sort"):
            raise _bad(name, "unknown parameter")
    return lambda details: all(test(details) for test in tests)


def _compare(field: str, op: str, bound: Any) -> Callable[[Mapping[str, Any]], bool]:
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "": lambda a, b: bool(a == b),
        "gt": lambda a, b: bool(a > b),
        "gte": lambda a, b: bool(a >= b),
        "lt": lambda a, b: bool(a < b),
        "lte": lambda a, b: bool(a <= b),
    }
    if op not in ops:
        raise _bad(f"{field}.{op}", "unknown comparison")
    compare = ops[op]
    return lambda details: compare(details[field], bound)


def _float(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise _bad(name, f"expected a number, was {text!r}") from exc
    if not math.isfinite(value):
        raise _bad(name, f"expected a finite number, was {text!r}")
    return value


def _date(name: str, text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise _bad(name, f"expected YYYY-MM-DD, was {text!r}") from exc


# --- result objects ----------------------------------------------------------------------------
def _index_result(bars: ValueBars, i: int) -> Body:
    """An index aggregate: only ``o,h,l,c,t`` (no volume, no VWAP)."""
    return {
        "o": float(bars.open[i]),
        "h": float(bars.high[i]),
        "l": float(bars.low[i]),
        "c": float(bars.close[i]),
        "t": int(bars.start_ns[i]) // NS_PER_MS,
    }


def _stock_result(bars: ValueBars, i: int) -> Body:
    """A stock aggregate ``v,vw,o,c,h,l,t,n``; VWAP with 4 decimals (the close when no volume)."""
    assert isinstance(bars, TradeBars)
    volume, vwap = float(bars.volume[i]), float(bars.vwap[i])
    return {
        "v": int(volume) if volume.is_integer() else volume,
        "vw": round(vwap if math.isfinite(vwap) else float(bars.close[i]), 4),
        "o": float(bars.open[i]),
        "c": float(bars.close[i]),
        "h": float(bars.high[i]),
        "l": float(bars.low[i]),
        "t": int(bars.start_ns[i]) // NS_PER_MS,
        "n": int(bars.transactions[i]),
    }
