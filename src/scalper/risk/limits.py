"""The kill switch and the trading limits: a small deterministic state machine fed events.

Time is integer nanoseconds UTC (the engine clock's time when the event is handed in); events
must come in non-decreasing time order. Sessions and closes (early closes included) come from the
XNYS calendar (:mod:`scalper.marketdata.calendar`). Thresholds: ``[risk.limits]``.

Trips (each recorded as a :class:`Trip`: code, text, time):

* ``DAILY_LOSS_LIMIT``  realised PnL of the session + the latest unrealised mark ≤ −(equity ×
  ``daily_loss_limit_pct`` / 100)
* ``ORDER_RATE``        more than ``max_orders_per_minute`` orders submitted in the sliding window
  (t − 60 s, t]
* ``STALE_DATA``        during regular hours, more than ``stale_data_after_s`` since the latest of:
  the last market data, the session's open, the first event this switch handled (its start)
* ``BROKER_DISCONNECTED`` the broker connection was lost
* ``UNRECOVERABLE_ERROR`` the engine reported an error it cannot recover from

Once tripped: new entries are refused and flattening is requested until an explicit operator reset
or the next session's open. A reset clears the trips and re-evaluates at once: a condition that
still holds (loss beyond the limit, broker still disconnected, data still stale) trips again.

Also, without any trip: no entries outside the regular session, from ``flatten_before_close_min``
minutes before the close, while the broker has not connected yet, or when the session policy says
``off``; and a flatten request from ``flatten_before_close_min`` minutes before the close.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalper.core.errors import InvariantError
from scalper.core.timeutil import NEW_YORK, NS_PER_S, ns_to_datetime
from scalper.marketdata.calendar import SessionCursor, session_table
from scalper.risk._validate import finite, positive
from scalper.strategy.policy import LEVELS, Reason
from scalper.strategy.thresholds import Level, LimitThresholds

WINDOW_NS = 60 * NS_PER_S


@dataclass(frozen=True, kw_only=True, slots=True)
class FillPnl:
    """Realised PnL of one fill in dollars, costs included (a loss is negative)."""

    ts: int
    realised: float


@dataclass(frozen=True, kw_only=True, slots=True)
class MarkToMarket:
    """Unrealised PnL of every open position in dollars (the total, not a change)."""

    ts: int
    unrealised: float


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderSubmitted:
    """An order (entry, exit, replacement) was sent to the broker."""

    ts: int


@dataclass(frozen=True, kw_only=True, slots=True)
class DataHeartbeat:
    """Market data arrived."""

    ts: int


@dataclass(frozen=True, kw_only=True, slots=True)
class BrokerConnected:
    ts: int


@dataclass(frozen=True, kw_only=True, slots=True)
class BrokerDisconnected:
    ts: int
    text: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class UnrecoverableError:
    ts: int
    text: str


@dataclass(frozen=True, kw_only=True, slots=True)
class OperatorReset:
    ts: int
    by: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ClockTick:
    """Time passed (the engine feeds one at least every second so stale data is noticed)."""

    ts: int


Event = (
    FillPnl
    | MarkToMarket
    | OrderSubmitted
    | DataHeartbeat
    | BrokerConnected
    | BrokerDisconnected
    | UnrecoverableError
    | OperatorReset
    | ClockTick
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Trip:
    """Why the kill switch tripped: a stable ``code``, a human ``text``, the time ``ts`` (ns UTC)."""

    code: str
    text: str
    ts: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Reset:
    """A reset: ``by`` the operator or ``"session"`` (the next session's open), clearing ``cleared``."""

    by: str
    ts: int
    cleared: tuple[Trip, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class EntryVerdict:
    """Whether a new entry may be sent now; ``reasons`` lists every block (empty when allowed)."""

    allowed: bool
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class FlattenRequest:
    """Close every position now: ``code`` is KILL_SWITCH (with the first trip's text) or FLATTEN_BEFORE_CLOSE."""

    code: str
    text: str
    ts: int


class KillSwitch:
    """The limits of one account. Feed events with :meth:`handle`; ask :meth:`entry_check` before a
    new entry and :meth:`flatten` for a flatten request. ``equity`` is the account equity the daily
    loss limit is a percentage of (update it with :meth:`set_equity`, e.g. at each session start)."""

    def __init__(self, thresholds: LimitThresholds, *, equity: float) -> None:
        self._p = thresholds
        self._loss_limit = 0.0
        self.set_equity(equity)
        self._opens: np.ndarray[Any, np.dtype[np.int64]] = np.ascontiguousarray(session_table()[:, 0])
        self._sessions = SessionCursor()
        self._now: int | None = None
        self._started: int | None = None
        self._session_open: int | None = None
        self._realised = 0.0
        self._unrealised = 0.0
        self._orders: deque[int] = deque()
        self._last_data: int | None = None
        self._broker = "unknown"  # unknown → connected ⇄ disconnected
        self._disconnect_text = ""
        self._error: str | None = None
        self._trips: list[Trip] = []
        self._history: list[Trip | Reset] = []

    def set_equity(self, equity: float) -> None:
        """Base the daily loss limit on ``equity`` dollars from now on."""
        self._loss_limit = positive("equity", equity) * self._p.daily_loss_limit_pct / 100.0

    @property
    def tripped(self) -> bool:
        return bool(self._trips)

    @property
    def trips(self) -> tuple[Trip, ...]:
        """The trips in force, oldest first (empty when not tripped)."""
        return tuple(self._trips)

    @property
    def history(self) -> tuple[Trip | Reset, ...]:
        """Every trip and reset since construction, in order."""
        return tuple(self._history)

    @property
    def day_pnl(self) -> float:
        """Realised PnL since the session's open plus the latest unrealised mark."""
        return self._realised + self._unrealised

    @property
    def loss_limit(self) -> float:
        """The daily loss limit in dollars (positive)."""
        return self._loss_limit

    @property
    def realised(self) -> float:
        """Realised PnL since the session's open (costs included)."""
        return self._realised

    def flatten_start(self, ts: int) -> int | None:
        """When the flatten before the close begins in the session in progress at ``ts`` (None outside
        a session)."""
        session = self._sessions.at(ts)
        return None if session is None else self._flatten_from(session[1])

    def orders_in_window(self) -> int:
        """Orders submitted in (t − 60 s, t] at the time t of the last event."""
        return len(self._orders)

    def handle(self, event: Event) -> tuple[Trip, ...]:
        """Apply ``event``; return the trips it caused (empty when none)."""
        before = len(self._trips)
        self._advance(event.ts)
        match event:
            case FillPnl(realised=realised):
                self._realised += finite("fill realised PnL", realised)
            case MarkToMarket(unrealised=unrealised):
                self._unrealised = finite("unrealised PnL", unrealised)
            case OrderSubmitted(ts=ts):
                self._orders.append(ts)
            case DataHeartbeat(ts=ts):
                self._last_data = ts
            case BrokerConnected():
                self._broker = "connected"
            case BrokerDisconnected(text=text):
                self._broker = "disconnected"
                self._disconnect_text = text
            case UnrecoverableError(text=text):
                self._error = text
            case OperatorReset(ts=ts, by=by):
                self._reset(ts, by)
            case ClockTick():
                pass
        self._evaluate(event.ts)
        return tuple(self._trips[before:])

    def entry_check(self, ts: int, level: Level) -> EntryVerdict:
        """May a new entry be sent at ``ts`` under policy ``level``? Advances the machine to ``ts``
        first (as a :class:`ClockTick`), so a condition that became true since the last event counts."""
        if level not in LEVELS:
            raise InvariantError(f"policy level: expected one of {LEVELS}, was {level!r}")
        self.handle(ClockTick(ts=ts))
        blocks = [Reason(code="KILL_SWITCH", text=t.text, effect=t.code) for t in self._trips]
        session = self._sessions.at(ts)
        if session is None:
            blocks.append(Reason(code="OUTSIDE_SESSION", text="outside the regular session", effect="no entry"))
        elif ts >= self._flatten_from(session[1]):
            blocks.append(Reason(code="FLATTEN_BEFORE_CLOSE", text=_close_text(self._p, session[1]), effect="no entry"))
        if self._broker == "unknown":
            blocks.append(Reason(code="BROKER_NOT_CONNECTED", text="broker not connected yet", effect="no entry"))
        if level == "off":
            blocks.append(Reason(code="POLICY_OFF", text="the session policy says off", effect="no entry"))
        return EntryVerdict(allowed=not blocks, reasons=tuple(blocks))

    def flatten(self, ts: int) -> FlattenRequest | None:
        """A flatten request at ``ts`` (kill switch tripped, or the close is near), else ``None``.
        Advances the machine to ``ts`` first, as :meth:`entry_check` does."""
        self.handle(ClockTick(ts=ts))
        if self._trips:
            first = self._trips[0]
            return FlattenRequest(code="KILL_SWITCH", text=f"{first.code}: {first.text}", ts=ts)
        session = self._sessions.at(ts)
        if session is not None and ts >= self._flatten_from(session[1]):
            return FlattenRequest(code="FLATTEN_BEFORE_CLOSE", text=_close_text(self._p, session[1]), ts=ts)
        return None

    def _flatten_from(self, close: int) -> int:
        return close - self._p.flatten_before_close_min * 60 * NS_PER_S

    def _advance(self, ts: int) -> None:
        if isinstance(ts, bool) or not isinstance(ts, int):
            raise InvariantError(f"event time: expected integer nanoseconds UTC, was {ts!r}")
        if self._now is not None and ts < self._now:
            raise InvariantError(f"event time: expected >= the last event's {self._now}, was {ts}")
        if self._started is None:
            self._started = ts
        self._now = ts
        while self._orders and self._orders[0] <= ts - WINDOW_NS:
            self._orders.popleft()
        i = int(np.searchsorted(self._opens, ts, side="right")) - 1
        session_open = int(self._opens[i]) if i >= 0 else None
        if session_open != self._session_open:
            if self._session_open is not None:
                self._realised = 0.0
                self._reset(ts, "session")
            self._session_open = session_open

    def _reset(self, ts: int, by: str) -> None:
        self._history.append(Reset(by=by, ts=ts, cleared=tuple(self._trips)))
        self._trips.clear()
        self._error = None

    def _evaluate(self, ts: int) -> None:
        p = self._p
        if self.day_pnl <= -self._loss_limit:
            self._trip("DAILY_LOSS_LIMIT", f"day PnL {self.day_pnl:,.2f} <= -{self._loss_limit:,.2f}", ts)
        if len(self._orders) > p.max_orders_per_minute:
            self._trip("ORDER_RATE", f"{len(self._orders)} orders in 60 s > {p.max_orders_per_minute}", ts)
        session = self._sessions.at(ts)
        if session is not None:
            since = max(self._last_data or 0, self._started or 0, session[0])
            if ts - since > p.stale_data_after_s * NS_PER_S:
                gap = (ts - since) / NS_PER_S
                self._trip("STALE_DATA", f"no market data for {gap:.1f} s > {p.stale_data_after_s:g} s", ts)
        if self._broker == "disconnected":
            self._trip("BROKER_DISCONNECTED", f"broker disconnected {self._disconnect_text}".strip(), ts)
        if self._error is not None:
            self._trip("UNRECOVERABLE_ERROR", self._error, ts)

    def _trip(self, code: str, text: str, ts: int) -> None:
        if any(t.code == code for t in self._trips):
            return
        trip = Trip(code=code, text=text, ts=ts)
        self._trips.append(trip)
        self._history.append(trip)


def _close_text(p: LimitThresholds, close: int) -> str:
    local = ns_to_datetime(close).astimezone(NEW_YORK)
    return f"{p.flatten_before_close_min} min before the close at {local:%H:%M}"
