"""Round trips: the trades of a run, from its orders and fills (pure).

A round trip is one signal's trade: the entry fills open it, the exit fills (stop, target, exit,
flatten) close it. Only closed round trips (net zero) are returned; a trade still open at the end
is left out and counted by the caller. Prices are volume-weighted over the fills; ``pnl`` is net of
every commission and fee; ``slippage`` is per share against the decision price the engine stored
with the entry order (positive = paid: bought above / sold below it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scalper.core.errors import DataError
from scalper.core.orders import Fill, Leg, Order
from scalper.core.timeutil import NEW_YORK, ns_to_datetime

NS_PER_S = 1_000_000_000


@dataclass(frozen=True, kw_only=True, slots=True)
class RoundTrip:
    """One closed trade."""

    signal_id: str
    play: str
    symbol: str
    direction: int  # +1 long, -1 short
    shares: float
    entry_ts: int
    exit_ts: int
    entry_price: float
    exit_price: float
    pnl: float  # dollars, net of costs
    costs: float
    slippage: float | None  # dollars per share against the decision price (None without one)
    exit_leg: Leg

    @property
    def day(self) -> dt.date:
        """The New York date of the entry."""
        return ns_to_datetime(self.entry_ts).astimezone(NEW_YORK).date()

    @property
    def holding_s(self) -> float:
        return (self.exit_ts - self.entry_ts) / NS_PER_S

    @property
    def gross(self) -> float:
        """PnL before costs."""
        return self.pnl + self.costs


def _vwap(fills: list[Fill]) -> float:
    qty = sum(f.qty for f in fills)
    return sum(f.qty * f.price for f in fills) / qty


def round_trips(orders: Iterable[Order], fills: Iterable[Fill]) -> tuple[list[RoundTrip], int]:
    """The closed round trips of a run, by entry time, and the number of trades still open.

    Orders are grouped by ``signal_id`` (``{play}-{ts}``); orders without a signal are ignored.
    """
    by_signal: dict[str, list[Order]] = {}
    for order in orders:
        if order.request.signal_id is not None:
            by_signal.setdefault(order.request.signal_id, []).append(order)
    fills_of: dict[str, list[Fill]] = {}
    for fill in fills:
        fills_of.setdefault(fill.client_order_id, []).append(fill)
    trips: list[RoundTrip] = []
    still_open = 0
    for signal_id, group in by_signal.items():
        trip = _round_trip(signal_id, group, fills_of)
        if trip is None:
            still_open += int(any(fills_of.get(o.request.client_order_id) for o in group))
        else:
            trips.append(trip)
    trips.sort(key=lambda t: (t.entry_ts, t.signal_id))
    return trips, still_open


def _round_trip(signal_id: str, group: list[Order], fills_of: Mapping[str, list[Fill]]) -> RoundTrip | None:
    entries = [o for o in group if o.request.leg is Leg.ENTRY]
    if len(entries) != 1:
        raise DataError(f"signal {signal_id}: expected one entry order, found {len(entries)}")
    entry = entries[0]
    entry_fills = list(fills_of.get(entry.request.client_order_id, []))
    exits = [o for o in group if o.request.leg is not Leg.ENTRY]
    exit_fills = [f for o in exits for f in fills_of.get(o.request.client_order_id, [])]
    if not entry_fills:
        return None
    net = sum(f.signed_qty for f in entry_fills) + sum(f.signed_qty for f in exit_fills)
    if abs(net) > 1e-9 or not exit_fills:
        return None
    exit_fills.sort(key=lambda f: (f.ts, f.fill_id))
    last = exit_fills[-1]
    leg = next(o.request.leg for o in exits if o.request.client_order_id == last.client_order_id)
    direction = entry.request.side.sign
    shares = sum(f.qty for f in entry_fills)
    entry_price, exit_price = _vwap(entry_fills), _vwap(exit_fills)
    costs = sum(f.costs for f in entry_fills + exit_fills)
    pnl = direction * shares * (exit_price - entry_price) - costs
    decision = entry.request.decision_price
    return RoundTrip(
        signal_id=signal_id,
        play=signal_id.rsplit("-", 1)[0],
        symbol=entry.request.symbol,
        direction=direction,
        shares=shares,
        entry_ts=min(f.ts for f in entry_fills),
        exit_ts=last.ts,
        entry_price=entry_price,
        exit_price=exit_price,
        pnl=pnl,
        costs=costs,
        slippage=None if decision is None else direction * (entry_price - decision),
        exit_leg=leg,
    )
