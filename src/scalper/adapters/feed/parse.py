"""Polygon/Massive websocket frames → core events and statuses.

A frame is a JSON array of objects keyed by ``ev``. The fast path decodes the whole frame with
msgspec into typed wire structs; a frame that does not fit (an unknown ``ev``, a missing field)
is decoded generically and converted object by object, so one bad event costs only itself.
Malformed JSON, a frame that is not an array, and events that break an invariant are counted
with a reason and skipped; everything good in the frame is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from scalper.adapters.feed.reasons import ParseErrorReason
from scalper.core.errors import DataError
from scalper.core.events import (
    IndexValue,
    MarketEvent,
    MinuteAgg,
    OptionQuote,
    OptionTrade,
    Quote,
    SecondAgg,
    Trade,
)

_MS = 1_000_000


class _Agg(msgspec.Struct, tag_field="ev", forbid_unknown_fields=False, gc=False):
    sym: str
    o: float
    h: float
    low: float = msgspec.field(name="l")
    c: float
    s: int
    e: int
    op: float | None = None
    v: float | None = None
    av: float | None = None
    vw: float | None = None
    a: float | None = None
    z: float | None = None
    dv: str | None = None  # newer feeds: decimal volumes as strings
    dav: str | None = None


class _A(_Agg, tag="A"):
    pass


class _AM(_Agg, tag="AM"):
    pass


class _V(msgspec.Struct, tag_field="ev", tag="V", gc=False):
    val: float
    T: str
    t: int


class _T(msgspec.Struct, tag_field="ev", tag="T", gc=False):
    sym: str
    p: float
    s: float
    t: int
    x: int = 0
    i: str = ""
    c: tuple[int, ...] = ()
    q: int = 0
    z: int = 0


class _Q(msgspec.Struct, tag_field="ev", tag="Q", gc=False):
    sym: str
    t: int
    bp: float = 0.0
    bs: float = 0.0
    ap: float = 0.0
    ask_size: float = msgspec.field(name="as", default=0.0)
    bx: int = 0
    ax: int = 0
    c: int | list[int] | None = None
    q: int = 0
    z: int = 0


class _Status(msgspec.Struct, tag_field="ev", tag="status"):
    status: str
    message: str = ""


_Wire = _A | _AM | _V | _T | _Q | _Status
_frame_decoder = msgspec.json.Decoder(list[_Wire])
_item_decoder = msgspec.json.Decoder(_Wire)
_generic_decoder = msgspec.json.Decoder()
_generic_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Status:
    """A status object from the server (connected, auth_success, max_connections, ...)."""

    status: str
    message: str


@dataclass(frozen=True, slots=True)
class ParseIssue:
    """Why something in a frame was skipped."""

    reason: ParseErrorReason
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


@dataclass(slots=True)
class Parsed:
    """What one frame held: events in frame order, statuses, and why anything was skipped."""

    events: list[MarketEvent] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    errors: list[ParseIssue] = field(default_factory=list)


def _agg(w: _Agg, ts_recv: int) -> SecondAgg | MinuteAgg:
    cls = SecondAgg if type(w) is _A else MinuteAgg
    volume = float(w.dv) if w.v is None and w.dv is not None else w.v
    day_volume = float(w.dav) if w.av is None and w.dav is not None else w.av
    return cls(
        symbol=w.sym,
        ts_event=w.s * _MS,
        ts_end=w.e * _MS,
        open=w.o,
        high=w.h,
        low=w.low,
        close=w.c,
        volume=volume,
        vwap=w.vw,
        day_volume=day_volume,
        day_vwap=w.a,
        official_open=w.op,
        avg_trade_size=w.z,
        ts_recv=ts_recv,
    )


def _value(w: _V, ts_recv: int) -> IndexValue:
    return IndexValue(symbol=w.T, ts_event=w.t * _MS, value=w.val, ts_recv=ts_recv)


def _trade(w: _T, ts_recv: int) -> Trade:
    return (OptionTrade if w.sym.startswith("O:") else Trade)(
        symbol=w.sym,
        ts_event=w.t * _MS,
        price=w.p,
        size=w.s,
        exchange=w.x,
        trade_id=w.i,
        conditions=w.c,
        sequence=w.q,
        tape=w.z,
        ts_recv=ts_recv,
    )


def _quote(w: _Q, ts_recv: int) -> Quote:
    c = w.c
    return (OptionQuote if w.sym.startswith("O:") else Quote)(
        symbol=w.sym,
        ts_event=w.t * _MS,
        bid=w.bp,
        bid_size=w.bs,
        ask=w.ap,
        ask_size=w.ask_size,
        bid_exchange=w.bx,
        ask_exchange=w.ax,
        conditions=() if c is None else (c,) if isinstance(c, int) else tuple(c),
        sequence=w.q,
        tape=w.z,
        ts_recv=ts_recv,
    )


class _StatusInFrame(Exception):
    """A status object among the events: the frame takes the per-object path."""


def _status(w: _Status, ts_recv: int) -> MarketEvent:
    raise _StatusInFrame


_CONVERT: dict[type, Callable[[Any, int], MarketEvent]] = {
    _A: _agg,
    _AM: _agg,
    _V: _value,
    _T: _trade,
    _Q: _quote,
    _Status: _status,
}


def _convert_checked(w: _Wire, ts_recv: int, out: Parsed) -> None:
    if isinstance(w, _Status):
        out.statuses.append(Status(w.status, w.message))
        return
    try:
        out.events.append(_CONVERT[type(w)](w, ts_recv))
    except DataError as exc:
        out.errors.append(ParseIssue(ParseErrorReason.BAD_VALUE, f"invalid event: {exc}"))


def _slow_path(frame: bytes | str, ts_recv: int, out: Parsed) -> None:
    try:
        items = _generic_decoder.decode(frame)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        out.errors.append(ParseIssue(ParseErrorReason.BAD_JSON, f"malformed JSON: {exc}; frame starts {_head(frame)}"))
        return
    if not isinstance(items, list):
        out.errors.append(ParseIssue(ParseErrorReason.BAD_JSON, f"frame is not a JSON array; starts {_head(frame)}"))
        return
    for item in items:
        _slow_item(item, ts_recv, out)


def _slow_item(item: Any, ts_recv: int, out: Parsed) -> None:
    ev = item.get("ev") if isinstance(item, dict) else None
    try:
        wire = _item_decoder.decode(_generic_encoder.encode(item))
    except msgspec.ValidationError as exc:
        out.errors.append(ParseIssue(ParseErrorReason.UNKNOWN_EVENT, f"unusable event ev={ev!r}: {exc}"))
        return
    _convert_checked(wire, ts_recv, out)


def _head(frame: bytes | str, n: int = 80) -> str:
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    return repr(text[:n])


def parse_frame(frame: bytes | str, ts_recv: int) -> Parsed:
    """Parse one websocket frame received at ``ts_recv`` (UTC ns)."""
    out = Parsed()
    try:
        wires = _frame_decoder.decode(frame)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        _slow_path(frame, ts_recv, out)
        return out
    try:  # the common case: data events only, all valid
        out.events = [_CONVERT[type(w)](w, ts_recv) for w in wires]
    except (DataError, _StatusInFrame):
        for w in wires:
            _convert_checked(w, ts_recv, out)
    return out
