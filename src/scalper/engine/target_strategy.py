"""Target-position strategies on one symbol's bars: a compiled scan, orders through the OMS and the
simulated broker.

A *target strategy* is a numba kernel (:data:`Scan`) that walks bars and says, at a bar's close,
which position it wants. :func:`run_target_strategy` is the event loop around it:

* the kernel runs over the bars in compiled code and returns at the first bar whose close gives a
  target different from the position (or at the end of the span it was given);
* each such decision becomes one market order for the difference, with a client id from
  :func:`~scalper.oms.client_order_id`, recorded in an :class:`~scalper.oms.OrderBook` (``new``)
  and submitted to the :class:`~scalper.brokers.sim.SimBroker` at the decision time (the bar's end,
  on a :class:`~scalper.core.clock.ReplayClock`);
* while an order is working, every bar goes to the broker first (it fills from the bar's prices:
  a market order at the open of the first bar starting at or after its arrival), the book applies
  the broker's updates, the position follows the fills, and only then does the kernel see that
  bar's close. A bar with no order working only concerns the kernel: the broker is not handed it
  (with nothing open it would only move its time), which is what makes the loop fast;
* PnL is the book's: realised PnL of the fills (costs included) plus the open position marked at
  the last close.

Bars arrive in time order and are the finest data of the symbol (the broker fills from them). The
decision time of bar ``i`` is ``ts[i] + bar_ns``. A decision on the last bar is sent and stays
working: no bar is left to fill it.

This is the engine of single-symbol research strategies and of the reference workload
(``scalper bench reference``); the plays run through :class:`~scalper.engine.trader.Trader`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from scalper.brokers.sim import SimBroker, SimConfig
from scalper.core.clock import ReplayClock
from scalper.core.errors import InvariantError
from scalper.core.events import MinuteAgg, SecondAgg
from scalper.core.orders import BrokerUpdate, Fill, Leg, OrderRequest, OrderType, Position, Side, TimeInForce
from scalper.oms import OrderBook, client_order_id
from scalper.oms import positions as position_math

NS_PER_S = 1_000_000_000
NS_PER_MIN = 60 * NS_PER_S

#: ``scan(opens, highs, lows, closes, volumes, state, start, stop, position, out) -> int``: update the
#: strategy's ``state`` over bars ``start..stop-1`` and return the first bar whose close gives a
#: target position (written to ``out[0]``) different from ``position``, or ``stop`` when none does.
Scan = Callable[..., int]

BAR_COLUMNS = ("ts_ns", "open", "high", "low", "close", "volume")


@dataclass(frozen=True, slots=True)
class TargetRun:
    """What a run did: the book (every order and fill), the final position, the PnL."""

    symbol: str
    bars: int
    decisions: int
    book: OrderBook
    fills: list[Fill]
    position: Position
    last_close: float

    @property
    def units(self) -> float:
        """Quantity traded (the sum of the fills' quantities)."""
        return float(sum(f.qty for f in self.fills))

    @property
    def pnl(self) -> float:
        """Realised PnL (costs included) + the open position marked at the last close."""
        p = self.position
        return p.realised_pnl + p.qty * (self.last_close - p.avg_price)


def run_target_strategy(
    bars: Mapping[str, NDArray[np.generic]],
    scan: Scan,
    state: NDArray[np.float64],
    *,
    symbol: str,
    config: SimConfig,
    bar_ns: int = NS_PER_S,
    namespace: str = "",
) -> TargetRun:
    """Run ``scan`` over ``bars`` (columns :data:`BAR_COLUMNS`, bar start times in UTC ns) with the
    simulated broker configured by ``config``; ``state`` is the kernel's, updated in place.

    ``bar_ns`` is one second (bars handed to the broker as one-second aggregates) or one minute
    (minute aggregates). Orders are good-till-cancelled market orders (the strategy's target holds
    across sessions). Raises :class:`InvariantError` for missing or unequal columns, bars out of
    time order or another bar length.
    """
    if bar_ns not in (NS_PER_S, NS_PER_MIN):
        raise InvariantError(f"target strategy bar_ns: expected {NS_PER_S} or {NS_PER_MIN}, was {bar_ns}")
    missing = [c for c in BAR_COLUMNS if c not in bars]
    if missing:
        raise InvariantError(f"target strategy bars: missing columns {', '.join(missing)}")
    ts = np.ascontiguousarray(bars["ts_ns"], dtype=np.int64)
    cols = [np.ascontiguousarray(bars[c], dtype=np.float64) for c in BAR_COLUMNS[1:]]
    n = len(ts)
    if any(len(c) != n for c in cols):
        raise InvariantError("target strategy bars: columns of unequal length")
    if n == 0:
        raise InvariantError("target strategy bars: no bars")
    if n > 1 and not bool(np.all(np.diff(ts) > 0)):
        raise InvariantError("target strategy bars: expected strictly increasing bar times")
    opens, highs, lows, closes, volumes = cols

    clock = ReplayClock(int(ts[0]))
    broker = SimBroker(clock, config)
    book = OrderBook()
    fills: list[Fill] = []
    working: set[str] = set()
    position = Position(symbol=symbol)

    def on_update(update: BrokerUpdate) -> None:
        nonlocal position
        book.apply(update)
        cid = update.client_order_id
        if isinstance(update, Fill):
            fills.append(update)
            position = position_math.apply_fill(position, update)
        if not book.order(cid).is_open:
            working.discard(cid)

    broker.subscribe(on_update)
    out = np.zeros(1, dtype=np.float64)
    decisions = 0
    i = 0
    while i < n:
        if working:  # an order works: this bar goes to the broker before the strategy sees its close
            broker.on_event(_bar(symbol, ts, opens, highs, lows, closes, volumes, i, bar_ns))
            stop = i + 1
        else:
            stop = n
        j = int(scan(opens, highs, lows, closes, volumes, state, i, stop, position.qty, out))
        if j >= stop:
            i = stop
            continue
        decisions += 1
        decided = int(ts[j]) + bar_ns
        clock.advance_to(decided)
        cid = _send(broker, book, symbol, float(out[0]) - position.qty, decided, closes[j], namespace)
        working.add(cid)
        i = j + 1
    return TargetRun(
        symbol=symbol,
        bars=n,
        decisions=decisions,
        book=book,
        fills=fills,
        position=position,
        last_close=float(closes[-1]),
    )


def _send(broker: SimBroker, book: OrderBook, symbol: str, qty: float, ts: int, price: float, namespace: str) -> str:
    if qty == 0.0:
        raise InvariantError(f"target strategy: a decision at {ts} without a change of position")
    signal_id = f"{symbol}-{ts}"
    request = OrderRequest(
        client_order_id=client_order_id(signal_id, Leg.ENTRY, namespace=namespace),
        signal_id=signal_id,
        leg=Leg.ENTRY,
        symbol=symbol,
        side=Side.BUY if qty > 0 else Side.SELL,
        order_type=OrderType.MARKET,
        qty=abs(qty),
        ts_created=ts,
        time_in_force=TimeInForce.GTC,
        decision_price=float(price),
    )
    book.submit(request)
    broker.submit(request)
    return request.client_order_id


def _bar(
    symbol: str,
    ts: NDArray[np.int64],
    opens: NDArray[np.float64],
    highs: NDArray[np.float64],
    lows: NDArray[np.float64],
    closes: NDArray[np.float64],
    volumes: NDArray[np.float64],
    i: int,
    bar_ns: int,
) -> SecondAgg | MinuteAgg:
    start = int(ts[i])
    kind = SecondAgg if bar_ns == NS_PER_S else MinuteAgg
    return kind(
        symbol=symbol,
        ts_event=start,
        ts_end=start + bar_ns,
        open=float(opens[i]),
        high=float(highs[i]),
        low=float(lows[i]),
        close=float(closes[i]),
        volume=float(volumes[i]),
    )
