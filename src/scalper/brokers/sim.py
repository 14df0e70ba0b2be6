"""The simulated broker: fills orders from the market event stream, with latency and costs.

Used for paper trading and backtests. Nothing here reads the wall clock: the decision time of a
request is the injected :class:`~scalper.core.clock.Clock`'s time, and everything else happens at
the time of the market events fed to :meth:`SimBroker.on_event` (or of :meth:`SimBroker.advance_to`).

Conventions (see ``docs/EXECUTION.md``, "Simulated broker"):

* **Latency.** A request (order, cancel, replace) sent at clock time ``t`` *arrives* at
  ``t + latency_ns`` (default 100 ms). An order is acknowledged (``accepted``) at its arrival and
  only events whose prices are stamped at or after its arrival can fill it. An event's *price time*
  is its ``ts_event``; for a bar that is the *start* of its window, so a bar is usable only when its
  window starts at or after the arrival: a decision at the close of second ``t`` never fills at that
  bar's close nor inside the bar in progress when the order arrives, but at the open of the first
  bar after it.
* **Delivery order.** Events are taken in the order they are delivered, which is the engine's
  replay order (:mod:`scalper.engine.sequencer`): a bar arrives when it is complete, after the
  trades and quotes stamped inside its window and up to the feed's aggregate delay after it. The
  broker's time is the latest price time seen; timers (arrivals, cancels, expiries) run up to it
  before an event is used, and every update is stamped with it, so updates are in time order.
  Per symbol, fills come from the finest data seen for that symbol: once a trade or quote of a
  symbol has been seen its bars only move time, and once a one-second bar has been seen its minute
  bars only move time (the same prices are not counted twice). An event older than the last one
  used for its symbol (a late event) is not used for fills; it is counted in
  :attr:`SimBroker.late_events`.
* **Prices.** With quotes for the symbol in the stream (a :class:`~scalper.core.events.Quote` seen),
  marketable orders buy at the ask and sell at the bid of the next quote; trades and bars then only
  trigger stops and fill resting limits. Without quotes, marketable orders fill at the event's first
  price (trade price, bar open) plus/minus the half-spread. Slippage is then added against the order
  (buys pay more, sells receive less). Fill prices are not rounded to the tick.
* **Triggers** on every event after arrival: a buy stop triggers when the event's high (trade price,
  bar high, quote midpoint) reaches the stop, a sell stop when its low reaches it; a triggered stop is
  a market order filled at the worse of the stop and the event's first price (a gap fills at the
  open) ± half-spread + slippage (with quotes: at the quote that triggered it, or the next quote); a
  triggered stop-limit is a limit order. A limit order is marketable on its first event after
  arrival (a stop-limit: on its trigger event) when the executable price, before slippage, is at or
  better than the limit: it fills at the executable price + slippage, capped at the limit. Otherwise
  it rests and fills at its limit once the market trades *through* it (a trade/low below a buy
  limit, an ask below it; a trade/high above a sell limit, a bid above it). A fill never breaks its
  limit.
* **Trailing stops** trail ``trail_amount`` dollars behind the best price since activation (highest
  high for a sell stop, lowest low for a buy stop), rounded to the tick away from the price, and only
  tighten. On each event the trigger is checked against the stop *before* the event's prices move it.
* **Partial fills.** At most ``max_fill_qty`` shares of one order fill per event (``None``: no limit);
  the rest fills on the following events.
* **Brackets.** The stop and the target are accepted with the entry and work from the event after
  an entry fill, for at most the entry's filled quantity less what the two exits have filled. When
  one exit is completely filled the other is cancelled (OCO); an entry that ends without a fill
  cancels both; once the exits have closed a partially filled (then ended) entry, both are cancelled.
* **Time in force.** Day orders expire at the close of the XNYS session they arrive in (the next
  session when they arrive outside regular hours, early closes included); IOC fills what it can on
  the first event after arrival and cancels the rest; FOK fills completely on that event or is
  cancelled; GTC never expires.
* **Costs** per fill: commission = qty × ``commission_per_share``; on sells only, the SEC Section 31
  fee = price × qty × the rate in force that day (New York date) and the FINRA TAF = min(qty × rate,
  per-trade cap), each fill counted as one trade; not rounded to the cent. Commission and fees are
  the :class:`~scalper.core.orders.Fill`'s ``commission`` and ``fees``.
* **Determinism.** Broker order ids are ``{prefix}-{n}`` by submission order and fill ids
  ``{broker order id}-{k}``; ties are broken by submission order. The same requests at the same clock
  times and the same events give identical updates.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from scalper.brokers.port import BracketRequest, UpdateListener
from scalper.core.clock import Clock
from scalper.core.errors import BrokerError, ConfigError, InvariantError
from scalper.core.events import MarketEvent, MinuteAgg, Quote, SecondAgg, Trade
from scalper.core.orders import (
    BrokerUpdate,
    Fill,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    StatusUpdate,
    TimeInForce,
    qty_tolerance,
)
from scalper.core.timeutil import NEW_YORK, NS_PER_MS, ns_to_datetime
from scalper.oms import positions as position_math
from scalper.oms import state
from scalper.risk.brackets import round_to_tick

DEFAULT_LATENCY_NS = 100 * NS_PER_MS
MAX_LATENCY_NS = 10_000 * NS_PER_MS


@dataclass(frozen=True, kw_only=True, slots=True)
class FeeSchedule:
    """A dated rate: ``entries`` are (effective date, rate) in increasing date order; the rate in
    force on a day is the last one effective on or before it. A day before the first entry is a
    :class:`ConfigError` (extend the table rather than guess)."""

    name: str
    entries: tuple[tuple[dt.date, float], ...]

    def __post_init__(self) -> None:
        _check_dates(self.name, [e[0] for e in self.entries])
        for day, rate in self.entries:
            if not (math.isfinite(rate) and rate >= 0.0):
                raise ConfigError(f"{self.name} rate effective {day}: expected a finite number >= 0, was {rate!r}")

    def rate_on(self, day: dt.date) -> float:
        """The rate in force on ``day``."""
        return self.entries[_index_on(self.name, [e[0] for e in self.entries], day)][1]


@dataclass(frozen=True, kw_only=True, slots=True)
class TafSchedule:
    """The FINRA Trading Activity Fee: (effective date, dollars per share sold, cap per trade)."""

    name: str
    entries: tuple[tuple[dt.date, float, float], ...]

    def __post_init__(self) -> None:
        _check_dates(self.name, [e[0] for e in self.entries])
        for day, rate, cap in self.entries:
            for what, value in (("rate", rate), ("cap", cap)):
                if not (math.isfinite(value) and value >= 0.0):
                    raise ConfigError(
                        f"{self.name} {what} effective {day}: expected a finite number >= 0, was {value!r}"
                    )

    def on(self, day: dt.date) -> tuple[float, float]:
        """(rate per share, cap per trade) in force on ``day``."""
        _, rate, cap = self.entries[_index_on(self.name, [e[0] for e in self.entries], day)]
        return rate, cap


def _check_dates(name: str, days: list[dt.date]) -> None:
    if not days:
        raise ConfigError(f"{name}: expected at least one (effective date, rate) entry, was none")
    for a, b in itertools.pairwise(days):
        if b <= a:
            raise ConfigError(f"{name}: expected strictly increasing effective dates, was {a} then {b}")


def _index_on(name: str, days: list[dt.date], day: dt.date) -> int:
    i = bisect.bisect_right(days, day) - 1
    if i < 0:
        raise ConfigError(f"{name}: no rate in force on {day}; the table starts {days[0]}: add an earlier entry")
    return i


#: SEC Section 31 fee, dollars per dollar of sales. CONFIGURABLE DEFAULTS, to be checked against the
#: SEC's fee rate advisories (sec.gov, "Section 31 fees") before relying on them; the rate changes
#: once or twice a year and the last row may be out of date.
SEC_FEE_DEFAULT = FeeSchedule(
    name="SEC Section 31 fee",
    entries=(
        (dt.date(2021, 2, 25), 5.10e-6),  # $5.10 per million
        (dt.date(2022, 5, 24), 22.90e-6),  # $22.90 per million (effective date to verify)
        (dt.date(2023, 2, 27), 8.00e-6),  # $8.00 per million
        (dt.date(2024, 5, 22), 27.80e-6),  # $27.80 per million
        (dt.date(2025, 5, 14), 0.0),  # $0.00 per million (FY2025 mid-year adjustment; check FY2026)
    ),
)
#: FINRA Trading Activity Fee on covered equity sales: (effective, dollars per share, cap per trade).
#: CONFIGURABLE DEFAULTS, to be checked against FINRA By-Laws Schedule A, Section 1 (finra.org).
FINRA_TAF_DEFAULT = TafSchedule(
    name="FINRA TAF",
    entries=(
        (dt.date(2021, 1, 1), 0.000119, 5.95),
        (dt.date(2022, 1, 1), 0.000130, 6.49),
        (dt.date(2023, 1, 1), 0.000145, 7.27),
        (dt.date(2024, 1, 1), 0.000166, 8.30),
    ),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class SimConfig:
    """The simulator's fill, latency and cost model (dollars per share unless stated).

    ``latency_ns``: decision → arrival at the broker (default 100 ms; realistic 50–300 ms). ``0``
    only by explicit choice: a request arrives at its decision time, so a decision at a bar's close
    fills at the open of the bar that starts then (the textbook "next bar's open" convention of
    bar backtests and of the reference workload); never below 0. ``half_spread``: added to a last price for marketable
    orders when no quotes are known (default $0.005). ``slippage``: added against every marketable
    fill (default $0.001). ``commission_per_share``: default 0 (commission-free brokers; up to about
    $0.0035 elsewhere). ``max_fill_qty``: shares of one order filled per event at most (None: all).
    ``tick``: the price grid of trailing stops. ``id_prefix``: prefix of broker order ids.
    """

    latency_ns: int = DEFAULT_LATENCY_NS
    half_spread: float = 0.005
    slippage: float = 0.001
    commission_per_share: float = 0.0
    sec_fee: FeeSchedule = SEC_FEE_DEFAULT
    finra_taf: TafSchedule = FINRA_TAF_DEFAULT
    max_fill_qty: float | None = None
    tick: float = 0.01
    id_prefix: str = "sim"

    def __post_init__(self) -> None:
        if isinstance(self.latency_ns, bool) or not isinstance(self.latency_ns, int):
            raise ConfigError(f"latency_ns: expected integer nanoseconds, was {self.latency_ns!r}")
        if not 0 <= self.latency_ns <= MAX_LATENCY_NS:
            raise ConfigError(f"latency_ns: expected 0 <= latency <= {MAX_LATENCY_NS} ns, was {self.latency_ns}")
        for name in ("half_spread", "slippage", "commission_per_share"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ConfigError(f"{name}: expected a finite number >= 0 (dollars per share), was {value!r}")
        if self.max_fill_qty is not None and not (math.isfinite(self.max_fill_qty) and self.max_fill_qty > 0.0):
            raise ConfigError(f"max_fill_qty: expected None or a finite number > 0, was {self.max_fill_qty!r}")
        if not (math.isfinite(self.tick) and self.tick > 0.0):
            raise ConfigError(f"tick: expected a finite number > 0, was {self.tick!r}")
        if not self.id_prefix:
            raise ConfigError("id_prefix: expected a non-empty string, was ''")


def xnys_close_after(ts_ns: int) -> int:
    """The close of the XNYS session in progress at ``ts_ns``, else of the next one (UTC ns)."""
    from scalper.marketdata.calendar import session_table

    closes = session_table()[:, 1]
    i = int(np.searchsorted(closes, ts_ns, side="right"))
    if i >= len(closes):
        raise ConfigError(f"session close: the XNYS calendar has no session after {ts_ns}")
    return int(closes[i])


@dataclass(frozen=True, slots=True)
class _Tick:
    """What one event offers: executable prices before slippage and the traded range.

    ``ts`` is the price time (the event's ``ts_event``): an order is usable by the tick when it
    was active at or before it.
    """

    ts: int
    buy_px: float | None  # a marketable buy fills here (ask, or first price + half-spread)
    sell_px: float | None
    first: float | None  # the event's first price (trade, bar open, quote midpoint)
    low: float | None  # the range that triggers stops
    high: float | None
    buy_through: float | None  # a resting buy limit above this fills at its limit
    sell_through: float | None
    is_quote: bool = False


@dataclass(slots=True)
class _Working:
    """The simulator's state of one order."""

    seq: int
    order: Order
    broker_order_id: str
    parent: str | None = None
    active_since: int | None = None  # price time from which events may fill it (None: not active)
    evaluated: bool = False
    triggered: bool = False
    trail_best: float | None = None
    trail_stop: float | None = None
    fills: int = 0

    @property
    def request(self) -> OrderRequest:
        return self.order.request


#: how fine an event's prices are: fills use a symbol's finest data only
_RESOLUTION: dict[type, int] = {Trade: 0, Quote: 0, SecondAgg: 1, MinuteAgg: 2}

TimerKind = Literal["arrive", "cancel", "replace", "expire"]


@dataclass(order=True, frozen=True, slots=True)
class _Timer:
    ts: int
    n: int
    kind: TimerKind = field(compare=False)
    cid: str = field(compare=False)
    other: str | None = field(default=None, compare=False)


class SimBroker:
    """A broker simulated from market events (implements :class:`~scalper.brokers.port.Broker`).

    Feed it every market event of the traded symbols in time order with :meth:`on_event` (and call
    :meth:`advance_to` to let time pass without events, e.g. past the close). Updates go to the
    listeners registered with :meth:`subscribe` as they happen, and are kept in :attr:`updates`.
    ``session_close`` maps an arrival time to the close at which its day orders expire (default: the
    XNYS calendar).
    """

    supports_replace = True

    def __init__(
        self,
        clock: Clock,
        config: SimConfig | None = None,
        *,
        session_close: Callable[[int], int] | None = None,
    ) -> None:
        self._clock = clock
        self._config = config or SimConfig()
        self._session_close = session_close or xnys_close_after
        self._orders: dict[str, _Working] = {}
        self._children: dict[str, list[str]] = {}
        self._timers: list[_Timer] = []
        self._timer_n = 0
        self._now = -1
        self._quoted: set[str] = set()
        self._open: dict[str, dict[str, _Working]] = {}  # symbol → its open orders, by submission
        self._finest: dict[str, int] = {}  # symbol → finest resolution seen (0 tick, 1 second, 2 minute)
        self._last_used: dict[str, int] = {}  # symbol → price time of the last event used for fills
        #: events not used for fills because an event of the same symbol stamped later was already used
        self.late_events = 0
        self._listeners: list[UpdateListener] = []
        self._updates: list[BrokerUpdate] = []
        self._positions: dict[str, Position] = {}

    # --- the port -------------------------------------------------------------------------------

    @property
    def config(self) -> SimConfig:
        return self._config

    @property
    def updates(self) -> list[BrokerUpdate]:
        """Every update emitted so far, in order (a copy)."""
        return list(self._updates)

    def subscribe(self, listener: UpdateListener) -> None:
        self._listeners.append(listener)

    def submit(self, request: OrderRequest) -> None:
        """Send ``request``: ``accepted`` at clock time + latency, fills on the events after that."""
        self._check_new(request.client_order_id)
        sent = self._sent_at(request)
        self._register(request, parent=None)
        self._push(sent + self._config.latency_ns, "arrive", request.client_order_id)

    def submit_bracket(self, bracket: BracketRequest) -> None:
        """Send entry, stop and target together; all three arrive (and are accepted) together."""
        for leg in bracket.legs:
            self._check_new(leg.client_order_id)
        sent = max(self._sent_at(leg) for leg in bracket.legs)
        entry = bracket.entry.client_order_id
        self._register(bracket.entry, parent=None)
        self._register(bracket.stop, parent=entry)
        self._register(bracket.target, parent=entry)
        self._children[entry] = [bracket.stop.client_order_id, bracket.target.client_order_id]
        for leg in bracket.legs:
            self._push(sent + self._config.latency_ns, "arrive", leg.client_order_id)

    def cancel(self, client_order_id: str) -> None:
        """Ask to cancel: effective at clock time + latency unless the order is terminal by then."""
        self._known(client_order_id)
        self._push(self._clock_now() + self._config.latency_ns, "cancel", client_order_id)

    def replace(self, client_order_id: str, request: OrderRequest) -> None:
        """Replace an unfilled open order by ``request`` (new client id; same symbol, side, leg, parent).

        At arrival the old order is ``cancelled`` and the new one ``accepted``; if the old one has
        filled (even partly) or ended by then, the new one is ``rejected`` and the old one stays.
        A bracket's entry cannot be replaced (cancel it and send a new bracket).
        """
        old = self._known(client_order_id)
        self._check_new(request.client_order_id)
        if client_order_id in self._children:
            raise BrokerError(f"replace {client_order_id}: a bracket's entry cannot be replaced; cancel and resubmit")
        theirs, ours = old.request, request
        for name in ("symbol", "side", "leg", "parent_id"):
            if getattr(ours, name) != getattr(theirs, name):
                raise BrokerError(
                    f"replace {client_order_id} by {request.client_order_id}: {name} expected "
                    f"{getattr(theirs, name)!r}, was {getattr(ours, name)!r}"
                )
        sent = self._sent_at(request)
        self._register(request, parent=old.parent)
        self._push(sent + self._config.latency_ns, "replace", client_order_id, request.client_order_id)

    def open_orders(self) -> list[Order]:
        return [w.order for w in self._orders.values() if w.order.is_open]

    def positions(self) -> dict[str, Position]:
        return dict(self._positions)

    def restore(self, orders: Iterable[Order], fills: Iterable[Fill]) -> int:
        """Take over the orders and fills of an earlier process (paper trading after a restart: the
        simulated account is the run's stored book). Every order is registered as it was; the
        open ones work again from the clock's time (bracket exits once their entry has filled),
        day orders expiring at the close of the session they were sent in (at once when it has
        passed); orders never acknowledged (``new``: the process stopped within the latency)
        arrive at the clock's time. Positions come from the fills. Only into a
        broker that has no order yet. Returns the number of open orders taken over."""
        if self._orders:
            raise InvariantError("sim broker restore: expected a broker without orders, it has some")
        now = self._clock_now()
        counts: dict[str, int] = {}
        for fill in sorted(fills, key=lambda f: (f.ts, f.fill_id)):
            counts[fill.client_order_id] = counts.get(fill.client_order_id, 0) + 1
            current = self._positions.get(fill.symbol) or Position(symbol=fill.symbol)
            self._positions[fill.symbol] = position_math.apply_fill(current, fill)
        restored = sorted(orders, key=lambda o: (o.request.ts_created, o.request.client_order_id))
        for order in restored:
            cid, parent = order.request.client_order_id, order.request.parent_id
            seq = len(self._orders)
            broker_id = order.broker_order_id or f"{self._config.id_prefix}-{seq}"
            w = _Working(seq=seq, order=order, broker_order_id=broker_id, parent=parent, fills=counts.get(cid, 0))
            self._orders[cid] = w
            if order.is_open:
                self._open.setdefault(order.request.symbol, {})[cid] = w
            if parent is not None:
                self._children.setdefault(parent, []).append(cid)
        missing = sorted(p for p in self._children if p not in self._orders)
        if missing:
            raise InvariantError(f"sim broker restore: bracket exits without their entry: {', '.join(missing)}")
        taken = 0
        for w in self._orders.values():
            if not w.order.is_open:
                continue
            taken += 1
            cid = w.request.client_order_id
            if w.order.status is OrderStatus.NEW:  # sent, never acknowledged: it arrives now
                self._push(now, "arrive", cid)
                continue
            w.evaluated = True
            if w.parent is None or self._orders[w.parent].order.filled_qty > 0.0:
                w.active_since = now
            if w.request.time_in_force is TimeInForce.DAY:  # the close of the session it arrived in
                self._push(self._session_close(w.request.ts_created), "expire", cid)
        return taken

    # --- queries for tests and reports --------------------------------------------------------------

    def order(self, client_order_id: str) -> Order:
        """The simulator's view of one order."""
        return self._known(client_order_id).order

    def trailing_stop(self, client_order_id: str) -> float | None:
        """The current stop price of a trailing stop (None before its first event)."""
        return self._known(client_order_id).trail_stop

    def arrival_ns(self, sent_ns: int) -> int:
        """When a request sent at ``sent_ns`` arrives."""
        return sent_ns + self._config.latency_ns

    def next_timer(self) -> int | None:
        """The time of the next pending arrival, cancel, replacement or expiry (None: none). Any event
        stamped at or after it makes it happen."""
        return self._timers[0].ts if self._timers else None

    def watch(self, symbol: str) -> tuple[int | None, float, float]:
        """Which events of ``symbol`` can change an order, beyond :meth:`next_timer`: ``(t, low, high)``
        — an event stamped at or after ``t`` (None: no such time), or one whose low is at or below
        ``low`` or whose high is at or above ``high``. Any other event of the symbol only moves the
        broker's time (what lets a compiled loop skip it). Conservative: an order on its first
        event, triggered, trailing, market or partly filled makes every event from its activation
        count."""
        t: int | None = None
        low, high = -math.inf, math.inf
        for w in self._open.get(symbol, {}).values():
            if not w.order.is_open or w.active_since is None:
                continue  # arrives by a timer, or a bracket exit waiting for its entry's fill (an order event)
            req = w.request
            kind = req.order_type
            if (
                not w.evaluated
                or w.triggered
                or w.order.filled_qty > 0.0
                or kind in (OrderType.MARKET, OrderType.TRAILING_STOP)
            ):
                t = w.active_since if t is None else min(t, w.active_since)
                continue
            buy = req.side is Side.BUY
            price = req.limit_price if kind is OrderType.LIMIT else req.stop_price
            assert price is not None
            if (kind is OrderType.LIMIT) == buy:  # a buy limit or a sell stop: reached from above
                low = max(low, price)
            else:  # a sell limit or a buy stop: reached from below
                high = min(high, price)
        return t, low, high

    # --- driving ------------------------------------------------------------------------------------

    def advance_to(self, ts_ns: int) -> None:
        """Let time pass to ``ts_ns``: arrivals, cancels, replacements and expiries due by then happen.
        An earlier time than the broker's changes nothing."""
        self._run_timers(ts_ns)
        self._now = max(self._now, ts_ns)

    def on_event(self, event: MarketEvent) -> None:
        """Process one market event, in delivery order (see the module docstring).

        Timers due at or before the event's price time run first; then, if the event is the
        finest data of its symbol and not late, every working order of the symbol that was active
        at the event's price time is evaluated in submission order. Index values (not tradable)
        only move time; option events are treated like any symbol's.
        """
        ts = event.ts_event
        self.advance_to(ts)
        symbol = event.symbol
        rank = _RESOLUTION.get(type(event))
        if rank is None:
            return
        finest = self._finest.get(symbol, rank)
        if rank > finest:
            return  # coarser than what this symbol is filled from: the same prices, counted once
        self._finest[symbol] = rank
        if ts < self._last_used.get(symbol, ts):
            self.late_events += 1
            return
        self._last_used[symbol] = ts
        if isinstance(event, Quote):
            self._quoted.add(symbol)
        tick = self._tick(event)
        if tick is None:
            return
        working = [w for w in self._open.get(symbol, {}).values() if self._usable(w, ts)]
        for w in working:
            if self._usable(w, ts):
                self._evaluate(w, tick)

    # --- internals: requests ------------------------------------------------------------------------

    def _clock_now(self) -> int:
        now = self._clock.now_ns()
        if now < self._now:
            raise InvariantError(f"sim broker clock: expected >= the last event processed {self._now}, was {now}")
        return now

    def _sent_at(self, request: OrderRequest) -> int:
        now = self._clock_now()
        if request.ts_created > now:
            raise InvariantError(
                f"order {request.client_order_id} ts_created: expected <= the clock's {now}, was {request.ts_created}"
            )
        return now

    def _check_new(self, cid: str) -> None:
        if cid in self._orders:
            raise BrokerError(f"order {cid}: client order id already used")

    def _known(self, cid: str) -> _Working:
        w = self._orders.get(cid)
        if w is None:
            raise BrokerError(f"order {cid}: unknown client order id")
        return w

    def _register(self, request: OrderRequest, parent: str | None) -> None:
        seq = len(self._orders)
        order = Order(request=request, status=OrderStatus.NEW, ts_updated=request.ts_created)
        w = _Working(seq=seq, order=order, broker_order_id=f"{self._config.id_prefix}-{seq}", parent=parent)
        self._orders[request.client_order_id] = w
        self._open.setdefault(request.symbol, {})[request.client_order_id] = w

    def _push(self, ts: int, kind: TimerKind, cid: str, other: str | None = None) -> None:
        heapq.heappush(self._timers, _Timer(ts, self._timer_n, kind, cid, other))
        self._timer_n += 1

    @staticmethod
    def _usable(w: _Working, price_ts: int) -> bool:
        return w.order.is_open and w.active_since is not None and w.active_since <= price_ts

    def _run_timers(self, until: int) -> None:
        while self._timers and self._timers[0].ts <= until:
            timer = heapq.heappop(self._timers)
            self._now = max(self._now, timer.ts)
            w = self._orders[timer.cid]
            if timer.kind == "arrive":
                self._arrive(w, timer.ts)
            elif timer.kind == "cancel":
                if w.order.is_open:
                    self._end(w, OrderStatus.CANCELLED, timer.ts, "cancelled on request")
            elif timer.kind == "expire":
                if w.order.is_open:
                    self._end(w, OrderStatus.EXPIRED, timer.ts, "day order expired at the close")
            else:
                assert timer.other is not None
                self._replace(w, self._orders[timer.other], timer.ts)

    def _arrive(self, w: _Working, ts: int) -> None:
        if not w.order.is_open:
            return  # e.g. a bracket child cancelled with its entry before arriving
        self._emit(
            StatusUpdate(
                client_order_id=w.request.client_order_id,
                status=OrderStatus.ACCEPTED,
                ts=ts,
                broker_order_id=w.broker_order_id,
            )
        )
        if w.parent is None or self._orders[w.parent].order.filled_qty > 0.0:
            w.active_since = ts
        if w.request.time_in_force is TimeInForce.DAY:
            self._push(self._session_close(ts), "expire", w.request.client_order_id)

    def _replace(self, old: _Working, new: _Working, ts: int) -> None:
        cid, new_cid = old.request.client_order_id, new.request.client_order_id
        if not old.order.is_open or old.order.filled_qty > 0.0:
            why = f"order {cid} is {old.order.status}" if not old.order.is_open else f"order {cid} has fills"
            self._emit(
                StatusUpdate(
                    client_order_id=new_cid,
                    status=OrderStatus.REJECTED,
                    ts=ts,
                    broker_order_id=new.broker_order_id,
                    reason=f"cannot replace: {why}",
                )
            )
            return
        if old.parent is not None:
            siblings = self._children[old.parent]
            siblings[siblings.index(cid)] = new_cid
        self._emit(
            StatusUpdate(client_order_id=cid, status=OrderStatus.CANCELLED, ts=ts, reason=f"replaced by {new_cid}")
        )
        self._arrive(new, ts)

    # --- internals: events --------------------------------------------------------------------------

    def _tick(self, event: MarketEvent) -> _Tick | None:
        hs = self._config.half_spread
        quoted = event.symbol in self._quoted
        if isinstance(event, Quote):
            ask = event.ask if event.ask > 0.0 else None
            bid = event.bid if event.bid > 0.0 else None
            mid = event.mid if ask is not None and bid is not None else None
            return _Tick(event.ts_event, ask, bid, mid, mid, mid, ask, bid, is_quote=True)
        if isinstance(event, Trade):
            p = event.price
            buy, sell = (None, None) if quoted else (p + hs, p - hs)
            return _Tick(event.ts_event, buy, sell, p, p, p, p, p)
        if isinstance(event, SecondAgg | MinuteAgg):
            o = event.open
            buy, sell = (None, None) if quoted else (o + hs, o - hs)
            return _Tick(event.ts_event, buy, sell, o, event.low, event.high, event.low, event.high)
        return None

    def _available(self, w: _Working) -> float:
        remaining = w.order.remaining_qty
        if w.parent is None:
            return remaining
        exits = sum(self._orders[c].order.filled_qty for c in self._children[w.parent])
        return max(0.0, min(remaining, self._orders[w.parent].order.filled_qty - exits))

    def _evaluate(self, w: _Working, tick: _Tick) -> None:
        req = w.request
        first = not w.evaluated
        w.evaluated = True
        qty = self._available(w)
        if qty <= qty_tolerance(req.qty):
            return
        if self._config.max_fill_qty is not None:
            qty = min(qty, self._config.max_fill_qty)
        price = self._price(w, tick, first)
        tif = req.time_in_force
        if tif is TimeInForce.FOK and first and (price is None or qty < w.order.remaining_qty - qty_tolerance(req.qty)):
            self._end(w, OrderStatus.CANCELLED, self._now, "fill or kill: not completely fillable on arrival")
            return
        if price is not None:
            self._fill(w, qty, price, self._now)
        if tif in (TimeInForce.IOC, TimeInForce.FOK) and first and w.order.is_open:
            self._end(w, OrderStatus.CANCELLED, self._now, f"{tif}: rest cancelled after the first price on arrival")

    def _price(self, w: _Working, tick: _Tick, first: bool) -> float | None:
        """This event's fill price for ``w`` (None: no fill now); triggers and trails on the way."""
        req, slip = w.request, self._config.slippage
        buy = req.side is Side.BUY
        kind = req.order_type
        if kind is OrderType.MARKET:
            return self._marketable(buy, tick)
        if kind is OrderType.LIMIT:
            assert req.limit_price is not None
            return self._limit(buy, req.limit_price, tick, marketable=first)
        if not w.triggered:
            stop = self._stop_price(w, tick)
            if stop is None:
                return None
            hit = tick.high is not None and tick.high >= stop if buy else tick.low is not None and tick.low <= stop
            if not hit:
                if kind is OrderType.TRAILING_STOP:
                    self._trail(w, tick)
                return None
            w.triggered = True
            base = self._triggered_base(buy, stop, tick)
            if kind is OrderType.STOP_LIMIT:
                assert req.limit_price is not None
                if base is None or (base > req.limit_price if buy else base < req.limit_price):
                    return None  # rests as a limit from the next event
                return min(base + slip, req.limit_price) if buy else max(base - slip, req.limit_price)
            return None if base is None else (base + slip if buy else base - slip)
        if kind is OrderType.STOP_LIMIT:
            assert req.limit_price is not None
            return self._limit(buy, req.limit_price, tick, marketable=False)
        return self._marketable(buy, tick)

    def _marketable(self, buy: bool, tick: _Tick) -> float | None:
        slip = self._config.slippage
        if buy:
            return None if tick.buy_px is None else tick.buy_px + slip
        return None if tick.sell_px is None or tick.sell_px - slip <= 0.0 else tick.sell_px - slip

    def _limit(self, buy: bool, limit: float, tick: _Tick, *, marketable: bool) -> float | None:
        """A limit order's fill on ``tick``: taking liquidity when ``marketable`` (its first event)
        and the executable price is at or better than the limit; else resting, at the limit once the
        market trades through it."""
        slip = self._config.slippage
        if buy:
            if marketable and tick.buy_px is not None and tick.buy_px <= limit:
                return min(tick.buy_px + slip, limit)
            if tick.buy_through is not None and tick.buy_through < limit:
                return limit
            return None
        if marketable and tick.sell_px is not None and tick.sell_px >= limit:
            return max(tick.sell_px - slip, limit)
        if tick.sell_through is not None and tick.sell_through > limit:
            return limit
        return None

    def _triggered_base(self, buy: bool, stop: float, tick: _Tick) -> float | None:
        """Executable price (before slippage) of a stop triggered on ``tick``."""
        if tick.buy_px is None and tick.sell_px is None:
            return None  # quotes known but this is a trade/bar: the next quote fills it
        hs = self._config.half_spread
        if tick.is_quote:
            return tick.buy_px if buy else tick.sell_px
        if tick.first is None:
            return None
        if buy:
            return max(stop, tick.first) + hs
        return min(stop, tick.first) - hs

    def _stop_price(self, w: _Working, tick: _Tick) -> float | None:
        req = w.request
        if req.order_type is not OrderType.TRAILING_STOP:
            return req.stop_price
        if w.trail_stop is None:
            if tick.first is None:
                return None
            w.trail_best = tick.first
            self._tighten(w)
        return w.trail_stop

    def _trail(self, w: _Working, tick: _Tick) -> None:
        if w.trail_best is None:
            return
        if w.request.side is Side.SELL and tick.high is not None:
            w.trail_best = max(w.trail_best, tick.high)
        elif w.request.side is Side.BUY and tick.low is not None:
            w.trail_best = min(w.trail_best, tick.low)
        self._tighten(w)

    def _tighten(self, w: _Working) -> None:
        trail, best = w.request.trail_amount, w.trail_best
        assert trail is not None and best is not None
        sell = w.request.side is Side.SELL
        candidate = best - trail if sell else best + trail
        if candidate <= 0.0:
            return
        rounded = round_to_tick(candidate, self._config.tick, "down" if sell else "up")
        current = w.trail_stop
        if current is None or (rounded > current if sell else rounded < current):
            w.trail_stop = rounded

    # --- internals: updates -------------------------------------------------------------------------

    def _fill(self, w: _Working, qty: float, price: float, ts: int) -> None:
        req, cfg = w.request, self._config
        if w.order.remaining_qty - qty <= qty_tolerance(req.qty):
            qty = w.order.remaining_qty
        commission = qty * cfg.commission_per_share
        fees = 0.0
        if req.side is Side.SELL:
            day = ns_to_datetime(ts).astimezone(NEW_YORK).date()
            rate, cap = cfg.finra_taf.on(day)
            fees = price * qty * cfg.sec_fee.rate_on(day) + min(qty * rate, cap)
        fill = Fill(
            fill_id=f"{w.broker_order_id}-{w.fills}",
            client_order_id=req.client_order_id,
            ts=ts,
            symbol=req.symbol,
            side=req.side,
            qty=qty,
            price=price,
            commission=commission,
            fees=fees,
        )
        w.fills += 1
        self._emit(fill)
        cid = req.client_order_id
        if cid in self._children:
            for child in self._children[cid]:
                c = self._orders[child]
                if c.order.status is not OrderStatus.NEW and c.active_since is None:
                    c.active_since = ts + 1  # from the events after the entry's fill
        if w.parent is not None:
            if w.order.status is OrderStatus.FILLED:
                for sibling in self._children[w.parent]:
                    s = self._orders[sibling]
                    if sibling != cid and s.order.is_open:
                        self._end(s, OrderStatus.CANCELLED, ts, f"one-cancels-other: {cid} filled")
            self._settle_bracket(w.parent, ts)

    def _end(self, w: _Working, status: OrderStatus, ts: int, reason: str) -> None:
        cid = w.request.client_order_id
        self._emit(StatusUpdate(client_order_id=cid, status=status, ts=ts, reason=reason))
        if cid in self._children:
            self._settle_bracket(cid, ts)

    def _settle_bracket(self, entry_cid: str, ts: int) -> None:
        """Cancel a bracket's open exits once its entry has ended and nothing is left to exit."""
        entry = self._orders[entry_cid].order
        if entry.is_open:
            return
        exits = [self._orders[c] for c in self._children[entry_cid]]
        exited = sum(c.order.filled_qty for c in exits)
        if entry.filled_qty - exited > qty_tolerance(entry.qty):
            return
        reason = (
            f"entry {entry_cid} {entry.status} without a fill"
            if entry.filled_qty == 0.0
            else f"entry {entry_cid} ended and its filled quantity is exited"
        )
        for c in exits:
            if c.order.is_open:
                self._emit(
                    StatusUpdate(
                        client_order_id=c.request.client_order_id, status=OrderStatus.CANCELLED, ts=ts, reason=reason
                    )
                )

    def _emit(self, update: BrokerUpdate) -> None:
        w = self._orders[update.client_order_id]
        if isinstance(update, Fill):
            w.order = state.apply_fill(w.order, update)
            current = self._positions.get(update.symbol) or Position(symbol=update.symbol)
            self._positions[update.symbol] = position_math.apply_fill(current, update)
        else:
            changed = state.apply_status(w.order, update)
            if changed is not None:
                w.order = changed
        if not w.order.is_open:
            self._open.get(w.request.symbol, {}).pop(w.request.client_order_id, None)
        self._updates.append(update)
        for listener in self._listeners:
            listener(update)
