"""Polygon/Massive wire shapes for synthetic sessions: websocket frames and the REST chain snapshot.

Each frame is a JSON array of event objects (``ev`` first); timestamps are Unix milliseconds.
Keys per event, per POLYGON.md:

* ``indices``: ``V`` {ev,val,T,t}; ``A``/``AM`` {ev,sym,op,o,c,h,l,s,e} (no volume, no VWAP).
* ``stocks``: ``T`` {ev,sym,x,i,z,p,s,c,t,q} plus {trfi,trft} for FINRA TRF prints;
  ``Q`` {ev,sym,bx,bp,bs,ax,ap,as,c,i,t,q,z}; ``A``/``AM`` {ev,sym,v,av,op,vw,o,c,h,l,a,z,s,e}.
* ``options``: ``T`` {ev,sym,x,p,s,c,t,q}; ``A``/``AM`` as stocks.

``vw`` and ``a`` are rounded to 4 decimals as the feed sends them; ``av`` and ``a`` are the
day's accumulated volume and VWAP up to the bar's end; ``op`` is the day's official open (first
price-eligible trade, or first index value); ``z`` is volume / transactions, rounded.

Send-time rule (the logical clock of a replay): frames go out on whole seconds. The frame sent
at second S carries every trade/quote/value with S-1s < t <= S (ms), then the ``A``/``AM`` bars
that ended at S-2s: a bar is sent 2 s after its window closes, like the real feed, so its
``e`` is always <= the frame's send time. Within a frame events are ordered by time, then
V/T/Q before bars. A second holding more than ``MAX_FRAME_EVENTS`` events is split into several
frames with the same send time (keeps frames far below the 1 MiB client limit).
:func:`frame_send_ms` recomputes a frame's send time from its parsed events.

:func:`snapshot_response` renders ``GET /v3/snapshot/options/{underlying}`` from an OptionDay.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from scalper.core.timeutil import NS_PER_MS, NS_PER_S
from scalper.marketdata.aggregate import TradeBars, ValueBars
from scalper.marketdata.conditions import volume_eligible
from scalper.synthetic.flatfiles import as_text, concat_text, conditions_text, int_text, join_text, names_text
from scalper.synthetic.market import INDEX_TICKERS, STOCK_TICKERS, MarketDay
from scalper.synthetic.options import UNDERLYINGS, OptionDay, OptionTrades

MARKETS: Final = ("indices", "stocks", "options")
AGG_DELAY_MS: Final = 2_000
MAX_FRAME_EVENTS: Final = 2_000
_AGG_EVENTS: Final = frozenset({"A", "AM"})

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


@dataclass(frozen=True, kw_only=True, slots=True)
class Frame:
    """One websocket frame: its logical send time and the JSON array bytes."""

    send_ns: int
    data: bytes
    events: int


@dataclass(frozen=True, kw_only=True, slots=True)
class RenderedFrames:
    """A session's frames for one market as JSON lines (one frame per line, ``\\n``-terminated)."""

    content: bytes
    line_start: I64  # byte offset of each frame in ``content``; one extra entry at the end
    send_ns: I64
    events: I64

    def __len__(self) -> int:
        return int(self.send_ns.size)

    def __iter__(self) -> Iterator[Frame]:
        for i in range(len(self)):
            data = self.content[int(self.line_start[i]) : int(self.line_start[i + 1]) - 1]
            yield Frame(send_ns=int(self.send_ns[i]), data=data, events=int(self.events[i]))


@dataclass(frozen=True, kw_only=True, slots=True)
class _Block:
    """Rendered events of one kind: ordering key (ms), kind rank and JSON text."""

    key_ms: I64
    rank: int
    text: Any


def frame_send_ms(events: Sequence[Mapping[str, Any]]) -> int:
    """The logical send time (ms) of a parsed frame, by the module's send-time rule."""
    latest = 0
    for event in events:
        if event["ev"] in _AGG_EVENTS:
            latest = max(latest, int(event["e"]) + AGG_DELAY_MS)
        else:
            latest = max(latest, -(-int(event["t"]) // 1000) * 1000)
    return latest


def iter_frames(market: str, day: MarketDay, options: OptionDay | None = None) -> Iterator[Frame]:
    """Yield the session's frames for ``market`` (indices, stocks, options) in send order."""
    yield from render_frames(market, day, options)


def render_frames(market: str, day: MarketDay, options: OptionDay | None = None) -> RenderedFrames:
    """All frames of one session and market, rendered column-wise (no per-event Python)."""
    if market == "indices":
        blocks = _index_blocks(day)
    elif market == "stocks":
        blocks = _stock_blocks(day)
    elif market == "options":
        if options is None:
            raise ValueError("market 'options' needs the session's OptionDay")
        blocks = _option_blocks(options)
    else:
        raise ValueError(f"unknown market {market!r}; expected one of {MARKETS}")
    return _frames(blocks)


def _frames(blocks: list[_Block]) -> RenderedFrames:
    key = np.concatenate([b.key_ms for b in blocks])
    rank = np.concatenate([np.full(b.key_ms.size, b.rank) for b in blocks])
    text = pa.chunked_array([b.text for b in blocks], type=pa.string()).combine_chunks()
    if key.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return RenderedFrames(content=b"", line_start=np.zeros(1, dtype=np.int64), send_ns=empty, events=empty)
    order = np.lexsort((np.arange(key.size), rank, key))
    send_s = -(-key[order] // 1000)
    new_second = np.ones(order.size, dtype=np.bool_)
    new_second[1:] = send_s[1:] != send_s[:-1]
    second_start = np.maximum.accumulate(np.where(new_second, np.arange(order.size), 0))
    start = new_second | ((np.arange(order.size) - second_start) % MAX_FRAME_EVENTS == 0)
    end = np.append(start[1:], True)
    lines = join_text(
        names_text(start.astype(np.int64), ("", "[")),
        text.take(pa.array(order)),
        names_text(end.astype(np.int64), (",", "]\n")),
    )
    content = concat_text(lines)
    raw = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    offsets = raw.astype(np.int64) - int(raw[0])
    first = np.flatnonzero(start)
    return RenderedFrames(
        content=content,
        line_start=np.append(offsets[first], len(content)),
        send_ns=send_s[first] * NS_PER_S,
        events=np.diff(np.append(first, order.size)),
    )


def _ms(ns: I64) -> I64:
    ms: I64 = ns // NS_PER_MS
    return ms


Field = tuple[str, Any]  # (key, text column); a key ending in '"' marks a JSON string value


def _objects(head: Any, fields: Sequence[Field], tail: Any = "}") -> Any:
    """JSON objects per row: ``head`` (``{"ev":..,"sym":..`` per row), then ``,"key":value`` fields.

    Constant parts ride in ``head`` (a dictionary lookup), so each field costs one column.
    """
    parts: list[Any] = [head]
    pending = ""
    for key, text in fields:
        name, quote = (key[:-1], '"') if key.endswith('"') else (key, "")
        parts += [f'{pending},"{name}":{quote}', text]
        pending = quote
    parts += [pending + tail] if isinstance(tail, str) else ([pending, tail] if pending else [tail])
    return join_text(*parts)


def _heads(codes: I64, template: str, **per_code: Sequence[Any]) -> Any:
    """Per-row object heads from a template formatted once per code (symbol, tape, op...)."""

    def show(value: Any) -> Any:
        return _num(value) if isinstance(value, float) else value

    count = len(next(iter(per_code.values())))
    texts = [template.format(**{k: show(v[i]) for k, v in per_code.items()}) for i in range(count)]
    return names_text(codes, texts)


# --- indices -----------------------------------------------------------------------------------
def _index_blocks(day: MarketDay) -> list[_Block]:
    ticks = day.index_ticks
    t_ms = _ms(ticks.ts_ns)
    names = names_text(ticks.symbol, INDEX_TICKERS)
    fields = [("val", as_text(ticks.value)), ('T"', names), ("t", as_text(t_ms))]
    values = _objects('{"ev":"V"', fields)
    opens = day.index_days.open[np.searchsorted(day.index_days.symbol, np.arange(len(INDEX_TICKERS)))]
    return [
        _Block(key_ms=t_ms, rank=0, text=values),
        _index_bars("A", day.index_seconds, opens, 2),
        _index_bars("AM", day.index_minutes, opens, 3),
    ]


def _index_bars(ev: str, bars: ValueBars, opens: F64, rank: int) -> _Block:
    s_ms, e_ms = _ms(bars.start_ns), _ms(bars.end_ns)
    head = _heads(bars.symbol, '{{"ev":"' + ev + '","sym":"{sym}","op":{op}', sym=INDEX_TICKERS, op=opens.tolist())
    text = _objects(
        head,
        [
            ("o", as_text(bars.open)),
            ("c", as_text(bars.close)),
            ("h", as_text(bars.high)),
            ("l", as_text(bars.low)),
            ("s", as_text(s_ms)),
            ("e", as_text(e_ms)),
        ],
    )
    return _Block(key_ms=e_ms + AGG_DELAY_MS, rank=rank, text=text)


def _num(value: float) -> str:
    """One number in shortest round-trip form, like the column casts (``20448``, ``5811.93``)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


# --- stocks and options --------------------------------------------------------------------------
def _stock_blocks(day: MarketDay) -> list[_Block]:
    t = day.trades
    running = _Running.of(t.symbol, t.sip_ns, t.price, t.size, volume_eligible(t.conditions))
    return [
        _stock_trades(day),
        _stock_quotes(day),
        _trade_bars("A", day.stock_seconds, day.stock_days, running, STOCK_TICKERS, 2),
        _trade_bars("AM", day.stock_minutes, day.stock_days, running, STOCK_TICKERS, 3),
    ]


def _tapes(symbol: I64, tape: I64) -> list[int]:
    present = [symbol == code for code in range(len(STOCK_TICKERS))]
    return [int(tape[rows][0]) if np.any(rows) else 0 for rows in present]


def _stock_trades(day: MarketDay) -> _Block:
    t = day.trades
    t_ms = _ms(t.sip_ns)
    trf = np.flatnonzero(t.trf_id != 0)
    tail = pc.replace_with_mask(
        names_text(np.zeros(t.symbol.size, dtype=np.int64), ("}",)),
        pa.array(t.trf_id != 0),
        _objects("", [("trfi", as_text(t.trf_id[trf])), ("trft", as_text(_ms(t.trf_ns[trf])))]),
    )
    head = _heads(t.symbol, '{{"ev":"T","sym":"{sym}","z":{z}', sym=STOCK_TICKERS, z=_tapes(t.symbol, t.tape))
    fields = [
        ("x", as_text(t.exchange)),
        ('i"', as_text(t.trade_id)),
        ("p", as_text(t.price)),
        ("s", as_text(t.size)),
        ("c", conditions_text(t.conditions, wrap="[{}]")),
        ("t", as_text(t_ms)),
        ("q", as_text(t.sequence)),
    ]
    return _Block(key_ms=t_ms, rank=0, text=_objects(head, fields, tail))


def _stock_quotes(day: MarketDay) -> _Block:
    q = day.quotes
    q_ms = _ms(q.sip_ns)
    head = _heads(
        q.symbol, '{{"ev":"Q","sym":"{sym}","z":{z},"c":0,"i":[]', sym=STOCK_TICKERS, z=_tapes(q.symbol, q.tape)
    )
    fields = [
        ("bx", as_text(q.bid_exchange)),
        ("bp", as_text(q.bid)),
        ("bs", as_text(q.bid_size)),
        ("ax", as_text(q.ask_exchange)),
        ("ap", as_text(q.ask)),
        ("as", as_text(q.ask_size)),
        ("t", as_text(q_ms)),
        ("q", as_text(q.sequence)),
    ]
    return _Block(key_ms=q_ms, rank=1, text=_objects(head, fields))


def _option_blocks(options: OptionDay) -> list[_Block]:
    t = options.trades
    t_ms = _ms(t.ts_ns)
    names = options.chain.ticker
    head = _heads(t.contract, '{{"ev":"T","sym":"{sym}","c":[]', sym=names)
    fields = [
        ("x", as_text(t.exchange)),
        ("p", as_text(t.price)),
        ("s", as_text(t.size)),
        ("t", as_text(t_ms)),
        ("q", as_text(t.sequence)),
    ]
    running = _Running.of(t.contract, t.ts_ns, t.price, t.size, np.ones(t.contract.size, dtype=np.bool_))
    return [
        _Block(key_ms=t_ms, rank=0, text=_objects(head, fields)),
        _trade_bars("A", options.seconds, options.days, running, names, 2),
        _trade_bars("AM", options.minutes, options.days, running, names, 3),
    ]


_SHIFT: Final = 45  # time since the first trade fits 45 bits (9.7 h); symbol codes use the rest


@dataclass(frozen=True, kw_only=True, slots=True)
class _Running:
    """Running day totals (volume, notional) over trades sorted by (symbol, time)."""

    origin: int
    key: I64
    volume: F64  # cumulative, with a leading 0
    notional: F64

    @staticmethod
    def of(symbol: I64, ts_ns: I64, price: F64, size: I64, eligible: NDArray[np.bool_]) -> _Running:
        origin = int(ts_ns.min()) if ts_ns.size else 0
        qty = np.where(eligible, size, 0).astype(np.float64)
        return _Running(
            origin=origin,
            key=_key(symbol, ts_ns, origin),
            volume=np.concatenate(([0.0], np.cumsum(qty))),
            notional=np.concatenate(([0.0], np.cumsum(qty * price))),
        )

    def before(self, symbol: I64, ts_ns: I64) -> tuple[F64, F64]:
        """Day volume and VWAP of each symbol's trades strictly before ``ts_ns``."""
        end = np.searchsorted(self.key, _key(symbol, ts_ns, self.origin), side="left")
        start = np.searchsorted(self.key, _key(symbol, np.full(symbol.size, self.origin), self.origin), side="left")
        volume = self.volume[end] - self.volume[start]
        with np.errstate(invalid="ignore", divide="ignore"):
            vwap = (self.notional[end] - self.notional[start]) / volume
        return volume, vwap


def _key(symbol: I64, ts_ns: I64, origin: int) -> I64:
    relative = ts_ns - origin
    if relative.size and (int(relative.max()) >= 1 << _SHIFT or int(symbol.max()) >= 1 << (62 - _SHIFT)):
        raise ValueError("running totals: session longer than 9.7 h or too many symbols")
    keys: I64 = (symbol.astype(np.int64) << _SHIFT) | relative
    return keys


def _round4(values: F64) -> F64:
    """VWAPs go out with 4 decimals, as the feed sends them."""
    return np.asarray(np.round(values, 4), dtype=np.float64)


def _trade_bars(
    ev: str, bars: TradeBars, days: TradeBars, running: _Running, names: tuple[str, ...], rank: int
) -> _Block:
    s_ms, e_ms = _ms(bars.start_ns), _ms(bars.end_ns)
    day_volume, running_vwap = running.before(bars.symbol, bars.end_ns)
    vwap = _round4(np.where(np.isfinite(bars.vwap), bars.vwap, bars.close))
    day_vwap = _round4(np.where(np.isfinite(running_vwap), running_vwap, vwap))
    opens = np.full(len(names), np.nan)
    opens[days.symbol] = days.open  # official open: the day's first price-eligible trade
    head = _heads(bars.symbol, '{{"ev":"' + ev + '","sym":"{sym}","op":{op}', sym=names, op=opens.tolist())
    size = np.round(bars.volume / np.maximum(bars.transactions, 1))
    fields = [
        ("v", int_text(bars.volume)),
        ("av", int_text(day_volume)),
        ("vw", as_text(vwap)),
        ("o", as_text(bars.open)),
        ("c", as_text(bars.close)),
        ("h", as_text(bars.high)),
        ("l", as_text(bars.low)),
        ("a", as_text(day_vwap)),
        ("z", int_text(size)),
        ("s", as_text(s_ms)),
        ("e", as_text(e_ms)),
    ]
    return _Block(key_ms=e_ms + AGG_DELAY_MS, rank=rank, text=_objects(head, fields))


# --- REST chain snapshot -----------------------------------------------------------------------
def snapshot_response(options: OptionDay, market: MarketDay, underlying: int) -> dict[str, Any]:
    """``GET /v3/snapshot/options/{underlying}`` at the close, every result on one page."""
    return {
        "status": "OK",
        "request_id": f"synthetic-{options.day:%Y%m%d}-{UNDERLYINGS[underlying]}",
        "results": snapshot_results(options, market, underlying),
    }


def snapshot_results(options: OptionDay, market: MarketDay, underlying: int) -> list[dict[str, Any]]:
    """One REST snapshot result per listed contract of ``underlying`` (0 = I:SPX, 1 = SPY).

    Contracts that did not trade today have an empty ``day`` and no ``last_trade``; 0DTE
    contracts are priced with one minute left (they expire at this close).
    """
    days = {int(c): i for i, c in enumerate(options.days.symbol)}
    last = _last_trades(options.trades)
    results = []
    for i in np.flatnonzero(options.chain.underlying == underlying).tolist():
        result = _snapshot_result(options, i, underlying)
        result["day"] = _day_fields(options.days, days.get(i), options.snapshot.ts_ns)
        if i in last:
            result["last_trade"] = last[i]
        results.append(result)
    return results


def _snapshot_result(options: OptionDay, i: int, underlying: int) -> dict[str, Any]:
    chain, snap = options.chain, options.snapshot
    bid, ask = float(snap.bid[i]), float(snap.ask[i])
    strike, call = float(chain.strike[i]), bool(chain.is_call[i])
    mid = round(0.5 * (bid + ask), 4)
    stamp = snap.ts_ns - 1
    return {
        "break_even_price": round(strike + mid if call else strike - mid, 4),
        "details": {
            "contract_type": "call" if call else "put",
            "exercise_style": "european" if underlying == 0 else "american",
            "expiration_date": str(chain.expiry[i]),
            "shares_per_contract": 100,
            "strike_price": strike,
            "ticker": chain.ticker[i],
        },
        "greeks": {
            "delta": float(snap.delta[i]),
            "gamma": float(snap.gamma[i]),
            "theta": float(snap.theta[i]),
            "vega": float(snap.vega[i]),
        },
        "implied_volatility": float(chain.iv[i]),
        "last_quote": {
            "ask": ask,
            "ask_size": int(snap.ask_size[i]),
            "bid": bid,
            "bid_size": int(snap.bid_size[i]),
            "last_updated": stamp,
            "midpoint": mid,
            "timeframe": "REAL-TIME",
        },
        "open_interest": int(chain.open_interest[i]),
        "underlying_asset": {
            "ticker": UNDERLYINGS[underlying],
            "value" if underlying == 0 else "price": float(snap.underlying_price[i]),
            "last_updated": stamp,
            "timeframe": "REAL-TIME",
        },
    }


def _day_fields(days: TradeBars, row: int | None, ts_ns: int) -> dict[str, Any]:
    if row is None:
        return {}
    return {
        "open": float(days.open[row]),
        "high": float(days.high[row]),
        "low": float(days.low[row]),
        "close": float(days.close[row]),
        "volume": int(days.volume[row]),
        "vwap": round(float(days.vwap[row]), 4),
        "last_updated": ts_ns,
    }


def _last_trades(trades: OptionTrades) -> dict[int, dict[str, Any]]:
    """Last trade of each contract that traded (trades are sorted by contract, time)."""
    if trades.contract.size == 0:
        return {}
    ends = np.flatnonzero(np.append(trades.contract[1:] != trades.contract[:-1], True))
    return {
        int(trades.contract[j]): {
            "price": float(trades.price[j]),
            "size": int(trades.size[j]),
            "sip_timestamp": int(trades.ts_ns[j]),
            "exchange": int(trades.exchange[j]),
            "timeframe": "REAL-TIME",
        }
        for j in ends.tolist()
    }
